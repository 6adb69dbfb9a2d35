"""Reading a resident's answer into a slot value, by slot type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from bot.engine.model import Option, Slot
from bot.nlu.understanding import Understanding

NO_ANSWER = object()
MIN_CONTAINED = 2  # shorter labels/aliases (「超」) would match inside unrelated words


def as_options(value: Any) -> list[Option]:
    """options_from results: strings or {value, label, aliases} mappings."""
    out = []
    for item in value or []:
        if isinstance(item, Mapping):
            v = str(item.get("value", item.get("label", "")))
            out.append(
                Option(v, str(item.get("label", v)), [str(a) for a in item.get("aliases", [])])
            )
        else:
            out.append(Option(str(item), _label(item)))
    return out


def _label(item: Any) -> str:
    if isinstance(item, date):
        return item.isoformat()
    return str(item)


def match_option(
    options: list[Option], und: Understanding | None, text: str, key: Callable[[str], str]
) -> int | None:
    """Index of the option the resident picked: by number, then by label/value/alias."""
    choice = und.choice if und is not None else None
    if choice == -1 and options:  # 「最後のでいい」
        return len(options) - 1
    if choice is not None and 1 <= choice <= len(options):
        return choice - 1
    said = (und.key if und is not None else "") or key(text)
    if not said:
        return None
    for i, opt in enumerate(options):
        if said in {key(opt.label), key(opt.value), *(key(a) for a in opt.aliases)}:
            return i
    return _match_in_sentence(options, und, said, key)


def _match_in_sentence(
    options: list[Option], und: Understanding | None, said: str, key: Callable[[str], str]
) -> int | None:
    """Answers inside a sentence: 「12月4日でお願いします」 picks the option whose value is
    that date; 「2人掛けです」 picks the one option whose label or alias it contains.
    Two candidates (「1人掛けじゃなくて2人掛け」) pick nothing: the question is asked again."""
    named = {d.isoformat() for d in und.dates} if und is not None else set()
    if named:
        hits = {i for i, opt in enumerate(options) if opt.value in named}
        if len(hits) == 1:
            return hits.pop()
        if any(_is_date(opt.value) for opt in options):
            # A day that is not offered is never read as another one: 「1月11日」 holds
            # 「1日」, an alias of 2月1日.
            return None
    contained = {
        i
        for i, opt in enumerate(options)
        for k in {key(opt.label), *(key(a) for a in opt.aliases)}
        if len(k) >= MIN_CONTAINED and k in said
    }
    return contained.pop() if len(contained) == 1 else None


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def read(
    slot: Slot, und: Understanding, text: str, options: list[Option], key: Callable[[str], str]
) -> Any:
    """The slot value from the message, or NO_ANSWER."""
    t = slot.type
    if t == "text":
        value = text.strip()
        if not value or (slot.max_length and len(value) > slot.max_length):
            return NO_ANSWER
        return value
    if t == "choice":
        i = match_option(options, und, text, key)
        return options[i].value if i is not None else NO_ANSWER
    if t == "yes_no":
        return {"yes": True, "no": False}.get(und.yes_no or "", NO_ANSWER)
    if t == "date":
        return und.dates[0].isoformat() if und.dates else NO_ANSWER
    if t == "number":
        return und.numbers[0] if und.numbers else NO_ANSWER
    if t == "items":
        if not und.items:
            return NO_ANSWER
        return [
            {
                "name": i.name,
                "quantity": i.quantity,
                "kind": i.kind,
                "group": i.group,
                "variant": i.variant,
                "removed": i.removed,
                "more": i.more,
            }
            for i in und.items
        ]
    if t == "district":
        return und.district or NO_ANSWER
    return NO_ANSWER


def auto_suggestions(slot: Slot | None, options: list[Option]) -> list[str]:
    if slot is None:
        return []
    if slot.type == "yes_no":
        return ["はい", "いいえ"]
    if slot.type == "choice":
        return [o.label for o in options]
    return []
