"""Named actions for the city FAQ flow (flows/faq.yaml); entries in flows/data/faq.yaml.

The NLU ranks the entries (bot/nlu/faq.py); these actions turn its ranking into the
answer, the choices to offer, or a miss counted for staff.
"""

from __future__ import annotations

from typing import Any

from bot.domain import data
from bot.engine.actions import ActionList

ACTIONS = ActionList()
register_action = ACTIONS.register

NONE_OF_THEM = "none"
MIN_QUESTION = 4  # characters (after folding) for a message to count as a question
LOOKUP = ("answer", "choices", "question")
ANSWER = ("topic", "text", "department", "phone", "link", "flow")


def _entries() -> dict[str, dict[str, Any]]:
    return {str(row["topic"]): row for row in data.load("faq").get("entries") or []}


def _answer(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "topic": row["topic"],
        "text": row["answer"],
        "department": row.get("department"),
        "phone": row.get("phone"),
        "link": row.get("link"),
        "flow": row.get("flow"),  # a flow to start after the answer
    }


@register_action("faq_lookup", returns=LOOKUP)
def lookup(ctx: Any) -> dict[str, Any]:
    """The answer of a confident match, or the close entries as choices (and a last
    choice for none of them), or neither (a miss, counted for staff)."""
    said = ctx.said
    question = ctx.turn.text or ""
    entries = _entries()
    hits = [hit for hit in (said.faq if said else ()) if hit.topic in entries]
    if said is not None and said.faq_confident and hits:
        return {"answer": _answer(entries[hits[0].topic]), "choices": [], "question": question}
    if not hits:
        ctx.note_faq_miss(question)
        return {"answer": None, "choices": [], "question": question}
    choices = [{"value": hit.topic, "label": hit.topic} for hit in hits]
    choices.append({"value": NONE_OF_THEM, "label": "どれでもない", "aliases": ["ちがう", "違う"]})
    return {"answer": None, "choices": choices, "question": question}


@register_action("faq_pick", returns=ANSWER)
def pick(ctx: Any) -> dict[str, Any] | None:
    """The entry the resident picked among the choices; none of them is a miss."""
    picked = str(ctx.slots.get("pick") or "")
    row = _entries().get(picked)
    found = dict(ctx.slots.get("found") or {})
    if row is None:
        ctx.note_faq_miss(str(found.get("question") or ""))
        return None
    found["answer"] = _answer(row)  # answered as a confident match would be
    ctx.slots["found"] = found
    return found["answer"]


@register_action("faq_note_miss")
def note_miss(ctx: Any) -> None:
    """A message nothing understood, when it asks something (a few words, not small
    talk or a bare number): counted for staff as a question the FAQ could not answer."""
    said = ctx.said
    if said is None or said.smalltalk or said.choice is not None or len(said.key) < MIN_QUESTION:
        return
    ctx.note_faq_miss(ctx.turn.text or "")
