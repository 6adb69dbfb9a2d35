"""The city FAQ (flows/data/faq.yaml) as a search index over what Sudachi reads in a text.

A text becomes features: each content word's normalised form (`w:`) and reading (`r:`,
so 住民票 = じゅうみんひょう), and the city's synonym groups (`s:`, any word of a group
counts as its first). Entries are ranked with BM25 (bm25s: a maintained library that
scores a query against a precomputed sparse matrix in microseconds, takes our own token
ids, and needs only numpy at run time). BM25 scores say which entry is best, not how
sure to be, so the decision also uses *coverage*: the share of the question's words
(weighted by how rare they are in the FAQ) that the best entry has. A confident match
answers; close ones are offered as choices; nothing close is an honest miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import bm25s  # type: ignore[import-untyped]  # no stubs published
import numpy as np

from bot.nlu.analysis import Analysis
from bot.nlu.gazetteer import Match, Term, longest
from bot.nlu.lexicon import GarbageInfo, ItemInfo, TownInfo
from bot.nlu.understanding import FaqHit

CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "接尾辞"})
TOPIC_POS = frozenset({"名詞"})  # a question is about a thing: a verb alone is no topic
SYNONYM = "faq_synonym"
ASPECT = "faq_aspect"  # 料金, 電話番号, 何時まで: what is asked about a topic, not a topic
WORD = "faq_word"  # a noun of the FAQ, so that kana writing finds it (しやくしょ)
THINGS = (ItemInfo, GarbageInfo)
MAX_CLOSE = 3
WEIGHTS_CACHE = 20_000
# A word the FAQ never uses weighs this share of a middling word: it may be a detail
# (郵送で) as well as a subject the FAQ lacks (プール).
UNKNOWN_SHARE = 0.6
# What is asked about is a thing: the verb (取る, もらう) says less; a word of the city's
# synonym groups (curated topic words) says more.
SHARES = {"v:": 0.5, "a:": 0.5, "s:": 1.5}
GROUPS = {(SYNONYM,): "s:", (ASPECT,): "a:", (WORD,): "w:"}


@dataclass(frozen=True, slots=True)
class _Entry:
    topic: str
    during: frozenset[str] | None
    valid_until: date | None


class Words(NamedTuple):
    found: list[tuple[str, ...]]  # every word, as its features
    topics: set[tuple[str, ...]]  # those that may name what is asked about
    heads: list[tuple[str, ...]]  # items B of 「AのB」 where A is a synonym
    # Plain nouns qualified by a noun no entry knows (登録 in 会員登録, アプリの登録): which
    # one is asked about is said by that noun, so an entry sharing only them is no answer.
    # (The city's synonym groups name a topic on their own: 夜道の街灯 is about 街灯.)
    qualified: set[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Thresholds:
    margin: float = 1.25
    close: float = 0.5
    min_close: float = 0.3
    alone: float = 0.5  # the only close entry: sure with this much of the question


def synonym_terms(raw: dict[str, Any]) -> list[Term]:
    """The synonym and aspect groups as gazetteer terms: every word stands for the
    group's first (aspects are marked: they say what is asked, not about what)."""
    terms = []
    for key, kind in (("synonyms", SYNONYM), ("aspects", ASPECT)):
        for group in raw.get(key) or []:
            words = [str(word) for word in group or []]
            terms += [Term(word, (kind, words[0])) for word in words if words]
    return terms


