"""The engine tests' city: the real domain's actions plus the test flows' own (test_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import engine
from bot.clock import Clock
from bot.domain import build_domain
from bot.engine import ActionList, Domain, FlowError, FlowResponder, FlowSet

TEST_ACTIONS = ActionList()
register_action = TEST_ACTIONS.register


def domain_for(flows: Path) -> Domain:
    domain = build_domain(flows)
    for declared in TEST_ACTIONS.declared:
        domain.actions.add(declared.name, declared.fn, declared.returns)
    return domain


def check_flows(path: Path) -> list[FlowError]:
    return engine.check_flows(path, domain_for(Path(path)))


def load_flowset(path: Path) -> FlowSet:
    return engine.load_flowset(path, domain_for(Path(path)))


def flow_responder(flows: Path, nlu: Any, clock: Clock) -> FlowResponder:
    return FlowResponder(flows, nlu, clock, domain_for(flows))
