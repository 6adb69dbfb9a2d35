"""Reading the resident's message as the answer to the question asked (a Run's answers):
a slot's answer, a choice at a confirmation, a change named by its content, what the
opening message or an earlier turn already said, and the retry ladder when nothing fits.

Functions of the turn being run (bot.engine.runner.Run); split from it along this seam.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.engine.answers import NO_ANSWER, match_option, read
from bot.engine.compiler import ConversationModel, fire
from bot.engine.model import Flow, Option, Slot, State
from bot.engine.templates import Message
from bot.nlu.understanding import Understanding

if TYPE_CHECKING:
    from bot.engine.runner import Run

DEFAULT_ASK_CHANGE = "どこを変更しますか？"

# Slot types an opening message may answer: entities, never free text or yes/no (the
# request itself would be taken as the answer).
OPENING_SLOT_TYPES = {"items", "district", "date"}


# The key of an understanding rebuilt from what was kept or carried: it matches no option
# by text, so only its content (a date, a district) can answer.
NO_TEXT = "\x00"


def _content(und: Understanding) -> Understanding:
    """An understanding with its content only (items, town, dates): no choice number and no
    text to match option labels against."""
    return replace(und, choice=None, key=NO_TEXT, yes_no=None)


def answer_from_opening(run: Run, frame: dict[str, Any], flow: Flow) -> bool:
    """「ソファー2つ捨てたい」 starts bulky_waste *and* answers its first question: when
    the start state only asks for an entity the opening message already carries, take
    it instead of asking. Used once per turn, only for the message that started it."""
    opening, run._opening = run._opening, None
    st = flow.states[flow.start]
    if opening is None or not st.ask or st.do or st.confirm:
        return False
    slot = flow.slots[st.ask]
    if slot.type not in OPENING_SLOT_TYPES:
        return False
    und, text = opening
    options = run._options(frame, flow, st)
    if read(slot, und, text, options, run.r.key) is NO_ANSWER:
        return False
    run.steps += 1
    frame.update(state=flow.start, misses=0, pending=None)
    return answer(run, frame, flow, st, und, text)


def yields(run: Run, flow: Flow, st: State) -> bool:
    """A `text` question takes any words as its answer; a clear request for another flow
    goes to that flow instead, unless the slot is `free_text` (a message for staff)."""
    if not st.ask or st.confirm:
        return False
    slot = flow.slots[st.ask]
    return slot.type == "text" and not slot.free_text


def small_talk(
    run: Run, und: Understanding, top: tuple[dict[str, Any], Flow, State] | None
) -> bool:
    """「ありがとうございました」 after a booking, 「こんにちは」 to start: answered politely
    (`smalltalk` in _global.yaml), not as a misunderstanding. Only outside a procedure
    (or in a menu): mid-flow the same words are answers to the question."""
    kind = und.smalltalk
    said = run.cfg.smalltalk.get(kind or "")
    if said is None or und.intent:
        return False
    if top is not None and top[1].on_interrupt != "abandon":
        return False
    run.frames.clear()
    run._say(said, None, None)
    return True


def answer_from_stash(run: Run, frame: dict[str, Any], flow: Flow, st: State) -> bool:
    """A later question the opening message already answered (「来週の金曜に…」 picks that
    collection day when it is offered). Each stashed date/district is used once; a value
    that is not among the options is ignored and the question is asked as usual."""
    stash = frame.get("opening")
    if not stash or not st.ask or st.confirm or st.ask in frame["slots"]:
        return False
    slot = flow.slots[st.ask]
    dates = stash.get("dates") or []
    options = run._options(frame, flow, st)
    value: Any = NO_ANSWER
    if slot.type == "choice":
        hits = [o.value for o in options if o.value in dates]
        value = hits[0] if len(hits) == 1 else NO_ANSWER
    elif slot.type == "date" and dates:
        value = dates[0]
    elif slot.type == "district" and stash.get("district"):
        value = stash["district"]
    if value is NO_ANSWER:
        return False
    if slot.type == "district":
        stash.pop("district", None)
    else:
        stash["dates"] = [d for d in dates if d != value]
    und = Understanding(
        text="",
        key=NO_TEXT,
        dates=(date.fromisoformat(value),) if slot.type in ("date", "choice") else (),
        district=value if slot.type == "district" else None,
    )
    return answer(run, frame, flow, st, und, "")


def answer(
    run: Run, frame: dict[str, Any], flow: Flow, st: State, und: Understanding, text: str
) -> bool:
    if st.confirm:
        return answer_confirm(run, frame, flow, st, und, text)
    if not st.ask:
        return False
    slot = flow.slots[st.ask]
    options = run._options(frame, flow, st)
    if slot.type == "yes_no" and und.choice in (1, 2) and not und.yes_no:
        value: Any = und.choice == 1  # 「1」 picks はい on SMS's numbered choices
    else:
        value = read(slot, und, text, options, run.r.key)
    if value is NO_ANSWER:
        return False
    names = run._names(frame, flow)
    names["value"] = value
    for check in slot.validate:
        if not check.cond.test(names):
            miss(run, frame, flow, st, error=check.error, names=names)
            return True
    previous = frame["slots"].get(slot.name, NO_ANSWER)
    frame["slots"][slot.name] = value
    back = frame.get("return_to")
    if back and back in flow.states:
        frame["return_to"] = None
        fire(flow.machine, ConversationModel(lambda: names), frame["state"], f"back_{back}")
        run._enter(frame, flow, back)
        return True
    if not run._fire(frame, flow, "next"):
        if previous is NO_ANSWER:
            frame["slots"].pop(slot.name, None)
        else:
            frame["slots"][slot.name] = previous
        miss(run, frame, flow, st)
    return True


def change_options(run: Run, st: State) -> list[Option]:
    assert st.confirm is not None
    return [Option(str(i), c.label, c.aliases) for i, c in enumerate(st.confirm.change)]


def answer_confirm(
    run: Run, frame: dict[str, Any], flow: Flow, st: State, und: Understanding, text: str
) -> bool:
    options = change_options(run, st)
    if frame.get("pending") == "change":
        i = match_option(options, und, text, run.r.key)
    else:
        yn = und.yes_no
        choice = und.choice
        if yn == "yes" or (yn is None and choice == 1):
            return run._fire(frame, flow, "confirmed")
        if yn == "no" or (yn is None and choice == 2):
            frame["pending"] = "change"
            ask_change(run, frame, flow, st)
            return True
        i = match_option(options, None, text, run.r.key)  # the part named directly
    if i is None:
        # 「住所は松原です」「12月10日にしたい」: the new value itself says what to change.
        i = change_by_content(run, flow, st, und)
    if i is None:
        return False
    change = st.confirm.change[i]  # type: ignore[union-attr]
    frame["pending"] = None
    if change.back:
        frame["return_to"] = st.name
    # 「住所は松原です」 also answers the question the change leads to — by its content
    # only: 「2」 picked the second change, it does not pick the second day too.
    run._carried = (_content(und), "")
    return run._fire(frame, flow, f"change_{i}")


def change_by_content(run: Run, flow: Flow, st: State, und: Understanding) -> int | None:
    """The one change whose question the message answers by its content: a town for a
    district question, a day for a date question or a choice computed from data (the
    collection days)."""
    # Items are left out: 「あと自転車も」「椅子はいくら？」 name items without replacing them.
    carries = set()
    if und.district:
        carries.add("district")
    if und.dates:
        carries.add("date")
    if not carries or st.confirm is None:
        return None
    hits = []
    for i, change in enumerate(st.confirm.change):
        target = change.transition.target
        slot = asked_after(flow, target.name) if target.kind == "goto" else None
        if slot is None:
            continue
        kind = slot.type
        if kind == "choice" and slot.options_from is not None:
            kind = "date"
        if kind in carries:
            hits.append(i)
    return hits[0] if len(hits) == 1 else None


def asked_after(flow: Flow, name: str | None) -> Slot | None:
    """The slot of the first question reached from state `name` by its default way."""
    seen: set[str] = set()
    while name and name not in seen and len(seen) < 8:
        seen.add(name)
        st = flow.states.get(name)
        if st is None or st.confirm is not None:
            return None
        if st.ask:
            return flow.slots.get(st.ask)
        gotos = [t for t in st.next if t.target.kind == "goto"]
        default = next((t for t in gotos if t.cond is None), gotos[0] if gotos else None)
        name = default.target.name if default else None
    return None


def answer_carried(run: Run, frame: dict[str, Any], flow: Flow, st: State) -> bool:
    """The message that chose a change answers the first question the change reaches."""
    if run._carried is None or not st.ask or st.confirm:
        return False
    (und, text), run._carried = run._carried, None  # tried at one question only
    slot = flow.slots[st.ask]
    value = read(slot, und, text, run._options(frame, flow, st), run.r.key)
    if value is NO_ANSWER or value == frame["slots"].get(slot.name):
        return False  # nothing new (「27日は都合が悪い」 names the day being changed)
    return answer(run, frame, flow, st, und, text)


def ask_change(run: Run, frame: dict[str, Any], flow: Flow, st: State) -> None:
    labels = [o.label for o in change_options(run, st)]
    msg = (st.confirm.ask_change if st.confirm else None) or run.cfg.ask_change
    if msg:
        run._say(msg, frame, flow, suggestions=labels)
    else:
        run._say_text(DEFAULT_ASK_CHANGE, labels)


def miss(
    run: Run,
    frame: dict[str, Any],
    flow: Flow,
    st: State,
    error: Message | None = None,
    names: dict[str, Any] | None = None,
) -> None:
    frame["misses"] = frame.get("misses", 0) + 1
    n = frame["misses"]
    ladder = st.retry or run.cfg.retry
    suggestions = run._suggestions(frame, flow, st)
    if n <= len(ladder):
        if error is not None:
            run._say(error, frame, flow, suggestions=suggestions, names=names)
        elif st.retry:
            run._say(st.retry[n - 1], frame, flow, suggestions=suggestions)
        else:
            run._say(run.cfg.retry[n - 1], frame, flow)
            if frame.get("pending") == "change":
                ask_change(run, frame, flow, st)
            else:
                run._prompt(frame, flow, st)
        return
    frame["misses"] = 0
    if st.escalate is not None:
        run._fire(frame, flow, "escalate")
    elif run.cfg.escalate is not None:
        run._follow(frame, flow, run.cfg.escalate)
    else:
        run._prompt(frame, flow, st)
