"""Entity extraction on an analysed text: items with quantities and variants, numbers,
yes/no, district and choice. Dates live in bot.nlu.dates."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.nlu.analysis import Analysis
from bot.nlu.gazetteer import Match, longest
from bot.nlu.lexicon import GarbageInfo, ItemInfo, KindInfo, TownInfo, VariantInfo
from bot.nlu.textkey import corrects_itself, key, parse_int
from bot.nlu.understanding import ItemMention

_NUMBER = re.compile(r"\d+")
_MAX_QUANTITY = 99
# Polite or casual endings around a one-word answer: 「1番でお願いします」「桜台です」.
_ENDINGS = re.compile(
    r"(?:です|でーす|っす|でお願いします|でおねがいします|お願いします|おねがいします|にします|"
    r"でいいです|で大丈夫です|で|だよ|だ|よ|ね|かな|地区|ちく|在住|に住んでいます|に住んでます)+$"
)
_CHOICE = re.compile(
    r"^(?:(\d{1,2})|([一二三四五六七八九十]{1,2}))(?:番目?|ばんめ?|つ目|つめ|こ目)?$"
)


_SHORT = 16  # longer messages are not one-word answers


def core(text_key: str) -> str:
    """A one-word answer without its polite ending (「桜台です」 → 「桜台」)."""
    if len(text_key) > _SHORT:
        return text_key
    stripped = _ENDINGS.sub("", text_key)
    return stripped or text_key


def choice(text_key: str) -> int | None:
    if (
        not text_key
        or len(text_key) > _SHORT
        or not (text_key[0].isdigit() or text_key[0] in "一二三四五六七八九十")
    ):
        return None
    match = _CHOICE.match(core(text_key))
    if not match:
        return None
    value = int(match.group(1)) if match.group(1) else parse_int(match.group(2))
    return value if value and 1 <= value <= 99 else None


class QuantityReader:
    """Quantities next to an item: 「ソファー2つ」「椅子を3脚」「2台の自転車」「テレビ×2」."""

    def __init__(self, counters: list[str]) -> None:
        counter = "|".join(sorted(map(re.escape, counters), key=len, reverse=True)) or "つ"
        self._after = re.compile(
            rf"^(?:を|が|は|も|、|,|:)?(?:(?P<times>[x×*]))?(?P<n>\d+)(?P<counter>{counter})?"
            rf"(?P<tail>$|と|、|,|。|\.|!|！|\?|？|\)|\]|」|・|/|を|です|で|お|に|ほど|くらい|ぐらい|ずつ)?"
        )
        self._before = re.compile(rf"(?P<n>\d+)(?:{counter})の?$")
        self._later = re.compile(rf"(?<![\d/])(?P<n>\d+)(?:{counter})(?!目|め)")

    def after(self, text: str) -> int | None:
        match = self._after.match(text)
        if not match:
            return None
        if match.group("counter") or match.group("times") or match.group("tail") is not None:
            return int(match.group("n"))
        return None

    def later(self, text: str) -> int | None:
        """A counted number further on, before any other item: 「…出せますか？2台あります」."""
        match = self._later.search(text)
        return int(match.group("n")) if match else None

    def before(self, text: str) -> int | None:
        match = self._before.search(text)
        return int(match.group("n")) if match else None


def _blank(text: str, offset: int, spans: list[tuple[int, int]]) -> str:
    """`text` (starting at `offset`) with date characters blanked out."""
    return "".join(" " if _inside(offset + i, spans) else ch for i, ch in enumerate(text))


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


# Between two mentions of one item, these make a list of different things (敷布団と掛け布団).
_LIST_JOINERS = frozenset({"と", "や", "、", ",", "・", "/", "とか", "も", "に", "and", "+", "&"})


Things = tuple[frozenset[int], frozenset[int]]  # token indices where item words start, end
NO_THINGS: Things = (frozenset(), frozenset())


class ItemWords:
    """Words around an item name that change what it names (from flows/nlu/words.yaml)."""

    def __init__(
        self, counters: list[str], heads: list[str], containers: list[str] | None = None
    ) -> None:
        self.counters = frozenset(key(word) for word in counters)
        self.heads = frozenset(key(word) for word in heads)
        self.containers = frozenset(key(word) for word in containers or [])

    def is_counter(self, analysis: Analysis, match: Match) -> bool:
        """A counter or a unit after a number (1棹 is not 竿, 8畳 is not a 畳)."""
        surface = analysis.surface
        start, end = surface.spans[match.first][0], surface.spans[match.last][1]
        return (
            match.first == match.last
            and start > 0
            and surface.text[start - 1].isdigit()
            and surface.text[start:end] in self.counters
        )

    def is_item(self, analysis: Analysis, match: Match, things: Things = NO_THINGS) -> bool:
        """False for a counter after a number (1棹 is not 竿), for an item that only
        qualifies the next word (テレビ台, かがみもち, ソファーカバー are not the item) and
        for one that qualifies another thing through の (カセットコンロのガス缶 is a ガス缶).
        `things`: where the item words found start and end (token indices)."""
        if not isinstance(match.payload, (ItemInfo, GarbageInfo)):
            return True
        if self.is_counter(analysis, match):
            return False
        following = match.last + 1
        if following < analysis.count and self._token(analysis, following) in self.heads:
            return False
        return not self.describes(analysis, match, things)

    def _token(self, analysis: Analysis, index: int) -> str:
        start, end = analysis.surface.spans[index]
        return analysis.surface.text[start:end]

    def describes(self, analysis: Analysis, match: Match, things: Things) -> bool:
        """「AのB」 names B (カセットコンロのガス缶 is a ガス缶), unless B is only A's
        container (ヘアスプレーの缶 is hair spray): True when `match` is such an A or B."""
        starts, ends = things
        after = match.last + 1
        if (
            after + 1 < analysis.count
            and after + 1 in starts
            and self._token(analysis, after) == "の"
        ):
            return self._token(analysis, after + 1) not in self.containers
        before = match.first - 1
        return (
            before > 0
            and self._token(analysis, before) == "の"
            and before - 1 in ends
            and match.first == match.last
            and self._token(analysis, match.first) in self.containers
        )


class Removals:
    """Words right after an item that take it out (「掃除機はやめて」「椅子じゃなくて机」),
    from flows/nlu/words.yaml `removal`."""

    def __init__(self, words: list[str]) -> None:
        alternatives = "|".join(
            sorted(map(re.escape, (key(w) for w in words)), key=len, reverse=True)
        )
        self._after = (
            re.compile(rf"^(?:は|を|も|が|の方は|のほうは)?(?:{alternatives})") if words else None
        )

    def follows(self, text: str) -> bool:
        return bool(self._after and self._after.match(key(text)))


def items_and_places(
    analysis: Analysis,
    matches: list[Match],
    quantities: QuantityReader,
    date_spans: list[tuple[int, int]],
    words: ItemWords | None = None,
    removals: Removals | None = None,
    things: Things | None = None,
) -> tuple[list[ItemMention], TownInfo | None]:
    """`things`: thing_starts(matches), when the caller has it already."""
    things = things if things is not None else thing_starts(matches)
    entity_matches = longest(
        matches,
        lambda m: (
            isinstance(m.payload, (ItemInfo, TownInfo))
            and (words is None or words.is_item(analysis, m, things))
        ),
    )
    variant_matches = [m for m in matches if isinstance(m.payload, VariantInfo)]
    found = [m for m in entity_matches if isinstance(m.payload, ItemInfo)]
    place = next((m.payload for m in entity_matches if isinstance(m.payload, TownInfo)), None)
    surface = analysis.surface
    mentions: dict[str, ItemMention] = {}
    named_variants: dict[str, list[str]] = {}  # item -> the different variants named
    # item -> (the one variant next to a mention, its quantity) per mention:
    # 「1人掛けのソファー2つと3人掛けのソファー1つ」
    per_mention: dict[str, list[tuple[str | None, int]]] = {}
    claimed: set[tuple[int, int]] = set()  # variant words already given to a mention
    counted: set[str] = set()
    written: dict[str, str] = {}  # item -> the word (normalized) of its last mention
    normal = analysis.normal
    for index, match in enumerate(found):
        info: ItemInfo = match.payload
        start = surface.spans[match.first][0]
        end = surface.spans[match.last][1]
        window_start = surface.spans[found[index - 1].last][1] if index else 0
        window_end = (
            surface.spans[found[index + 1].first][0]
            if index + 1 < len(found)
            else len(surface.text)
        )
        quantity = None
        if not _inside(end, date_spans):
            quantity = quantities.after(surface.text[end:window_end])
        if quantity is None:
            quantity = quantities.before(surface.text[window_start:start])
        if quantity is None:
            quantity = quantities.later(_blank(surface.text[end:window_end], end, date_spans))
        explicit = quantity is not None and 1 <= quantity <= _MAX_QUANTITY
        if not explicit or quantity is None:
            quantity = 1
        near = _variants(info, match, variant_matches, surface.spans, window_start, window_end)
        for name in near:
            if name not in named_variants.setdefault(info.name, []):
                named_variants[info.name].append(name)
        variant = near[0] if near else None
        # Its own variant: written just before it (「3人掛けのソファー」), else after it
        # (「ソファー（2人掛け）」); a word another mention already took is not its own.
        spans = surface.spans
        free = [m for m in variant_matches if (m.first, m.last) not in claimed]
        own = _variant_matches(info, match, free, spans, window_start, start) or (
            _variant_matches(info, match, free, spans, end, window_end)
        )
        own_names = {m.payload.name for m in own}
        claimed.update((m.first, m.last) for m in own)
        per_mention.setdefault(info.name, []).append(
            (own[0].payload.name if len(own_names) == 1 else None, quantity)
        )
        mention = ItemMention(info.name, quantity, info.kind, info.group, variant)  # type: ignore[arg-type]
        word = normal.text[normal.spans[match.first][0] : normal.spans[match.last][1]]
        previous = mentions.get(info.name)
        if removals is not None and removals.follows(surface.text[end:window_end]):
            mention = replace(mention, removed=True)
            previous = None  # taken out: whatever was said of it before no longer counts
        if previous is not None:
            # Named twice: two counted mentions add up (本箱2個と書棚1個), and so do two
            # different words for it (敷布団と掛け布団; 布団と掛け布団 when listed with と);
            # otherwise the second mention talks about the same thing
            # (ソファーを…ソファーは2人掛けです, 布団を…掛け布団です).
            before = written[info.name]
            joiner = surface.text[surface.spans[found[index - 1].last][1] : start].strip()
            different = word != before and (
                (word not in before and before not in word) or joiner in _LIST_JOINERS
            )
            both = (explicit and info.name in counted) or different
            total = previous.quantity + quantity if both else max(previous.quantity, quantity)
            mention = ItemMention(
                info.name,
                min(total, _MAX_QUANTITY),
                info.kind,  # type: ignore[arg-type]
                info.group,
                previous.variant or variant,
            )
        if explicit:
            counted.add(info.name)
        mentions[info.name] = mention
        written[info.name] = word
    corrected = corrects_itself(surface.text)
    return _split_by_variant(list(mentions.values()), named_variants, per_mention, corrected), place


_GARBAGE_WORDS = (ItemInfo, TownInfo, GarbageInfo, KindInfo)


def without_inner_things(matches: list[Match]) -> list[Match]:
    """The matches less any catalogue or garbage word found inside a longer known word of
    the other file (バッテリー inside モバイルバッテリー, a garbage.yaml word): the longest
    known word names the thing, so the shorter one is no item at all (neither for the
    items nor for the rules). A word inside a longer word of its own file is left to
    `longest` (ソファーベッド still tells the rules an item is named)."""
    items = [m for m in matches if isinstance(m.payload, ItemInfo)]
    garbage_words = [m for m in matches if isinstance(m.payload, GarbageInfo)] if items else []
    if not garbage_words:
        return matches
    inner = {
        id(m)
        for mine, theirs in ((items, garbage_words), (garbage_words, items))
        for m in mine
        for other in theirs
        if other.first <= m.first and m.last <= other.last and other.length > m.length
    }
    return [m for m in matches if id(m) not in inner] if inner else matches


def thing_starts(matches: list[Match]) -> Things:
    """Where catalogue and garbage item words start and end (for 「AのB」)."""
    found = [m for m in matches if isinstance(m.payload, (ItemInfo, GarbageInfo))]
    return frozenset(m.first for m in found), frozenset(m.last for m in found)


def garbage(
    analysis: Analysis,
    matches: list[Match],
    words: ItemWords | None = None,
    things: Things | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The garbage.yaml items and kinds named, in text order. They compete with catalogue
    items and towns for the same words (キャリーバッグ is a catalogue item, not a バッグ),
    and a thing named with の before another (ペットボトルのキャップ → the cap) is the
    last of them only when both are known as one phrase."""
    things = things if things is not None else thing_starts(matches)
    chosen = longest(
        matches,
        lambda m: (
            isinstance(m.payload, _GARBAGE_WORDS)
            and (words is None or words.is_item(analysis, m, things))
        ),
    )
    items: list[str] = []
    kinds: list[str] = []
    for match in chosen:
        payload = match.payload
        if isinstance(payload, GarbageInfo) and payload.name not in items:
            items.append(payload.name)
        elif isinstance(payload, KindInfo) and payload.name not in kinds:
            kinds.append(payload.name)
    return tuple(items), tuple(kinds)


