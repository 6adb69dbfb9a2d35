"""Compile a checked Flow into one `transitions` Machine (built once per flow version).

The machine holds no residents. Firing an event for a conversation uses a lookup table
built alongside the machine from the same transitions, in the same order, with the
machine's semantics (the event's transitions from the current state are tried in order;
the first whose condition holds runs its `before` callback and moves to its destination,
an internal transition stays): attaching a model to the machine for every message
(add_model/remove_model) cost more than the rest of the turn's engine work together.
Synchronous on purpose: ordering comes from the pipeline's per-resident queue.

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


# (trigger, source state) -> [(condition or None, transition taken or None, destination)]
Table = dict[tuple[str, str], list[tuple[Any, Transition | None, str | None]]]


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
    machine.bot_table = {}  # see fire()
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
                    trigger, source = f"back_{st.name}", c.transition.target.name
                    machine.add_transition(trigger, source, st.name)
                    machine.bot_table.setdefault((trigger, source), []).append(
                        (None, None, st.name)
                    )
        for intent, ov in st.intents.items():
            if ov.transition:
                _add(machine, f"intent_{intent}", ov.transition)
    return machine


def _add(machine: Machine, trigger: str, t: Transition) -> None:
    dest = t.target.name if t.target.kind == "goto" else None
    machine.add_transition(trigger, t.source, dest, conditions=[_guard(t)], before=[_took(t)])
    machine.bot_table.setdefault((trigger, t.source), []).append((t.cond, t, dest))


def fire(
    machine: Machine, model: ConversationModel, state: str, trigger: str
) -> tuple[str, Transition | None]:
    """Fire `trigger` for a conversation at `state`. Returns (new state, transition taken).

    Same result as attaching `model` to the machine at `state`, triggering and detaching,
    without the attach/detach: the guards see `model.names()` (built once per call: guard
    expressions only read it)."""
    model.taken = None
    table: Table | None = getattr(machine, "bot_table", None)
    if table is not None:
        names = None
        for cond, t, dest in table.get((trigger, state), ()):
            if cond is not None:
                if names is None:
                    names = model.names()
                if not cond.test(names):
                    continue
            model.taken = t
            return (state if dest is None else dest), t
        return state, None
    machine.add_model(model, initial=state)
    try:
        if trigger in machine.events and machine.events[trigger].transitions.get(state):
            model.trigger(trigger)
        return model.state, model.taken
    finally:
        machine.remove_model(model)
