"""The values that pass between the pipeline and whatever answers a resident (the engine).

The pipeline owns storage and ordering; a responder gets one Turn plus the resident's
stored conversation and the turn's services, and returns a TurnResult. Nothing here
touches SQL or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.store.services import TurnServices


@dataclass
class Reply:
    text: str
    suggestions: list[str] = field(default_factory=list)
    # "reply": an answer to what the resident just sent.
    # "notice": unsolicited (reminders, announcements): respects opt-out and quiet hours.
    kind: str = "reply"


@dataclass
class TimerRequest:
    """Schedule (or replace, by name) a timer for this resident."""

    name: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    kind: str  # "message" | "timer"
    resident: str  # opaque resident id (keyed hash of the number), never the number
    channel: str  # "sms" | "rcs"
    received_at: datetime
    text: str = ""  # already redacted and truncated
    postback: str | None = None  # RCS: the postbackData of a tapped suggestion
    timer: str | None = None  # timer name when kind == "timer"
    payload: dict[str, Any] = field(default_factory=dict)
    redactions: list[str] = field(default_factory=list)  # e.g. ["my_number", "card"]
    truncated: bool = False


@dataclass
class ResidentContext:
    """What the pipeline knows about a resident beyond the conversation."""

    resident: str
    notices_enabled: bool = True
    handoff: bool = False
    # The 地区 and 町名 the resident gave once (ごみの収集日), never the address.
    district: str | None = None
    town: str | None = None


@dataclass
class TurnResult:
    conversation: dict[str, Any] | None  # the new stored state; None = no active conversation
    replies: list[Reply] = field(default_factory=list)
    timers: list[TimerRequest] = field(default_factory=list)
    cancel_timers: list[str] = field(default_factory=list)
    # Changes to the resident's row: {"notices_enabled": bool, "handoff": bool}.
    resident_updates: dict[str, Any] = field(default_factory=dict)
    # Free-form facts for staff (handoff notes, left messages); stored for `bot handoff list`.
    staff_notes: list[str] = field(default_factory=list)
    # Questions the city FAQ could not answer (counted for staff: `bot faq misses`).
    faq_misses: list[str] = field(default_factory=list)


class Responder(Protocol):
    """Turns one resident event into replies. Runs inside the turn's transaction: what the
    city's actions store (bookings) through `services` commits with the conversation state,
    the replies and the timers, or not at all."""

    def respond(
        self,
        turn: Turn,
        conversation: dict[str, Any] | None,
        resident: ResidentContext,
        services: TurnServices,
    ) -> TurnResult: ...
