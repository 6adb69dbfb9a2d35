"""Named actions: Python functions flows call by name (`do: [find_pickup_dates]`).

A module of actions collects them in a list of its own, then the city (bot.domain) builds
one ActionRegistry from its modules' lists and hands it to the engine (no registration by
import side effect, no global table):

    ACTIONS = ActionList()
    register_action = ACTIONS.register

    @register_action("find_pickup_dates", returns=("options", "notes"))
    def find_pickup_dates(ctx: ActionContext) -> dict[str, Any]: ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.engine.errors import FlowError
from bot.nlu.understanding import Understanding
from bot.store.services import TurnServices
from bot.turn import Reply, ResidentContext, TimerRequest, Turn

log = logging.getLogger(__name__)

Action = Callable[..., Any]


@dataclass(frozen=True)
class Declared:
    name: str
    fn: Action
    # The keys the action's result (a mapping) may have, over all its outcomes: `bot flows
    # check` refuses `{{ quote.totl }}` when `quote` is saved from an action that never
    # gives `totl`. None: it returns no mapping.
    returns: frozenset[str] | None


class ActionList:
    """One module's actions, in declaration order."""

    def __init__(self) -> None:
        self.declared: list[Declared] = []

    def register(
        self, name: str, returns: Iterable[str] | None = None
    ) -> Callable[[Action], Action]:
        """Decorator: `@register_action("find_pickup_dates")`; the function gets (ctx, **args).
        `returns`: every key its result mapping can have (leave out when it returns none)."""

        def wrap(fn: Action) -> Action:
            keys = frozenset(returns) if returns is not None else None
            self.declared.append(Declared(name, fn, keys))
            return fn

        return wrap


class ActionRegistry:
    """The actions flows may call, by name."""

    def __init__(self, lists: Iterable[ActionList] = ()) -> None:
        self.actions: dict[str, Action] = {}
        self.result_keys: dict[str, frozenset[str]] = {}
        for collected in lists:
            for declared in collected.declared:
                self.add(declared.name, declared.fn, declared.returns)

    def add(self, name: str, fn: Action, returns: Iterable[str] | None = None) -> None:
        if name in self.actions and self.actions[name] is not fn:
            raise ValueError(f"action {name!r} is registered twice")
        self.actions[name] = fn
        if returns is not None:
            self.result_keys[name] = frozenset(returns)

    def __contains__(self, name: object) -> bool:
        return name in self.actions

    def __getitem__(self, name: str) -> Action:
        return self.actions[name]


@dataclass(frozen=True)
class Domain:
    """What a city plugs into the engine: its actions, and the check of the city's own
    files (data/, nlu/) that `bot flows check` and every reload run with the flows'."""

    actions: ActionRegistry
    # (city folder, flow ids, intents the flows handle) -> the problems in its files.
    check: Callable[[Path, set[str], set[str]], list[FlowError]] = (
        lambda folder, flow_ids, intents: []
    )
    # city folder -> the flows its data starts (`start_from`: a FAQ entry's `flow`).
    starts: Callable[[Path], set[str]] = lambda folder: set()


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
    """What an action may read and change. Slots are the live dict of the current flow;
    `services` are the turn's storage (bookings, …), bound to its transaction."""

    slots: dict[str, Any]
    now: datetime
    services: TurnServices
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
