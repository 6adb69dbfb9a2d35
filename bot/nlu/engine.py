"""The Nlu: tokenise once, match the city's words, decide intent and entities."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from bot.clock import TOKYO
from bot.nlu import entities
from bot.nlu.analysis import Analysis, TokenCache, analyse
from bot.nlu.dates import find_dates
from bot.nlu.faq import WORD as FAQ_WORD
from bot.nlu.faq import FaqIndex, synonym_terms
from bot.nlu.gazetteer import Gazetteer, Term
from bot.nlu.lexicon import ItemInfo, load_faq, load_lexicon
from bot.nlu.measures import MeasureReader
from bot.nlu.normalize import normalise_input
from bot.nlu.rules import load_rules, rule_files
from bot.nlu.textkey import key, keys
from bot.nlu.tokenizer import Tokenizer, truncate
from bot.nlu.understanding import FaqHit, Understanding
from bot.nlu.userdict import ensure_user_dic

# Residents send the same short texts again and again (「はい」「1」「桜台」): their
# understanding is remembered, per day (dates are relative to it) and context. Bounded: at
# most CACHE_SIZE texts of at most CACHE_MAX_CHARS characters, least recently used first out.
CACHE_SIZE = 4096
CACHE_MAX_CHARS = 64


# The city data files the NLU reads (besides flows/nlu/).
SOURCES = ("catalogue", "districts", "garbage", "faq")

SMALLTALK_MAX = 24  # longer messages carry a request, not just thanks
SMALLTALK_SLACK = 4  # characters besides the word (「あ、」「！！」「です」)


class Nlu:
    def __init__(
        self, flows_dir: Path | str = "flows", dictionaries_dir: Path | str | None = None
    ) -> None:
        flows = self.flows_dir = Path(flows_dir)
        self._stamp = self._sources_stamp()
        dictionaries = (
            Path(dictionaries_dir)
            if dictionaries_dir is not None
            else flows.resolve().parent / "dictionaries"
        )
        self.dictionaries_dir = dictionaries
        self.user_dic = ensure_user_dic(dictionaries)
        self._tokenizer = Tokenizer(self.user_dic)
        self._pos_cache: dict[int, tuple[str, ...]] = {}
        self._token_cache: TokenCache = {}
        self.lexicon = lexicon = load_lexicon(flows)
        self._counters = frozenset(lexicon.counters)
        self.rules = load_rules(rule_files(flows / "nlu"))
        terms: list[Term] = [Term(word, info) for word, info in lexicon.items]
        terms += [Term(word, info) for word, info in lexicon.places]
        terms += [Term(word, info) for word, info in lexicon.variants]
        terms += [Term(word, info) for word, info in lexicon.garbage]
        terms += [Term(word, ("yes",)) for word in lexicon.yes]
        terms += [Term(word, ("no",)) for word in lexicon.no]
        terms += [Term(word, ("filler",)) for word in lexicon.fillers]
        terms += list(self.rules.terms)
        faq = load_faq(flows)
        terms += synonym_terms(faq)
        self.gazetteer = Gazetteer(terms, self.analyse)
        self.faq = FaqIndex(faq, self.analyse, self.gazetteer.find)
        for noun in self.faq.nouns:
            self.gazetteer.add(Term(noun, (FAQ_WORD, noun)), self.analyse(noun))
        self._quantities = entities.QuantityReader(lexicon.counters)
        self._item_words = entities.ItemWords(
            [*lexicon.counters, *(u for table in lexicon.measures.values() for u in table)],
            lexicon.item_heads,
            lexicon.containers,
        )
        self._removals = entities.Removals(lexicon.removal)
        self._first = [key(word) for word in lexicon.first_choice]
        self._last = [key(word) for word in lexicon.last_choice]
        self._additions = [key(word) for word in lexicon.additions]
        self._measures = MeasureReader(lexicon.measures)
        self._ranges = []
        for item, variant, spec in lexicon.ranges:
            size = self._measures.range(spec)
            if size is None:
                raise ValueError(f"catalogue.yaml: {item} {variant}: range {spec!r} unreadable")
            self._ranges.append((item, variant, size))
        self._yes_emoji = set(lexicon.yes_emoji)
        self._no_emoji = set(lexicon.no_emoji)
        self._smalltalk = [
            (key(word), kind) for kind, words in lexicon.smalltalk.items() for word in words
        ]
        self._results: OrderedDict[tuple[str, date, str | None, str | None], Understanding] = (
            OrderedDict()
        )
        self._results_lock = threading.Lock()

    def _sources_stamp(self) -> tuple[tuple[str, int, int], ...]:
        """The files this Nlu is built from, as they are now (name, mtime, size)."""
        files = [*rule_files(self.flows_dir / "nlu"), self.flows_dir / "nlu" / "words.yaml"]
        files += [self.flows_dir / "data" / f"{name}.yaml" for name in SOURCES]
        out = []
        for path in files:
            try:
                info = path.stat()
            except OSError:
                continue
            out.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(out)

    def stale(self) -> bool:
        """True when a file it was built from changed since (a new Nlu is needed)."""
        return self._sources_stamp() != self._stamp

    def analyse(self, text: str) -> Analysis:
        return analyse(
            self._tokenizer.tokenize(text), self._pos_cache, self._counters, self._token_cache
        )

    def tokenize(self, text: str):
        return self._tokenizer.tokenize(text)

    @staticmethod
    def key(text: str) -> str:
        """The canonical matching key: NFKC, lowercase, hiragana, no spaces/punctuation."""
        return key(text)

    def understand(
        self,
        text: str,
        now: datetime | None = None,
        context: str | None = None,
        recent: str | None = None,
    ) -> Understanding:
        """`context`: the flow the resident is in; `recent`: a flow that has just ended
        (its topic is still the subject: a follow-up question)."""
        now = (now or datetime.now(TOKYO)).astimezone(TOKYO)
        if len(text) > CACHE_MAX_CHARS:
            return self._understand(truncate(text), now, context, recent)
        # The result depends on the text, the day in Tokyo and the contexts only; it is
        # frozen, so the cached value itself is handed out.
        cache_key = (text, now.date(), context, recent)
        with self._results_lock:
            cached = self._results.get(cache_key)
            if cached is not None:
                self._results.move_to_end(cache_key)
                return cached
        cached = self._understand(truncate(text), now, context, recent)
        with self._results_lock:
            self._results[cache_key] = cached
            while len(self._results) > CACHE_SIZE:
                self._results.popitem(last=False)
        return cached

    def _understand(
        self, text: str, now: datetime, context: str | None, recent: str | None = None
    ) -> Understanding:
        text_key, symbols_key = keys(text)
        if not text.strip():
            return Understanding(text=text, key=text_key)
        analysis = self.analyse(normalise_input(text))
        matches = entities.without_inner_things(self.gazetteer.find(analysis))
        surface = analysis.surface
        dates, date_spans = find_dates(surface.text, now.date(), surface.starts, surface.ends)
        things = entities.thing_starts(matches)
        items, place = entities.items_and_places(
            analysis,
            matches,
            self._quantities,
            date_spans,
            self._item_words,
            self._removals,
            things,
        )
        sizes = self._measures.find(surface.text)
        measures = tuple(size for size, _, _ in sizes)
        sized = tuple(
            (item, variant)
            for item, variant, size in self._ranges
            if any(size.holds(m) for m in measures)
        )
        items = [
            replace(item, variant=dict(sized).get(item.name))
            if item.variant is None and item.name in dict(sized)
            else item
            for item in items
        ]
        if items and any(word in text_key for word in self._additions):
            items = [replace(item, more=True) for item in items]
        numbers = entities.numbers(
            analysis.surface.text, date_spans + entities.word_spans(analysis, matches)
        )
        yes_no = entities.yes_no(analysis, matches, symbols_key, self._yes_emoji, self._no_emoji)
        district: str | None
        town: str | None
        if place is not None:
            district, town = place.district, place.town
        else:
            district, town = self.lexicon.district_names.get(entities.core(text_key)), None
        present = {
            m.payload[1]
            for m in matches
            if isinstance(m.payload, tuple) and m.payload[0] == "concept"
        }
        named = [
            m.payload
            for m in matches
            if isinstance(m.payload, ItemInfo)
            and not self._item_words.is_counter(analysis, m)
            and not self._item_words.describes(analysis, m, things)
        ]
        if named:
            present.add("$item")  # an item word, even inside a longer name (テレビ台)
            if all(info.kind == "small" for info in named):
                present.add("$small_item")  # only items that are not bulky (フライパン)
        if dates:
            present.add("$date")
        garbage, kinds = entities.garbage(analysis, matches, self._item_words, things)
        if garbage:
            present.add("$garbage")
        if kinds:
            present.add("$garbage_kind")
        topics = [flow for flow in (context, recent) if flow]
        found: list[tuple[tuple[FaqHit, ...], bool]] = []

        def faq_search() -> tuple[tuple[FaqHit, ...], bool]:
            if not found:  # once, and only when a rule asks (the FAQ is the costly part)
                found.append(self.faq.search(analysis, matches, now.date(), topics, date_spans))
            return found[0]

        def lazy(name: str) -> bool:
            hits, sure = faq_search()
            return bool(hits) and (sure if name == "$faq" else not sure)

        whole = self._only_words(analysis, matches)
        if whole:
            present.add("$whole")
        rule = self.rules.decide(present, context, len(text_key), recent, whole, lazy)
        faq, confident = faq_search() if rule is not None and rule.intent == "faq" else ((), False)
        smalltalk = None
        if rule is None and not items and not dates:
            smalltalk = self._small_talk(text_key)
        return Understanding(
            text=text,
            key=text_key,
            intent=rule.intent if rule else None,
            rule=rule.id if rule else None,
            dates=tuple(dates),
            items=tuple(items),
            numbers=tuple(numbers),
            yes_no=yes_no,  # type: ignore[arg-type]
            district=district,
            town=town,
            choice=self._choice(text_key),
            smalltalk=smalltalk,
            garbage=garbage,
            garbage_kinds=kinds,
            faq=faq,
            faq_confident=confident,
            standalone=bool(rule and rule.intent) and whole,
            measures=measures,
            sized=sized,
        )

    def _choice(self, text_key: str) -> int | None:
        """A number picked, or 1 / -1 for 「一番早い日で」/「最後のでいい」."""
        picked = entities.choice(text_key)
        if picked is None and len(text_key) <= SMALLTALK_MAX:
            if any(word in text_key for word in self._first):
                return 1
            if any(word in text_key for word in self._last):
                return -1
        return picked

    @staticmethod
    def _only_words(analysis: Analysis, matches: list) -> bool:
        """True when every token is an intent word, a filler or carries no content
        (particles, です, して|ください): the message is a command, not an answer."""
        covered = [False] * analysis.count
        for match in matches:
            payload = match.payload
            if isinstance(payload, tuple) and payload and payload[0] in ("concept", "filler"):
                for token in range(match.first, match.last + 1):
                    covered[token] = True
        return all(c or light for c, light in zip(covered, analysis.light, strict=True))

    def _small_talk(self, text_key: str) -> str | None:
        """「ありがとうございました！」「こんにちは」: a short message that is only small talk
        (a word from words.yaml, give or take a filler or a short tail)."""
        if not text_key or len(text_key) > SMALLTALK_MAX:
            return None
        best: tuple[int, str] | None = None
        for word, kind in self._smalltalk:
            if not word or word not in text_key:
                continue
            rest = len(text_key) - len(word)
            if rest <= SMALLTALK_SLACK and (best is None or len(word) > best[0]):
                best = (len(word), kind)
        return best[1] if best else None
