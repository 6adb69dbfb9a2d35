"""Compile a checked Flow into one `transitions` Machine (built once per flow version).

The machine holds no residents: per message the runner attaches one conversation model
at its stored state, fires one event and detaches it (add_model is O(n) in attached
models and each attached model costs memory, so never more than one at a time).
Synchronous Machine on purpose: ordering comes from the pipeline's per-resident queue.

Events: `next` (guarded transitions in order, first true wins), `confirmed`,
`change_<i>`, `escalate`, `intent_<name>` (state overrides), `back_<state>` (return to a
confirmation after a change). Only `goto` targets move the machine; `start`/`intent`
targets are internal transitions the runner then acts on.
"""

from __future__ import annotations

from typing import Any

from transitions import EventData, Machine

from bot.engine.model import Flow, Transition


class ConversationModel:
    """The per-message model: the top frame's state plus the hooks guards need."""

    def __init__(self, names: Any) -> None:
        self.names = names  # callable -> mapping of expression names
        self.taken: Transition | None = None


def _guard(t: Transition) -> Any:
    cond = t.cond

    def check(event: EventData) -> bool:
        return cond.test(event.model.names()) if cond is not None else True

    return check


def _took(t: Transition) -> Any:
    def record(event: EventData) -> None:
        event.model.taken = t

    return record


def compile_flow(flow: Flow) -> Machine:
    machine = Machine(
        model=None,
        states=list(flow.states),
        initial=flow.start,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        name=f"{flow.id}@{flow.key}",
    )
    for st in flow.states.values():
        for t in st.next:
            _add(machine, "next", t)
        if st.escalate:
            _add(machine, "escalate", st.escalate)
        if st.confirm:
            _add(machine, "confirmed", st.confirm.confirmed)
            for i, c in enumerate(st.confirm.change):
                _add(machine, f"change_{i}", c.transition)
                if c.back:
                    machine.add_transition(f"back_{st.name}", c.transition.target.name, st.name)
        for intent, ov in st.intents.items():
            if ov.transition:
                _add(machine, f"intent_{intent}", ov.transition)
    return machine


def _add(machine: Machine, trigger: str, t: Transition) -> None:
    dest = t.target.name if t.target.kind == "goto" else None
    machine.add_transition(trigger, t.source, dest, conditions=[_guard(t)], before=[_took(t)])


def fire(
    machine: Machine, model: ConversationModel, state: str, trigger: str
) -> tuple[str, Transition | None]:
    """Attach `model` at `state`, fire `trigger`, detach. Returns (new state, transition taken)."""
    model.taken = None
    machine.add_model(model, initial=state)
    try:
        if trigger in machine.events and machine.events[trigger].transitions.get(state):
            model.trigger(trigger)
        return model.state, model.taken
    finally:
        machine.remove_model(model)
