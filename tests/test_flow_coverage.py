"""What the conversation tests exercise: every shipped flow's transitions (≥ 90%), and
every key the city's actions really return (so `bot flows check` knows them all)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.engine import actions as registry
from bot.engine.coverage import below_threshold, coverage_report
from bot.replay.runner import collect_files, run_files
from bot.responder import build_responder
from tests.foundation.helpers import ROOT

# The independent evaluation set of mid-flow answers: measured by `python -m
# bot.nlu.evaluate`, not asserted file by file (see tests/conftest.py).
EVALUATION = ROOT / "tests" / "conversations" / "understanding"


@pytest.fixture(scope="module")
def replayed() -> dict[str, Any]:
    """All conversation tests, run once, with what each action returned recorded."""
    flows = ROOT / "flows"
    holder: dict[str, Any] = {"returned": defaultdict(set)}

    def factory(clock: FrozenClock):
        holder["responder"] = build_responder(flows, clock)
        return holder["responder"]

    def recording(name: str, action: registry.Action) -> registry.Action:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = action(*args, **kwargs)
            if isinstance(result, dict):
                holder["returned"][name] |= set(result)
            return result

        return call

    registry.import_domain_actions()  # registered before they are wrapped
    original = dict(registry.ACTIONS)
    registry.ACTIONS.update({name: recording(name, fn) for name, fn in original.items()})
    try:
        files = [
            path
            for path in collect_files([str(ROOT / "tests" / "conversations")])
            if EVALUATION not in path.parents  # measured by bot.nlu.evaluate, not asserted
        ]
        holder["results"] = run_files(files, factory, flows)
    finally:
        registry.ACTIONS.clear()
        registry.ACTIONS.update(original)
    return holder


def test_shipped_flows_are_covered_by_conversation_tests(replayed):
    results = replayed["results"]
    assert all(r.passed for r in results), [r.file for r in results if not r.passed]
    responder = replayed["responder"]
    text, per_flow = coverage_report(responder.flowset, responder.fired)
    assert set(per_flow) == set(responder.flowset.flows)
    assert not below_threshold(per_flow), text


def test_declared_result_keys_cover_what_actions_return(replayed):
    returned = replayed["returned"]
    assert len(returned) >= 10  # the conversations do run the city's actions
    for name, keys in returned.items():
        assert name in registry.RESULT_KEYS, f"{name} returns a mapping but declares no keys"
        assert keys <= registry.RESULT_KEYS[name], (name, keys - registry.RESULT_KEYS[name])
