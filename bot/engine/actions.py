"""Named actions: Python functions flows call by name (`do: [find_pickup_dates]`)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.nlu.understanding import Understanding
from bot.turn import Reply, ResidentContext, TimerRequest, Turn

log = logging.getLogger(__name__)

Action = Callable[..., Any]
ACTIONS: dict[str, Action] = {}
# The keys an action's result (a mapping) may have, over all its outcomes: `bot flows check`
# refuses `{{ quote.totl }}` when `quote` is saved from an action that never gives `totl`.
RESULT_KEYS: dict[str, frozenset[str]] = {}


def register_action(name: str, returns: Iterable[str] | None = None) -> Callable[[Action], Action]:
    """Decorator: `@register_action("find_pickup_dates")`; the function gets (ctx, **args).
    `returns`: every key its result mapping can have (leave out when it returns no mapping)."""

    def wrap(fn: Action) -> Action:
        if name in ACTIONS and ACTIONS[name] is not fn:
            raise ValueError(f"action {name!r} is registered twice")
        ACTIONS[name] = fn
        if returns is not None:
            RESULT_KEYS[name] = frozenset(returns)
        return fn

    return wrap


def import_domain_actions() -> None:
    """Import bot.domain so the city's actions are registered before flows are checked."""
    try:
        importlib.import_module("bot.domain")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bot.domain", "bot"):
            raise


@dataclass
class Effects:
    """What a turn produces besides the conversation state."""

    replies: list[Reply] = field(default_factory=list)
    timers: list[TimerRequest] = field(default_factory=list)
    cancel_timers: list[str] = field(default_factory=list)
    resident_updates: dict[str, Any] = field(default_factory=dict)
    staff_notes: list[str] = field(default_factory=list)
    faq_misses: list[str] = field(default_factory=list)


@dataclass
class ActionContext:
    """What an action may read and change. Slots are the live dict of the current flow."""

    slots: dict[str, Any]
    now: datetime
    db: Any
    resident: ResidentContext
    turn: Turn
    data: dict[str, Any]
    flow_id: str
    state: str
    effects: Effects
    # What the NLU understood of this turn's message (None for a timer): actions that
    # read an answer use it instead of parsing the text again.
    said: Understanding | None = None

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def channel(self) -> str:
        return self.turn.channel

    def say(self, text: str, suggestions: list[str] | None = None, kind: str = "reply") -> None:
        self.effects.replies.append(
            Reply(text=text, suggestions=list(suggestions or []), kind=kind)
        )

    def timer(self, name: str, due_at: datetime, payload: dict[str, Any] | None = None) -> None:
        self.effects.timers.append(
            TimerRequest(name=name, due_at=due_at, payload=dict(payload or {}))
        )

    def cancel_timer(self, name: str) -> None:
        self.effects.cancel_timers.append(name)

    def update_resident(self, **changes: Any) -> None:
        self.effects.resident_updates.update(changes)

    def note_for_staff(self, text: str) -> None:
        self.effects.staff_notes.append(text)

    def note_faq_miss(self, text: str) -> None:
        """A question the city FAQ could not answer (stored redacted, without who asked)."""
        self.effects.faq_misses.append(text)