class FaqIndex:
    def __init__(
        self,
        raw: dict[str, Any],
        analyse: Callable[[str], Analysis],
        find: Callable[[Analysis], list[Match]],
    ) -> None:
        self._analyse, self._find = analyse, find
        self.ignore = self._ignored(raw.get("ignore") or [])
        match = raw.get("match") or {}
        self.thresholds = Thresholds(**{k: float(v) for k, v in match.items()})
        self.entries: list[_Entry] = []
        self.idf: dict[str, float] = {}  # known once the entries are read (below)
        docs: list[list[str]] = []  # what BM25 ranks: the ways of asking and the answer
        asked: list[list[str]] = []  # what coverage counts: the ways of asking only
        for row in raw.get("entries") or []:
            during = row.get("during")
            until = row.get("valid_until")
            self.entries.append(
                _Entry(
                    str(row["topic"]),
                    frozenset(map(str, during)) if during else None,
                    until
                    if isinstance(until, date) or until is None
                    else date.fromisoformat(until),
                )
            )
            # The answer's words rank too (a resident may ask with them: コンビニで取れる？),
            # but they mention other topics in passing (転入届's answer names 転出証明書),
            # so only the ways of asking say how much of a question an entry covers.
            texts = [str(row["topic"]), *(str(q) for q in row.get("questions") or [])]
            texts.append(str(row.get("department") or ""))  # 土木課の電話番号
            asked.append([f for text in texts for word in self.text_words(text)[0] for f in word])
            answer = self.text_words(str(row.get("answer") or ""))[0]
            docs.append(asked[-1] + [f for word in answer for f in word])
        self.vocab: dict[str, int] = {}
        ids = [[self.vocab.setdefault(f, len(self.vocab)) for f in doc] for doc in docs]
        self.doc_features = [frozenset(doc) for doc in asked]
        self._asked = frozenset().union(*self.doc_features)  # every entry's ways of asking
        self._asked_items = frozenset(f[2:] for f in self._asked if f.startswith("i:"))
        self._topics = [entry.topic for entry in self.entries]
        self._doc_of = dict(zip(self._topics, self.doc_features, strict=True))
        self._weights: dict[tuple[str, ...], float] = {}  # a word's weight, once computed
        self.idf = self._idf(asked)
        known = list(self.idf.values())
        self.unknown_weight = UNKNOWN_SHARE * float(np.median(known)) if known else 1.0
        self.max_idf = max(known) if known else 1.0
        self.median_idf = float(np.median(known)) if known else 1.0
        self._masks: dict[tuple[tuple[str, ...], date], Any] = {}
        # The FAQ's own nouns, for the gazetteer (kana writing: しやくしょ is 市役所).
        self.nouns = sorted(
            {f[2:] for doc in asked for f in doc if f.startswith("w:") and len(f) > 3}
        )
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        self._scores = np.zeros((len(self.vocab), len(docs)), dtype=np.float32)
        if docs:
            self._bm25.index(
                bm25s.tokenization.Tokenized(ids=ids, vocab=self.vocab), show_progress=False
            )
            self._scores = self._dense(self._bm25)

    @staticmethod
    def _dense(index: Any) -> Any:
        """bm25s's precomputed scores as a dense (word × entry) array: a FAQ is small, and
        a question's scores are then one row sum (what get_scores computes from the sparse
        form, without its per-call set-up, which cost more than the sum)."""
        scores = index.scores
        indptr = scores["indptr"]
        dense = np.zeros((len(indptr) - 1, scores["num_docs"]), dtype=np.float32)
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        np.add.at(dense, (rows, scores["indices"]), scores["data"])
        if index.nonoccurrence_array is not None:  # BM25 variants that score absent words
            dense += index.nonoccurrence_array[:, None]
        return dense

    def _ignored(self, words: Iterable[Any]) -> frozenset[str]:
        out: set[str] = set()
        for word in words:
            analysis = self._analyse(str(word))
            out.update(analysis.normal.text[a:b] for a, b in analysis.normal.spans if b > a)
        return frozenset(out)

    @staticmethod
    def _idf(docs: list[list[str]]) -> dict[str, float]:
        count = len(docs)
        frequency: dict[str, int] = {}
        for doc in docs:
            for feature in set(doc):
                frequency[feature] = frequency.get(feature, 0) + 1
        return {f: math.log((count - n + 0.5) / (n + 0.5) + 1.0) for f, n in frequency.items()}

    # ---- features ------------------------------------------------------------------

    def text_words(self, text: str) -> Words:
        analysis = self._analyse(text)
        return self.words(analysis, self._find(analysis))

    def words(
        self, analysis: Analysis, matches: list[Match], skip: Iterable[tuple[int, int]] = ()
    ) -> Words:
        """The text's words, each as the features that stand for it: a synonym group
        (`s:`), or a content word's normalised form (`w:`) and reading (`r:`); which of
        them name a thing (synonym groups and nouns: the possible topics); and the items
        named as the head of 「AのB」 after a synonym A (車のバッテリー: the battery is asked
        about, 車 only says which one)."""
        # The city's synonyms compete with item words for the same characters (やかん is
        # a kettle, not 夜間): an item word is a word of its own, `i:`.
        synonyms = longest(
            matches,
            lambda m: (
                (isinstance(m.payload, tuple) and m.payload[:1] in GROUPS)
                or isinstance(m.payload, (*THINGS, TownInfo))
            ),
        )
        out: list[tuple[str, ...]] = []
        topics: set[tuple[str, ...]] = set()
        covered = {i for m in synonyms for i in range(m.first, m.last + 1)}
        normal, reading, surface = analysis.normal, analysis.reading, analysis.surface
        things = {m.first: m.payload.name for m in synonyms if isinstance(m.payload, THINGS)}
        heads: list[tuple[str, ...]] = []
        qualified: set[tuple[str, ...]] = set()

        def no(index: int) -> bool:
            if not 0 <= index < analysis.count:
                return False
            start, end = surface.spans[index]
            return surface.text[start:end] == "の"

        def unknown_noun(index: int) -> bool:
            """A content noun (not one of the city's words) that no entry uses."""
            if index < 0 or index in covered or analysis.pos[index] not in TOPIC_POS:
                return False
            start, end = normal.spans[index]
            form = normal.text[start:end]
            if len(form) < 2 or form in self.ignore or form.isdigit():
                return False
            start, end = reading.spans[index]
            return f"w:{form}" not in self.idf and f"r:{reading.text[start:end]}" not in self.idf

        def qualifies(first: int) -> bool:
            """The word starting at token `first` follows an unknown noun (会員|登録) or
            an unknown noun and の (アプリ|の|登録)."""
            return unknown_noun(first - 1) or (no(first - 1) and unknown_noun(first - 2))

        for m in synonyms:
            payload = m.payload
            if isinstance(payload, TownInfo):
                continue  # a town (若葉台) says where the resident lives, not what is asked
            if isinstance(payload, THINGS):
                word: tuple[str, ...] = (f"i:{payload.name}",)
            else:
                word = (GROUPS[payload[:1]] + payload[1],)
                if no(m.last + 1) and m.last + 2 in things:
                    heads.append((f"i:{things[m.last + 2]}",))
            out.append(word)
            if not word[0].startswith("a:"):
                topics.add(word)
                if word[0].startswith("w:") and qualifies(m.first):
                    qualified.add(word)
        skipped = [range(a, b) for a, b in skip]
        for index in range(analysis.count):
            if index in covered or analysis.pos[index] not in CONTENT_POS:
                continue
            start, end = normal.spans[index]
            form = normal.text[start:end]
            if not form or form in self.ignore or form.isdigit():
                continue  # numbers say nothing of the topic (1月11日, 2人)
            if any(surface.spans[index][0] in span for span in skipped):
                continue
            if analysis.pos[index] not in TOPIC_POS:
                out.append((f"v:{form}",))  # a verb's reading is its inflected form: noise
                continue
            start, end = reading.spans[index]
            said = reading.text[start:end]
            features = (f"w:{form}", f"r:{said}") if said and said != form else (f"w:{form}",)
            out.append(features)
            if len(form) > 1:  # 日, 家, 人: one kanji alone rarely names a topic
                topics.add(features)
                if qualifies(index):
                    qualified.add(features)
        return Words(out, topics, heads, qualified)

    # ---- search --------------------------------------------------------------------

    def _may_be_topic(self, payload: Any) -> bool:
        """A match that can stand for a topic word of some entry: a synonym group, one of
        the FAQ's nouns (every noun of the ways of asking is in the gazetteer) or an item
        an entry's ways of asking name. A text without one has no hit."""
        if isinstance(payload, tuple):
            return payload[:1] == (SYNONYM,) or payload[:1] == (WORD,)
        return isinstance(payload, THINGS) and payload.name in self._asked_items

    def _weight(self, word: tuple[str, ...]) -> float:
        """A word weighs as its rarest known feature (UNKNOWN_SHARE for unknown words),
        times its kind's share; remembered (a city's residents reuse their words)."""
        weight = self._weights.get(word)
        if weight is None:
            known = [self.idf[f] for f in word if f in self.idf]
            weight = (max(known) if known else self._unknown(word)) * SHARES.get(word[0][:2], 1.0)
            if len(self._weights) > WEIGHTS_CACHE:
                self._weights.clear()
            self._weights[word] = weight
        return weight

    def _unknown(self, word: tuple[str, ...]) -> float:
        """The weight of a word no entry uses: an item the FAQ does not know (車のバッテリー)
        is what the question is about, so it weighs as the rarest word; another thing
        (空き家バンク) may be the subject the FAQ lacks, so it weighs as a middling word; a
        verb or a detail weighs less."""
        if word[0].startswith("i:"):
            return self.max_idf
        return self.median_idf if word[0].startswith("w:") else self.unknown_weight

    def _mask(self, context: tuple[str, ...], today: date) -> Any:
        """1 for the entries that may answer here and today, 0 for the others."""
        key = (context, today)
        mask = self._masks.get(key)
        if mask is None:
            here = set(context)
            mask = np.array(
                [
                    (e.during is None or bool(e.during & here))
                    and (e.valid_until is None or today <= e.valid_until)
                    for e in self.entries
                ],
                dtype=np.float32,
            )
            if len(self._masks) > 64:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    def search(
        self,
        analysis: Analysis,
        matches: list[Match],
        today: date,
        context: Iterable[str] = (),
        skip: Iterable[tuple[int, int]] = (),
    ) -> tuple[tuple[FaqHit, ...], bool]:
        """(close entries best first, confident?) for a text. `context`: the flows the
        resident is in or has just left (entries with `during` answer only there);
        `skip`: surface spans that are no words of a topic (dates)."""
        if not any(self._may_be_topic(m.payload) for m in matches):
            return (), False  # no word of any entry's ways of asking: nothing to rank
        found, topics, heads, qualified = self.words(analysis, matches, skip)
        if not any(f in self._asked for word in topics for f in word):
            # No entry can be a hit: a hit must ask about a thing the question names.
            return (), False
        words = set(found)
        ids = [self.vocab[f] for word in words for f in word if f in self.vocab]
        if not ids:
            return (), False
        weights = {word: self._weight(word) for word in words}
        scores = self._scores[ids].sum(axis=0) * self._mask(tuple(context), today)
        order = [int(i) for i in np.argsort(-scores)[: MAX_CLOSE + 2] if scores[i] > 0]
        if not order:
            return (), False
        total = sum(weights.values())
        topic_features = frozenset().union(*topics)
        hits: list[FaqHit] = []
        for i in order:
            doc = self.doc_features[i]
            if doc.isdisjoint(topic_features):
                continue  # no thing of the question is in the entry (やめる ≠ 国保をやめたい)
            have = sum(w for word, w in weights.items() if not doc.isdisjoint(word))
            coverage = have / total
            # BM25 ranks by matching words; coverage says how much of the question an
            # entry answers: the two together rank (図書館 over 開庁時間 for 図書館は何時まで).
            entry = self.entries[i]
            topical = entry.during is not None and bool(entry.during.intersection(context))
            hits.append(FaqHit(entry.topic, float(scores[i]) * coverage, coverage, topical))
        if not hits:
            return (), False
        hits.sort(key=lambda h: -h.score)
        best, t = hits[0], self.thresholds
        close = tuple(
            h
            for h in hits[:MAX_CLOSE]
            if h.score >= t.close * best.score and h.coverage >= t.min_close
        )
        second = hits[1].score if len(hits) > 1 else 0.0
        # Sure: the entry has a fair share of the question (`alone`) and no other entry
        # comes near it — it is the only close one, or it leads by `margin`.
        # A thing the resident named in the city's own words (a synonym group: 所得証明)
        # must be the entry's: sharing only the verbs and aspects is not enough; and an
        # entry that has it leads one that has not.
        named = [w for w in words if w[0][:2] in ("s:", "i:")]
        named_features = frozenset().union(*named)

        def has_named(hit: FaqHit) -> bool:
            return not self._doc_of[hit.topic].isdisjoint(named_features)

        leads = (
            len(close) == 1
            or best.score >= t.margin * second
            or (bool(named) and has_named(best) and not has_named(hits[1]))
        )
        # 車のバッテリー asks about the battery: an entry that knows 車 but not the item
        # is not the answer (the parking entry); 図書館の本 is the library's if its ways
        # of asking name books.
        doc = self._doc_of[best.topic]
        sure = (not named or has_named(best)) and all(head[0] in doc for head in heads)
        # 会員登録 shares only 登録 with 犬の登録: what the question is about (会員) is in no
        # entry, so the entry is a choice at most.
        shared = [word for word in topics if not doc.isdisjoint(word)]
        sure = sure and not (shared and all(word in qualified for word in shared))
        confident = best in close and best.coverage >= t.alone and leads and sure
        return (close[:1] if confident else close), confident
