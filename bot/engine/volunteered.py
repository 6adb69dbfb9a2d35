"""What a message says besides the answer to the question asked (issue 15: residents
volunteer, correct and follow up as they write).

- `stash`: the dates and district a message names that the current question does not
  take are kept in the frame; a later question of that kind takes them.
- `earlier_question`: a message that answers a question already answered (a town for
  the district, items added or taken out) goes back to that question.
- `follow_up_state`: after a flow ended, a message that answers one of its questions
  re-opens it there (「あと、求職中の場合は？」 after the documents were listed).

Pure functions over the frame and the flow: the runner decides when to call them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.engine.answers import NO_ANSWER, read
from bot.engine.model import Flow, Option, Slot, State
from bot.nlu.understanding import Understanding

STASH = "opening"  # frame key (its name predates volunteering on every turn)
# Slot types a follow-up may answer: typed answers, never free text or a bare yes/no.
FOLLOW_UP_TYPES = frozenset({"choice", "date", "district", "items", "number"})


def stash(frame: dict[str, Any], slot: Slot | None, und: Understanding) -> None:
    """Keep the dates and district `und` names that `slot` (the question being answered,
    if any) does not take itself."""
    kept = dict(frame.get(STASH) or {})
    takes_dates = slot is not None and slot.type in ("date", "choice")
    takes_district = slot is not None and slot.type == "district"
    if und.dates and not takes_dates:
        kept["dates"] = [d.isoformat() for d in und.dates]
    if und.district and not takes_district:
        kept["district"] = und.district
    if kept:
        frame[STASH] = kept


def _removes(und: Understanding) -> bool:
    return any(item.removed for item in und.items)


def earlier_question(
    frame: dict[str, Any], flow: Flow, st: State, und: Understanding, *, removals_only: bool
) -> str | None:
    """The state of a question already answered that this message answers anew: items
    (added, taken out or corrected) or a different district. `removals_only`: only an
    explicit removal counts (at a free-text question any words are the answer)."""
    if removals_only and not _removes(und):
        return None
    current = flow.slots.get(st.ask or "")
    for name, state in flow.states.items():
        slot = flow.slots.get(state.ask or "")
        if slot is None or state.confirm or name == st.name or slot is current:
            continue
        if slot.name not in frame["slots"]:
            continue  # not asked yet: a later question takes it (stash)
        if slot.type == "items" and und.items:
            return name
        # A town at a choice question (the days offered for the district): at an items or
        # a free-text question a town is part of the answer (「港町の実家の分です」).
        if (
            slot.type == "district"
            and und.district
            and not removals_only
            and current is not None
            and current.type == "choice"
            and frame["slots"].get(slot.name) != und.district
        ):
            return name
    return None


def follow_up_state(
    flow: Flow,
    und: Understanding,
    text: str,
    options: Callable[[State], list[Option]],
    key: Callable[[str], str],
) -> str | None:
    """The first question of an ended flow that the message answers (typed slots only)."""
    for name, state in flow.states.items():
        slot = flow.slots.get(state.ask or "")
        if slot is None or state.confirm or slot.type not in FOLLOW_UP_TYPES:
            continue
        if read(slot, und, text, options(state), key) is not NO_ANSWER:
            return name
    return None
