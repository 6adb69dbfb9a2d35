"""What the conversation tests exercise: every shipped flow's transitions (≥ 90%), and
every key the city's actions really return (so `bot flows check` knows them all)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from bot.city import build_responder
from bot.clock import FrozenClock
from bot.engine.actions import Action
from bot.engine.coverage import below_threshold, coverage_report
from bot.replay.runner import collect_files, run_files
from tests.foundation.helpers import ROOT


@pytest.fixture(scope="module")
def replayed() -> dict[str, Any]:
    """All conversation tests, run once, with what each action returned recorded."""
    flows = ROOT / "flows"
    holder: dict[str, Any] = {"returned": defaultdict(set)}

    def factory(clock: FrozenClock):
        responder = build_responder(flows, clock)
        # This responder's own registry: its actions are wrapped to record their results.
        actions = responder.domain.actions.actions
        actions.update({name: recording(name, fn) for name, fn in actions.items()})
        holder["responder"] = responder
        return responder

    def recording(name: str, action: Action) -> Action:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = action(*args, **kwargs)
            if isinstance(result, dict):
                holder["returned"][name] |= set(result)
            return result

        return call

    files = collect_files([str(ROOT / "tests" / "conversations")])
    holder["results"] = run_files(files, factory, flows)
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
    declared = replayed["responder"].domain.actions.result_keys
    assert len(returned) >= 10  # the conversations do run the city's actions
    for name, keys in returned.items():
        assert name in declared, f"{name} returns a mapping but declares no keys"
        assert keys <= declared[name], (name, keys - declared[name])
