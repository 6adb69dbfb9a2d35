"""The city assembled from its folder (Settings.flows_dir): flows + the domain's actions and
data + the NLU. Commands and create_app build the engine's pieces here, so the engine
never imports the domain and everything reads the one folder it is given."""

from __future__ import annotations

import re
from pathlib import Path

from bot.clock import Clock
from bot.domain import build_domain
from bot.engine import Domain, FlowError, FlowResponder, FlowSet, check_flows, load_flowset
from bot.engine.loader import flows_folder, flows_report
from bot.turn import Responder

PROBLEM = re.compile(r"^(.*?):(\d+): (.*)$", re.S)


def _domain(path: Path) -> Domain:
    return build_domain(flows_folder(path))


def check_city(path: Path | str) -> list[FlowError]:
    """`bot flows check`: the flows, templates, data and NLU files of the folder of `path`,
    and the notice files staff keep in its notices/ (templates, rehearsed by tests)."""
    errors = check_flows(Path(path), _domain(Path(path)))
    if not errors:  # the notices' rules must read before notice files can be checked
        errors += check_notice_files(flows_folder(Path(path)))
    return errors


def check_notice_files(flows_dir: Path) -> list[FlowError]:
    from bot.notices.policy import load_policy
    from bot.notices.spec import NoticeFileError, city_districts, parse_notice_file

    folder = flows_dir / "notices"
    if not folder.is_dir():
        return []
    policy, districts = load_policy(flows_dir), city_districts(flows_dir)
    errors = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            parse_notice_file(path, policy, districts)
        except NoticeFileError as exc:
            for problem in exc.problems:
                where = PROBLEM.match(problem)
                if where:
                    errors.append(FlowError(where[1], int(where[2]), where[3]))
    return errors


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
