"""The checked, in-memory form of flows (what the loader produces and the runner reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.engine.expr import Expr
from bot.engine.templates import Message

SLOT_TYPES = ("text", "choice", "yes_no", "date", "number", "items", "district")
# Names every template and expression may read besides the flow's slots.
# `notices`: whether the resident receives unsolicited messages (false after 配信停止).
# `said`: the message being answered as understood — {"text": ..., "dates": ["2027-01-11"]}
# (None for a timer).
BUILTIN_NAMES = {
    "result",
    "outcome",
    "data",
    "today",
    "now",
    "channel",
    "title",
    "notices",
    "said",
}


@dataclass
class Option:
    value: str
    label: str
    aliases: list[str] = field(default_factory=list)


@dataclass
class Check:
    cond: Expr
    error: Message


@dataclass
class Slot:
    name: str
    type: str
    options: list[Option] = field(default_factory=list)
    options_from: Expr | None = None
    max_length: int | None = None
    validate: list[Check] = field(default_factory=list)
    # text only: any words are the answer (a message for staff). Otherwise a clear request
    # for another flow (「保育園の空きを知りたい」) is taken as that request, not as the answer.
    free_text: bool = False


@dataclass
class ActionCall:
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    save_as: str | None = None


@dataclass
class Target:
    kind: str | None  # "goto" | "start" | "start_from" | "intent" | None (stay)
    name: str | None = None
    # start_from: the flow id is the value of this expression when the transition fires
    # (a FAQ entry's `flow`: data names the flow, the data check makes sure it exists).
    flow_from: Expr | None = None

    def label(self) -> str:
        if self.kind == "start_from" and self.flow_from is not None:
            return f"start:{self.flow_from.source}"
        return (self.name or "") if self.kind == "goto" else f"{self.kind}:{self.name}"


@dataclass
class Transition:
    id: str
    source: str
    target: Target
    cond: Expr | None = None
    say: Message | None = None
    do: list[ActionCall] = field(default_factory=list)
    line: int = 0
    kind: str = "next"  # next | escalate | confirmed | change | intent


@dataclass
class Change:
    label: str
    aliases: list[str]
    transition: Transition
    back: bool = True


@dataclass
class Confirm:
    confirmed: Transition
    ask_change: Message | None
    change: list[Change]


@dataclass
class Override:
    ignore: bool = False
    say: Message | None = None
    transition: Transition | None = None


@dataclass
class Idle:
    remind_after: timedelta | None = None
    reminder: Message | None = None
    expire_after: timedelta | None = None
    expired: Message | None = None

    def over(self, base: Idle) -> Idle:
        """self's keys where set, else base's."""
        return Idle(
            self.remind_after or base.remind_after,
            self.reminder or base.reminder,
            self.expire_after or base.expire_after,
            self.expired or base.expired,
        )


@dataclass
class State:
    name: str
    line: int
    do: list[ActionCall] = field(default_factory=list)
    say: Message | None = None
    ask: str | None = None
    retry: list[Message] = field(default_factory=list)
    escalate: Transition | None = None
    confirm: Confirm | None = None
    call: str | None = None
    call_with: dict[str, Expr] = field(default_factory=dict)
    save_as: str | None = None
    next: list[Transition] = field(default_factory=list)
    end: str | None = None
    intents: dict[str, Override] = field(default_factory=dict)
    idle: Idle | None = None

    @property
    def waits(self) -> bool:
        return bool(self.ask or self.confirm)


@dataclass
class Flow:
    id: str
    version: str
    key: str  # version + content hash: what a conversation is pinned to
    title: str
    file: str
    entry_intents: list[str]
    on_interrupt: str
    start: str
    data: dict[str, Any]
    idle: Idle | None
    slots: dict[str, Slot]
    states: dict[str, State]
    transitions: list[Transition]
    machine: Any = None  # transitions.Machine, built once by the compiler
    all_slots: list[str] = field(default_factory=list)  # declared + save_as slots

    def slot_names(self) -> list[str]:
        names = list(self.slots)
        for state in self.states.values():
            for call in state.do:
                if call.save_as and call.save_as not in names:
                    names.append(call.save_as)
            if state.save_as and state.save_as not in names:
                names.append(state.save_as)
        for t in self.transitions:
            for call in t.do:
                if call.save_as and call.save_as not in names:
                    names.append(call.save_as)
        return names


@dataclass
class GlobalIntent:
    do: str  # cancel | restart | start
    flow: str | None = None
    say: Message | None = None
    # cancel with nothing in progress: NLU rule ids that start `idle_flow` instead
    # (「キャンセルしたい」 then means a booking).
    idle_rules: list[str] = field(default_factory=list)
    idle_flow: str | None = None


@dataclass
class GlobalConfig:
    file: str
    fallback: str
    ignore: list[str]
    intents: dict[str, GlobalIntent]
    retry: list[Message]
    escalate: Transition | None
    idle: Idle
    resume: Message | None
    nothing_to_cancel: Message | None
    ask_change: Message | None
    error: Message | None
    smalltalk: dict[str, Message] = field(default_factory=dict)  # thanks / greeting replies
    # After a flow ends, how long a message may still follow up on its topic.
    follow_up: timedelta | None = None


@dataclass
class FlowSet:
    directory: str
    config: GlobalConfig
    flows: dict[str, Flow]
    intent_flows: dict[str, str]  # entry intent -> flow id

    def transition_ids(self, flow_id: str) -> list[str]:
        return [t.id for t in self.flows[flow_id].transitions]

    def flow_for_intent(self, intent: str | None) -> Flow | None:
        fid = self.intent_flows.get(intent or "")
        return self.flows.get(fid) if fid else None