def _split_by_variant(
    mentions: list[ItemMention],
    named: dict[str, list[str]],
    per_mention: dict[str, list[tuple[str | None, int]]],
    corrected: bool,
) -> list[ItemMention]:
    """Several variants of one item: each mention with its own variant and count
    (「1人掛けのソファー2つと3人掛けのソファー1つ」), or one of each when a count names as
    many things as variants (「ソファー2つ、1人掛けと3人掛け」). When the count does not say
    how many of each, or the text corrects or negates itself (「1人掛けじゃなくて2人掛け」),
    no variant is guessed (the flow asks)."""
    out: list[ItemMention] = []
    for mention in mentions:
        variants = named.get(mention.name) or []
        if len(variants) < 2:
            out.append(mention)
            continue
        if corrected:
            out.append(replace(mention, variant=None))
            continue
        each = per_mention.get(mention.name) or []
        if len(each) >= 2 and all(v is not None for v, _ in each):
            counts: dict[str, int] = {}
            for v, quantity in each:
                if v is not None:
                    counts[v] = counts.get(v, 0) + quantity
            out += [replace(mention, quantity=q, variant=v) for v, q in counts.items()]
        elif mention.quantity == len(variants):
            out += [replace(mention, quantity=1, variant=v) for v in variants]
        else:
            out.append(replace(mention, variant=None))
    return out


