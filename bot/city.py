"""The city assembled from its folder (Settings.flows_dir): flows + the domain's actions and
data + the NLU. Commands and create_app build the engine's pieces here, so the engine
never imports the domain and everything reads the one folder it is given."""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock
from bot.domain import build_domain
from bot.engine import Domain, FlowError, FlowResponder, FlowSet, check_flows, load_flowset
from bot.engine.loader import flows_folder, flows_report
from bot.turn import Responder


def _domain(path: Path) -> Domain:
    return build_domain(flows_folder(path))


def check_city(path: Path | str) -> list[FlowError]:
    """`bot flows check`: the flows, templates, data and NLU files of the folder of `path`."""
    return check_flows(Path(path), _domain(Path(path)))


def city_report(path: Path | str) -> tuple[list[FlowError], list[FlowError]]:
    """`bot flows check`: (errors, warnings) for the folder of `path` (bot/engine/reach.py)."""
    return flows_report(Path(path), _domain(Path(path)))


def load_city_flows(path: Path | str) -> FlowSet:
    return load_flowset(Path(path), _domain(Path(path)))


def build_responder(flows_dir: Path, clock: Clock, dictionaries: Path | None = None) -> Responder:
    """The responder the pipeline calls for every turn: the flow engine over the NLU
    (the Sudachi word lists from `dictionaries`, default beside the flows folder)."""
    # Imported here: loading Sudachi is the slow part of start-up, and only the processes
    # that answer residents need it.
    from bot.nlu import load_nlu

    nlu = load_nlu(flows_dir, dictionaries)
    return FlowResponder(flows_dir, nlu, clock, build_domain(flows_dir))
