"""さくら市's business rules: calendar, fees, bookings, childcare. Every city fact is read
from the YAML files under the city folder's data/, so staff change the city without a
code change.

`build_domain(flows_dir)` is what the city plugs into the flow engine: the registry of its
named actions (each module's ActionList, listed in ACTION_MODULES) bound to that city's
data folder, and the check of its data and NLU files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.domain import (
    actions,
    actions_faq,
    actions_garbage,
    actions_notices,
    actions_people,
    data,
)
from bot.domain.validate import validate_folder
from bot.engine.actions import Action, ActionList, ActionRegistry, Domain
from bot.engine.errors import FlowError

# Every module that declares actions (a module-level `ACTIONS = ActionList()`).
ACTION_MODULES: tuple[ModuleType, ...] = (
    actions,
    actions_people,
    actions_garbage,
    actions_faq,
    actions_notices,
)


def _in_city(folder: Path, fn: Action) -> Action:
    def run(ctx: Any, **args: Any) -> Any:
        with data.reading(folder):
            return fn(ctx, **args)

    run.__name__ = getattr(fn, "__name__", "action")
    run.__wrapped__ = fn  # type: ignore[attr-defined]
    return run


def action_lists() -> list[ActionList]:
    return [module.ACTIONS for module in ACTION_MODULES]


def build_domain(flows_dir: Path | str) -> Domain:
    """The city's actions, reading the data of `flows_dir`/data, and its data checks."""
    folder = Path(flows_dir) / "data"
    registry = ActionRegistry()
    for collected in action_lists():
        for declared in collected.declared:
            registry.add(declared.name, _in_city(folder, declared.fn), declared.returns)
    return Domain(actions=registry, check=check_city_files, starts=flows_started_by_data)


def check_city_files(folder: Path, flow_ids: set[str], intents: set[str]) -> list[FlowError]:
    return [
        FlowError(p.file, p.line, p.message) for p in validate_folder(folder, flow_ids, intents)
    ]


def flows_started_by_data(folder: Path) -> set[str]:
    """The flows the city's FAQ entries lead into (their `flow`), for `bot flows check`'s
    reachability warnings; an unreadable file names none (the data check reports it)."""
    try:
        entries = data.load("faq", folder / "data").get("entries") or []
    except (data.DataInvalid, OSError):  # reported by check_city_files
        return set()
    return {str(row["flow"]) for row in entries if isinstance(row, dict) and row.get("flow")}


@contextlib.contextmanager
def reading(flows_dir: Path | str) -> Iterator[None]:
    """Domain functions called directly (not as actions) read this city's data."""
    with data.reading(Path(flows_dir) / "data"):
        yield
