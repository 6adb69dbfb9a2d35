"""The performance shortcuts give exactly what the slow paths give (no timing here).

- the engine fires events without attaching a fresh model to the `transitions` Machine
  per event: same transition taken, same destination, as a freshly attached model;
- the NLU remembers short texts' understanding: the same result as understanding them
  afresh, for the same day and context, and the caller's copy is its own.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from bot.city import load_city_flows as load_flowset
from bot.clock import TOKYO
from bot.engine.compiler import ConversationModel, fire
from bot.engine.expr import Expr
from bot.nlu import engine as nlu_engine
from bot.nlu import load_nlu

REPO = Path(__file__).resolve().parents[2]
FLOWS = REPO / "flows"


def _machine_fire(machine, names, state, trigger):
    """The reference: attach a model at `state`, trigger, detach (what fire() used to do)."""
    model = ConversationModel(lambda: dict(names))
    machine.add_model(model, initial=state)
    try:
        if trigger in machine.events and machine.events[trigger].transitions.get(state):
            model.trigger(trigger)
        return model.state, model.taken
    finally:
        machine.remove_model(model)


def _conditions(flow):
    out = []
    for st in flow.states.values():
        ts = list(st.next)
        if st.escalate:
            ts.append(st.escalate)
        if st.confirm:
            ts.append(st.confirm.confirmed)
            ts += [c.transition for c in st.confirm.change]
        ts += [ov.transition for ov in st.intents.values() if ov.transition]
        out += [t.cond for t in ts if t.cond is not None]
    return out


def test_fire_matches_a_freshly_attached_model(monkeypatch):
    flowset = load_flowset(FLOWS)
    chosen: list[object] = [None]
    # Guards decided from outside: only the chosen one holds (None: none holds).
    monkeypatch.setattr(Expr, "test", lambda self, names: self is chosen[0])
    checked = 0
    for flow in flowset.flows.values():
        machine = flow.machine
        conds = _conditions(flow)
        for trigger, event in machine.events.items():
            for source in event.transitions:
                for cond in [None, *conds]:
                    chosen[0] = cond
                    expected = _machine_fire(machine, {}, source, trigger)
                    got = fire(machine, ConversationModel(dict), source, trigger)
                    assert got == expected, (flow.id, trigger, source)
                    checked += 1
    assert checked > 50


TEXTS = [
    "はい",
    "1",
    "桜台",
    "来週の火曜日でお願いします",
    "ソファーです",
    "",
    "  ",
    "👍",
    "12月3日",
]


@pytest.fixture(scope="module")
def nlu():
    return load_nlu(FLOWS)


@pytest.mark.parametrize("context", [None, "bulky_waste"])
def test_remembered_understanding_is_the_fresh_one(nlu, context):
    for day in (datetime(2026, 12, 1, 9, tzinfo=TOKYO), datetime(2026, 12, 31, 23, tzinfo=TOKYO)):
        for text in TEXTS:
            first = nlu.understand(text, day, context)
            again = nlu.understand(text, day, context)
            fresh = nlu._understand(text, day, context)
            assert first == fresh and again == fresh, text


def test_remembered_understanding_follows_the_day(nlu):
    monday = datetime(2026, 11, 30, 10, tzinfo=TOKYO)
    assert (
        nlu.understand("あした", monday).dates
        != nlu.understand("あした", monday.replace(day=29)).dates
    )


def test_a_remembered_understanding_cannot_be_changed_by_a_caller(nlu):
    """The cache hands out the same value to every caller: it is frozen (tuples inside)."""
    day = datetime(2026, 12, 1, 9, tzinfo=TOKYO)
    got = nlu.understand("ソファー2つと12月3日", day)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.intent = "changed"
    assert isinstance(got.items, tuple) and isinstance(got.dates, tuple)
    again = nlu.understand("ソファー2つと12月3日", day)
    assert again == nlu._understand("ソファー2つと12月3日", day, None)


def test_memory_is_bounded(nlu, monkeypatch):
    monkeypatch.setattr(nlu_engine, "CACHE_SIZE", 8)
    day = datetime(2026, 12, 1, 9, tzinfo=TOKYO)
    for i in range(50):
        nlu.understand(f"{i}番", day)
    assert len(nlu._results) <= 8
    long_text = "ソファー" * 40
    nlu.understand(long_text, day)
    assert all(key[0] != long_text for key in nlu._results)
