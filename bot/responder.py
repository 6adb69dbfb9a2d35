"""Builds the responder the pipeline calls for every turn: the flow engine over the NLU."""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock
from bot.turn import Responder


def build_responder(flows_dir: Path, clock: Clock) -> Responder:
    # Imported here: loading Sudachi and the flows is the slow part of start-up, and
    # only the processes that answer residents need it. (The engine's loader imports
    # bot.domain, which registers the city's named actions.)
    from bot.engine import FlowResponder
    from bot.nlu import load_nlu

    return FlowResponder(flows_dir, load_nlu(flows_dir), clock)
