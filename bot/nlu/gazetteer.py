"""Find known terms (catalogue words, 町名, intent words...) in an analysed text.

Each term is analysed with the same tokenizer as the resident's text, giving a surface
form, a normalized form and a reading. A term matches when one of its forms occurs in
the matching view of the text at token boundaries:

- normalized form in the `normal` view (ソファ = ソファー, 捨て = 捨てる, ﾀﾝｽ = 箪笥);
- surface form or reading in the `surface` view (kana-only writing: そだいごみ);
- reading in the `reading` view (mixed writing: れいぞう庫), for readings of 3+ kana.

Short forms must cover whole tokens; longer forms may end inside a token, and long
kana forms may even start inside one, because Sudachi splits unknown hiragana words
arbitrarily (そふぁー → そ|ふぁー). A katakana word may also end a compound token
(シングルベッド → ベッド).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import ahocorasick

from bot.nlu.analysis import Analysis, View
from bot.nlu.textkey import is_kana

SURFACE, NORMAL, READING = "surface", "normal", "reading"


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written in the data
    payload: Any  # what it means (an item, a town, a concept name...)


class Match(NamedTuple):
    term: Term
    first: int  # first token index
    last: int  # last token index (inclusive)
    length: int  # matched characters (for longest-match resolution)
    view: str
    payload: Any  # the term's (a field, not a property: it is read very often)


@dataclass(frozen=True, slots=True)
class _Form:
    chars: str
    term: Term
    kana: bool
    katakana_word: bool  # the term is a katakana word (ベッド): may end a compound
    kanji: bool  # all kanji (予約): may start a compound (予約日)


class Gazetteer:
    """Every view's forms in one Aho–Corasick automaton (pyahocorasick): a text is read
    once per view and every occurrence of every form comes out, instead of trying each
    form length at each position."""

    def __init__(self, terms: Iterable[Term], analyse: Callable[[str], Analysis]) -> None:
        # view -> form characters -> the forms written so
        self._forms: dict[str, dict[str, list[_Form]]] = {SURFACE: {}, NORMAL: {}, READING: {}}
        self._automata: dict[str, Any] = {}  # built on first use after a change
        self.terms: list[Term] = []
        for term in terms:
            self.add(term, analyse(term.text))

    def add(self, term: Term, analysis: Analysis) -> None:
        self.terms.append(term)
        surface, normal, reading = (
            analysis.surface.text,
            analysis.normal.text,
            analysis.reading.text,
        )
        self._put(SURFACE, surface, term)
        if reading != surface:
            self._put(SURFACE, reading, term)
        self._put(NORMAL, normal, term)
        if len(reading) >= 3:
            self._put(READING, reading, term)

    def _put(self, view: str, chars: str, term: Term) -> None:
        if not chars:
            return
        written = unicodedata.normalize("NFKC", term.text)
        katakana_word = all("\u30a1" <= ch <= "\u30fc" for ch in written)
        kanji = all("\u4e00" <= ch <= "\u9fff" for ch in chars)
        forms = self._forms[view].setdefault(chars, [])
        forms.append(_Form(chars, term, is_kana(chars), katakana_word, kanji))
        self._automata.pop(view, None)

    def _automaton(self, view: str) -> Any:
        automaton = self._automata.get(view)
        if automaton is None:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for chars, forms in self._forms[view].items():
                automaton.add_word(chars, (len(chars), forms))
            if len(automaton):
                automaton.make_automaton()
            self._automata[view] = automaton
        return automaton

    def find(self, analysis: Analysis) -> list[Match]:
        """All matches (overlapping ones included), in no particular order."""
        found: dict[tuple[int, int, int], Match] = {}
        self._scan(analysis.surface, SURFACE, found, analysis, loose=True)
        self._scan(analysis.normal, NORMAL, found, analysis, loose=False)
        self._scan(analysis.reading, READING, found, analysis, loose=False)
        return list(found.values())

    def _scan(self, view: View, name: str, found: dict, analysis: Analysis, *, loose: bool) -> None:
        automaton = self._automaton(name)
        if not len(automaton):
            return
        starts, ends = view.starts, view.ends
        hits = []
        for last, (size, forms) in automaton.iter(view.text):
            position = last + 1 - size
            aligned = position in starts
            if not (loose or aligned):
                continue  # the normalized and reading views match from token starts only
            if size == 1 and not (aligned and last + 1 in ends):
                continue  # one character: a whole token or nothing
            hits.append((position, size, forms, aligned))
        # Position order, a one-character token first, then longer forms first: the
        # longest match of a term on a span wins.
        hits.sort(key=lambda hit: (hit[0], hit[1] != 1, -hit[1]))
        for position, size, forms, aligned in hits:
            self._check(forms, position, size, aligned, name, found, view, analysis)

    @staticmethod
    def _check(
        forms: list[_Form],
        position: int,
        size: int,
        aligned: bool,
        name: str,
        found: dict,
        view: View,
        analysis: Analysis,
    ) -> None:
        end = position + size
        whole = aligned and end in view.ends
        if name == READING and (not whole or _homophone(analysis, view, position, end)):
            return  # readings match whole words only, and never all-kanji ones (homophones)
        if not whole and not _word_edges(analysis, view, name, position, end, aligned):
            return
        for form in forms:
            if not whole:
                if aligned and size < 3 and not (name == NORMAL and form.kanji and size == 2):
                    continue
                if (
                    not aligned
                    and not (form.kana and size >= 4)
                    and not (form.katakana_word and size >= 3 and end in view.ends)
                ):
                    continue
            first, last = view.token_at[position], view.token_at[end - 1]
            marker = (id(form.term), first, last)
            previous = found.get(marker)
            if previous is None or previous.length < size:
                found[marker] = Match(form.term, first, last, size, name, form.term.payload)


def _word_edges(
    analysis: Analysis, view: View, name: str, start: int, end: int, aligned: bool
) -> bool:
    """False when a match would start or end in the middle of a katakana word."""
    inner_start = not aligned
    inner_end = end not in view.ends
    katakana = analysis.katakana
    # A boundary inside a katakana word is only allowed at one of Sudachi's short-word
    # boundaries, and only on the surface view (ガス|レンジ yes, オ|レンジ no).
    starts_inside = inner_start and katakana[view.token_at[start]]
    if starts_inside and (name != SURFACE or start not in analysis.subwords):
        return False
    # Nor may it end inside one: a compound names its last word (レンジフード is a フード),
    # so the first word of a compound Sudachi keeps as one token is not the item. (A
    # compound written as a catalogue word, ソファーベッド, still matches whole.)
    return not (inner_end and katakana[view.token_at[end - 1]])


def _homophone(analysis: Analysis, view: View, start: int, end: int) -> bool:
    """A reading match on words written all in kanji is a homophone (証明 is not 照明):
    the reading view is for mixed writing (れいぞう庫), where some kana stay."""
    surface = analysis.surface
    for token in range(view.token_at[start], view.token_at[end - 1] + 1):
        first, last = surface.spans[token]
        if any(not ("\u4e00" <= ch <= "\u9fff" or ch == "々") for ch in surface.text[first:last]):
            return False
    return True


def longest(matches: list[Match], accept: Callable[[Match], bool] | None = None) -> list[Match]:
    """Non-overlapping matches, longest first (ties: earliest), returned in text order."""
    chosen: list[Match] = []
    taken: set[int] = set()
    candidates = [m for m in matches if accept is None or accept(m)]
    candidates.sort(key=lambda m: (-(m.last - m.first), -m.length, m.first))
    for match in candidates:
        span = range(match.first, match.last + 1)
        if any(token in taken for token in span):
            continue
        taken.update(span)
        chosen.append(match)
    chosen.sort(key=lambda m: m.first)
    return chosen
