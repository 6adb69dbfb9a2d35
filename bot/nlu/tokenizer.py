"""Sudachi access: one Dictionary per process (per user dictionary), one Tokenizer per thread."""

from __future__ import annotations

import threading
from pathlib import Path

import sudachipy

# Sudachi refuses input longer than this many UTF-8 bytes.
MAX_INPUT_BYTES = 49149

_dictionaries: dict[str, sudachipy.Dictionary] = {}
_lock = threading.Lock()


def truncate(text: str, limit: int = MAX_INPUT_BYTES) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes, on a character boundary."""
    # surrogatepass: a lone surrogate (an undecodable byte in a command-line argument)
    # is counted, not an error; normalise_input replaces it before Sudachi reads it.
    encoded = text.encode("utf-8", errors="surrogatepass")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def dictionary(user_dic: Path | None) -> sudachipy.Dictionary:
    name = str(user_dic) if user_dic else ""
    with _lock:
        loaded = _dictionaries.get(name)
        if loaded is None:
            config = sudachipy.Config(user=[name]) if user_dic else sudachipy.Config()
            loaded = sudachipy.Dictionary(config=config)
            _dictionaries[name] = loaded
        return loaded


class Tokenizer:
    """Split mode C; a separate sudachipy Tokenizer for each thread that uses it."""

    def __init__(self, user_dic: Path | None) -> None:
        self._dictionary = dictionary(user_dic)
        self._local = threading.local()

    def _tokenizer(self) -> sudachipy.Tokenizer:
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            tokenizer = self._dictionary.tokenizer(sudachipy.SplitMode.C)
            self._local.tokenizer = tokenizer
        return tokenizer

    def tokenize(self, text: str) -> sudachipy.MorphemeList:
        limit = MAX_INPUT_BYTES
        while True:
            try:
                return self._tokenizer().tokenize(truncate(text, limit))
            except sudachipy.errors.SudachiError as error:
                # The input normaliser can lengthen text (e.g. ㍻ → 平成): cut further.
                if "too long" not in str(error) or limit < 1024:
                    raise
                limit = limit * 9 // 10
