"""Every shipped flow's transitions are exercised by the conversation tests (≥ 90%)."""

from __future__ import annotations

from bot.clock import FrozenClock
from bot.engine.coverage import below_threshold, coverage_report
from bot.replay.runner import collect_files, run_files
from bot.responder import build_responder
from tests.foundation.helpers import ROOT


def test_shipped_flows_are_covered_by_conversation_tests():
    flows = ROOT / "flows"
    holder = {}

    def factory(clock: FrozenClock):
        holder["responder"] = build_responder(flows, clock)
        return holder["responder"]

    files = collect_files([str(ROOT / "tests" / "conversations")])
    results = run_files(files, factory, flows)
    assert all(r.passed for r in results), [r.file for r in results if not r.passed]
    responder = holder["responder"]
    text, per_flow = coverage_report(responder.flowset, responder.fired)
    assert set(per_flow) == set(responder.flowset.flows)
    assert not below_threshold(per_flow), text
