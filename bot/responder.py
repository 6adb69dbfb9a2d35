"""Builds the responder the pipeline calls for every turn: the flow engine over the NLU."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from bot.clock import Clock
from bot.turn import Responder


def build_responder(flows_dir: Path, clock: Clock) -> Responder:
    # Imported here: loading Sudachi and the flows is the slow part of start-up, and
    # only the processes that answer residents need it.
    from bot.engine import FlowResponder
    from bot.nlu import load_nlu

    # The city's named actions register themselves with the engine on import.
    if importlib.util.find_spec("bot.domain.actions") is not None:
        importlib.import_module("bot.domain.actions")
    return FlowResponder(flows_dir, load_nlu(flows_dir), clock)
