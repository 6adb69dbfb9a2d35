"""Japanese understanding of residents' texts (intents and entities), deterministic.

from bot.nlu import understand
understand("来週の火曜にソファー2つ出したい").to_contract()
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from bot.nlu.engine import Nlu
from bot.nlu.understanding import ItemMention, Understanding

__all__ = ["ItemMention", "Nlu", "Understanding", "load_nlu", "understand"]

_cache: dict[tuple[Path, Path | None], Nlu] = {}
_lock = threading.Lock()


def load_nlu(flows_dir: Path | str = "flows", dictionaries_dir: Path | str | None = None) -> Nlu:
    """The Nlu for a flows directory (and its dictionaries: default beside it), built once
    per path and again when one of the files it reads changed (staff edited the FAQ, the
    catalogue or the rules)."""
    path = Path(flows_dir).resolve()
    words = Path(dictionaries_dir).resolve() if dictionaries_dir is not None else None
    with _lock:
        nlu = _cache.get((path, words))
        if nlu is None or nlu.stale():
            nlu = _cache[path, words] = Nlu(path, words)
        return nlu


def refreshed(nlu: object) -> object:
    """`nlu` itself, or a new Nlu when the files it was built from changed."""
    if isinstance(nlu, Nlu) and nlu.stale():
        return load_nlu(nlu.flows_dir, nlu.dictionaries_dir)
    return nlu


def understand(text: str, now: datetime | None = None, context: str | None = None) -> Understanding:
    """Understand `text` with the Nlu for ./flows."""
    return load_nlu("flows").understand(text, now, context)
