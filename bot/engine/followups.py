"""Follow-ups (a Run's): a question on the topic of a flow that has just ended re-opens it
where the question belongs, and a message that answers a question already answered takes
the flow back to it.

Functions of the turn being run (bot.engine.runner.Run); split from it along this seam.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.engine import reading
from bot.engine.frames import loaded_frame
from bot.engine.model import Flow, State
from bot.engine.volunteered import earlier_question, follow_up_state
from bot.nlu.understanding import Understanding

if TYPE_CHECKING:
    from bot.engine.runner import Run


def back_to_earlier(
    run: Run,
    frame: dict[str, Any],
    flow: Flow,
    st: State,
    und: Understanding,
    text: str,
    *,
    removals_only: bool,
) -> bool:
    """「掃除機はやめて」「あ、住所は松原です」 while a later question is asked: the message
    answers a question already answered, so the flow goes back to it with the message
    as its answer and runs on from there."""
    name = earlier_question(frame, flow, st, und, removals_only=removals_only)
    if name is None:
        return False
    run._carried = (und, text)
    frame["pending"] = None
    run._enter(frame, flow, name)
    return True


def recent_flow(run: Run) -> Flow | None:
    """The flow that ended a short while ago, while its topic is still the subject."""
    recent = run.recent
    if not recent or str(recent.get("until", "")) < run.now.isoformat():
        return None
    return run.r.flow_for(recent)


def follow_up(run: Run, flow: Flow, und: Understanding, text: str) -> bool:
    """「あと、求職中の場合は？」 after the documents were listed: a message that answers
    one of the ended flow's questions re-opens it there, with its earlier answers. A
    message with an intent of its own is not a follow-up."""
    if und.intent is not None:
        return False  # a request in its own right (even for the same flow) starts afresh
    assert run.recent is not None
    frame = loaded_frame(
        {
            "flow": flow.id,
            "version": flow.key,
            "state": flow.start,
            "slots": dict(run.recent.get("slots") or {}),
        },
        bottom=True,
    )
    name = follow_up_state(
        flow, und, text, lambda st: run._options(frame, flow, st, ahead=True), run.r.key
    )
    if name is None:
        return False
    run.recent = None
    run.frames.append(frame)
    frame["state"] = name
    run.steps += 1
    return reading.answer(run, frame, flow, flow.states[name], und, text)