def _variants(
    info: ItemInfo,
    item: Match,
    variants: list[Match],
    spans: list[tuple[int, int]],
    window_start: int,
    window_end: int,
) -> list[str]:
    """The item's variants named in its window, longest match first."""
    names: list[str] = []
    for match in _variant_matches(info, item, variants, spans, window_start, window_end):
        variant: VariantInfo = match.payload
        if variant.name not in names:
            names.append(variant.name)
    return names


def _variant_matches(
    info: ItemInfo,
    item: Match,
    variants: list[Match],
    spans: list[tuple[int, int]],
    window_start: int,
    window_end: int,
) -> list[Match]:
    """The item's variant words in its window, longest first; a variant word inside a
    longer one (スプリング in スプリングなし) is not counted separately."""
    near = [
        match
        for match in variants
        if match.payload.item == info.name
        and not (match.first <= item.last and match.last >= item.first)  # its own words
        and spans[match.first][0] >= window_start
        and spans[match.last][1] <= window_end
    ]
    near.sort(key=lambda m: -m.length)
    kept: list[Match] = []
    for match in near:
        inside = any(k.first <= match.first and match.last <= k.last for k in kept)
        if not inside:
            kept.append(match)
    return kept


def _continues(analysis: Analysis, answer: Match, matches: list[Match]) -> bool:
    """True when the word is part of a longer predicate (いらなく|なった…), not an answer."""
    following = answer.last + 1
    if following >= analysis.count or analysis.pos[following] not in ("動詞", "形容詞"):
        return False
    return not any(m.first == following and m.payload in (("yes",), ("no",)) for m in matches)


