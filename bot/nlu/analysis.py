"""Tokenise a text once and expose three aligned views of it.

- `surface`: each token's surface, folded (NFKC, lowercase, hiragana); numerals as
  ASCII digits (十二 → 12, ふたつ → 2つ). Kana-only writing matches term readings here.
- `normal`: each token's Sudachi normalized form, folded (ソファ → そふぁー, 捨て → 捨てる).
- `reading`: each token's reading in hiragana (交ぜ書き: れいぞう庫 → れいぞうこ).

Every view is the concatenation of per-token pieces, so a match in any view maps back
to token positions (`starts`/`ends` hold the character offsets of token boundaries).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import sudachipy

from bot.nlu.textkey import fold, is_kana, key, parse_int

# Readings of kana numerals before the counter つ (ひとつ, ふたつ, ...).
_KANA_NUMBERS = {
    "ひと": 1,
    "ふた": 2,
    "みっ": 3,
    "よっ": 4,
    "いつ": 5,
    "むっ": 6,
    "なな": 7,
    "やっ": 8,
    "ここの": 9,
}


@dataclass(slots=True)
class View:
    text: str
    starts: frozenset[int]
    ends: frozenset[int]
    token_at: list[int]  # character offset -> token index
    spans: list[tuple[int, int]]  # token index -> (start, end) character offsets
    ordered_starts: list[int]


@dataclass(slots=True)
class Analysis:
    surface: View
    normal: View
    reading: View
    pos: list[str] = field(default_factory=list)  # first POS level per token
    count: int = 0
    # Tokens written in katakana (ソファー, ｿﾌｧｰ): Sudachi splits katakana well, so a term
    # may only start or end inside one at a word boundary (`subwords`), never mid-word
    # (レンジ is not in オレンジ, ミラー is not in ミラーレスカメラ).
    katakana: list[bool] = field(default_factory=list)
    # Surface-view offsets of the short-unit (split mode A) boundaries inside katakana
    # compounds: シングル|ベッド, ガス|レンジ.
    subwords: frozenset[int] = frozenset()
    # Tokens that carry no content of their own: particles, auxiliaries, symbols,
    # interjections, adverbs and dependent verbs (して|ください, いい|です).
    light: list[bool] = field(default_factory=list)


def _view(pieces: list[str]) -> View:
    starts: list[int] = []
    ends: list[int] = []
    token_at: list[int] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, piece in enumerate(pieces):
        size = len(piece)
        spans.append((offset, offset + size))
        if size:
            starts.append(offset)
            token_at += [index] * size
            offset += size
            ends.append(offset)
    return View("".join(pieces), frozenset(starts), frozenset(ends), token_at, spans, starts)


def _pos(morpheme, cache: dict[int, tuple[str, ...]]) -> tuple[str, ...]:
    pos_id = morpheme.part_of_speech_id()
    part = cache.get(pos_id)
    if part is None:
        part = cache[pos_id] = tuple(morpheme.part_of_speech())
    return part


@lru_cache(maxsize=65536)
def _piece(text: str, symbols: bool) -> str:
    return key(text, keep_symbols=True) if symbols else "".join(fold(text).split())


@lru_cache(maxsize=65536)
def _pieces(surface: str, normal: str, reading: str) -> tuple[str, str, str]:
    return _piece(surface, False), _piece(normal, True), _piece(reading, False)


LIGHT_POS = frozenset({"助詞", "助動詞", "補助記号", "空白", "感動詞", "接続詞", "副詞"})

_KANJI_COUNT = re.compile(r"^([一二三四五六七八九十]+)(.+)$")


def _katakana(text: str) -> bool:
    return bool(text) and all("\u30a1" <= ch <= "\u30fc" for ch in text)


def _subword_ends(morpheme) -> list[int]:
    """Offsets (in the folded surface) of the short-unit boundaries inside a compound."""
    units = morpheme.split(sudachipy.SplitMode.A)
    if len(units) < 2:
        return []
    ends: list[int] = []
    offset = 0
    for unit in list(units)[:-1]:
        offset += len(_piece(unit.surface(), False))
        ends.append(offset)
    return ends


class _Token(NamedTuple):
    """What analyse() makes of one morpheme, the same wherever it occurs (cached)."""

    surface: str
    normal: str
    reading: str
    pos: str
    light: bool
    katakana: bool
    subword_ends: tuple[int, ...]  # inside a katakana compound (シングル|ベッド)
    kana_numeral: bool  # ひと, ふた…: a count only before つ (read per occurrence)


TOKEN_CACHE_SIZE = 50_000
TokenCache = dict[tuple[Any, ...], _Token]  # (surface, normalized, reading, POS id) -> token


def _token(
    morpheme: Any,
    pos_cache: dict[int, tuple[str, ...]],
    counters: frozenset[str],
) -> _Token:
    part = _pos(morpheme, pos_cache)
    raw = morpheme.surface()
    surface, normal, reading = _pieces(raw, morpheme.normalized_form(), morpheme.reading_form())
    written = unicodedata.normalize("NFKC", raw)
    is_katakana = _katakana(written)
    subword_ends: tuple[int, ...] = ()
    kana_numeral = False
    if part[0] == "補助記号" or part[0] == "空白":
        normal = _piece(surface, True)
        reading = normal
    elif part[1] == "数詞":
        if is_kana(surface):  # よやく → よ|やく: kana count only before つ (ふたつ)
            kana_numeral = True
        else:
            value = parse_int(morpheme.normalized_form())
            if value is not None:
                surface = normal = reading = str(value)
    elif is_katakana:
        if len(surface) >= 4:
            subword_ends = tuple(_subword_ends(morpheme))
    elif counters and part[0] == "名詞" and written and written[0] in "一二三四五六七八九十":
        counted = _KANJI_COUNT.match(written)
        if counted and counted.group(2) in counters:
            value = parse_int(counted.group(1))
            if value is not None:
                surface = normal = reading = f"{value}{counted.group(2)}"
    light = part[0] in LIGHT_POS or part[1] == "非自立可能"
    return _Token(surface, normal, reading, part[0], light, is_katakana, subword_ends, kana_numeral)


def analyse(
    morphemes,
    pos_cache: dict[int, tuple[str, ...]] | None = None,
    counters: frozenset[str] = frozenset(),
    token_cache: TokenCache | None = None,
) -> Analysis:
    """Analyse a sudachipy MorphemeList; `pos_cache` (per dictionary) maps POS ids.

    `counters`: a noun written as a kanji numeral and a counter (三脚, 二棹) is
    read as the count it is (3脚), the way 3脚 and 三 脚 already are.
    `token_cache`: what each distinct morpheme gives (per dictionary and `counters`):
    most of a message's words were seen before, so only their boundaries are new.
    """
    if pos_cache is None:
        pos_cache = {}
    if token_cache is None:
        token_cache = {}
    elif len(token_cache) > TOKEN_CACHE_SIZE:
        token_cache.clear()
    surfaces: list[str] = []
    normals: list[str] = []
    readings: list[str] = []
    pos: list[str] = []
    light: list[bool] = []
    katakana: list[bool] = []
    subwords: list[int] = []
    offset = 0
    items = list(morphemes)
    for index, morpheme in enumerate(items):
        cache_key = (
            morpheme.surface(),
            morpheme.normalized_form(),
            morpheme.reading_form(),
            morpheme.part_of_speech_id(),
        )
        token = token_cache.get(cache_key)
        if token is None:
            token = token_cache[cache_key] = _token(morpheme, pos_cache, counters)
        surface, normal, reading = token.surface, token.normal, token.reading
        if token.kana_numeral:
            value = _kana_number(reading, items, index)
            if value is not None:
                surface = normal = reading = str(value)
        if token.subword_ends:
            subwords += [offset + end for end in token.subword_ends]
        surfaces.append(surface)
        normals.append(normal)
        readings.append(reading)
        pos.append(token.pos)
        light.append(token.light)
        katakana.append(token.katakana)
        offset += len(surface)
    return Analysis(
        _view(surfaces),
        _view(normals),
        _view(readings),
        pos,
        len(items),
        katakana,
        frozenset(subwords),
        light,
    )


def _kana_number(reading: str, items, index: int) -> int | None:
    following = items[index + 1].surface() if index + 1 < len(items) else ""
    if following == "つ":
        return _KANA_NUMBERS.get(reading)
    return None
