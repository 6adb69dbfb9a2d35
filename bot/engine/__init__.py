"""The flow engine: staff-edited YAML flows → checked, versioned `transitions` machines.

See docs/flows.md for the flow language.
"""

from bot.engine.actions import ActionContext, ActionList, ActionRegistry, Domain
from bot.engine.coverage import coverage_report
from bot.engine.errors import FlowError, FlowsInvalid
from bot.engine.graph import mermaid
from bot.engine.loader import check_flows, load_flowset
from bot.engine.model import FlowSet
from bot.engine.responder import FlowResponder

__all__ = [
    "ActionContext",
    "ActionList",
    "ActionRegistry",
    "Domain",
    "FlowError",
    "FlowResponder",
    "FlowSet",
    "FlowsInvalid",
    "check_flows",
    "coverage_report",
    "load_flowset",
    "mermaid",
]