def word_spans(analysis: Analysis, matches: list[Match]) -> list[tuple[int, int]]:
    """Spans of item names and intent nouns written with a digit (三段ボックス, 二次募集):
    a number inside a known name is part of the name, not a number. Phrases
    (一日だけ) are not names: their number stays."""
    surface = analysis.surface
    spans = []
    for match in matches:
        payload = match.payload
        if isinstance(payload, ItemInfo) or (
            isinstance(payload, tuple)
            and payload
            and payload[0] == "concept"
            and all(
                analysis.pos[token] in ("名詞", "接尾辞", "接頭辞")
                for token in range(match.first, match.last + 1)
            )
        ):
            start, end = surface.spans[match.first][0], surface.spans[match.last][1]
            if any(ch.isdigit() for ch in surface.text[start:end]):
                spans.append((start, end))
    return spans


def numbers(surface: str, date_spans: list[tuple[int, int]]) -> list[int]:
    return [
        int(match.group())
        for match in _NUMBER.finditer(surface)
        if not _inside(match.start(), date_spans)
    ]


def yes_no(
    analysis: Analysis,
    matches: list[Match],
    text_key_symbols: str,
    yes_emoji: set[str],
    no_emoji: set[str],
) -> str | None:
    """A yes or a no when the message starts with one (after fillers such as あ、えっと).

    Contradictory answers give nothing: an interjection of the other side right after the
    first answer (「はい、いいえ」「うん、いや」), or emoji of both sides. An emoji or ×
    next to a number is arithmetic (ソファ×2), not an answer.
    """
    fillers = {m.first: m.last for m in matches if m.payload == ("filler",)}
    starts: list[int] = []
    first = 0
    while first < analysis.count:
        if analysis.pos[first] in ("補助記号", "空白"):
            first += 1
            continue
        starts.append(first)
        if first not in fillers:
            break
        first = fillers[first] + 1
    answers = [m for m in matches if m.payload in (("yes",), ("no",))]
    best: Match | None = None
    for match in answers:
        if match.first in starts:
            rank = (-match.first, match.last, match.length)
            if best is None or rank > (-best.first, best.last, best.length):
                best = match
    if best is not None and not _continues(analysis, best, matches):
        if _contradicted(analysis, best, answers):
            return None
        return best.payload[0]
    if text_key_symbols and len(text_key_symbols) <= 6:
        if any(ch.isdigit() for ch in text_key_symbols):
            return None
        has_no = any(emoji in text_key_symbols for emoji in no_emoji)
        has_yes = any(emoji in text_key_symbols for emoji in yes_emoji)
        if has_no != has_yes:
            return "no" if has_no else "yes"
    return None


def _contradicted(analysis: Analysis, answer: Match, answers: list[Match]) -> bool:
    """True when the next word is an answer interjection of the other side (はい、いいえ)."""
    following = answer.last + 1
    while following < analysis.count and analysis.pos[following] in ("補助記号", "空白"):
        following += 1
    if following >= analysis.count:
        return False
    for match in answers:
        if (
            match.first == following
            and match.payload != answer.payload
            and (analysis.pos[following] == "感動詞" or match.term.text.isascii())
        ):
            return True
    return False
