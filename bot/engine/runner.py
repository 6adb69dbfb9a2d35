"""One turn through the flows: a message or a timer in; replies, state and timers out.

A conversation is a stack of frames (top = the active flow). The stored dict is the top
frame's fields plus `stack` (suspended/calling frames, bottom first) and `seq`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import Any, Protocol

from bot.clock import Clock
from bot.engine.actions import ActionContext, Domain, Effects
from bot.engine.answers import NO_ANSWER, as_options, auto_suggestions, match_option, read
from bot.engine.compiler import ConversationModel, fire
from bot.engine.model import Flow, FlowSet, Idle, Option, Slot, State, Transition
from bot.engine.templates import Message
from bot.engine.volunteered import earlier_question, follow_up_state, stash
from bot.nlu.understanding import Understanding
from bot.store.services import TurnServices
from bot.turn import ResidentContext, TimerRequest, Turn, TurnResult

log = logging.getLogger(__name__)

REMIND, EXPIRE = "flow_idle_remind", "flow_idle_expire"
MAX_FRAMES = 5
MAX_STEPS = 50
DEFAULT_ERROR = "申し訳ありません。うまく処理できませんでした。"
DEFAULT_ASK_CHANGE = "どこを変更しますか？"
# Slot types an opening message may answer: entities, never free text or yes/no (the
# request itself would be taken as the answer).
OPENING_SLOT_TYPES = {"items", "district", "date"}


def _stash(und: Understanding) -> dict[str, Any]:
    """What of the opening message later questions may use (JSON-able, kept in the frame)."""
    stash: dict[str, Any] = {}
    dates = [d.isoformat() for d in und.dates]
    if dates:
        stash["dates"] = dates
    if und.district:
        stash["district"] = und.district
    return stash


# The key of an understanding rebuilt from what was kept or carried: it matches no option
# by text, so only its content (a date, a district) can answer.
NO_TEXT = "\x00"


def _content(und: Understanding) -> Understanding:
    """An understanding with its content only (items, town, dates): no choice number and no
    text to match option labels against."""
    return replace(und, choice=None, key=NO_TEXT, yes_no=None)


class _Loop(Exception):
    pass


def _loaded_frame(stored: dict[str, Any], bottom: bool) -> dict[str, Any]:
    """A stored frame with every field the engine reads present and of the right kind.
    Stored conversations are data: written by hand, by tools (the bench seeds residents
    mid-flow) or before a field existed, they must still resume, not fail every turn."""
    frame = {
        "pending": None,
        "return_to": None,
        "save_as": None,
        "result": None,
        "outcome": None,
        **stored,
    }
    if not isinstance(frame.get("slots"), dict):
        frame["slots"] = {}
    if not isinstance(frame.get("misses"), int):
        frame["misses"] = 0
    if frame.get("mode") not in ("root", "interrupt", "call"):
        frame["mode"] = "root" if bottom else "interrupt"
    return frame


class Host(Protocol):
    """What a turn reads of the engine that runs it (bot.engine.responder.FlowResponder)."""

    flowset: FlowSet
    clock: Clock
    nlu: Any
    domain: Domain
    fired: set[tuple[str, str]]

    def flow_for(self, frame: dict[str, Any]) -> Flow | None: ...

    def key(self, text: str) -> str: ...


class Run:
    def __init__(
        self,
        responder: Host,
        turn: Turn,
        conversation: dict[str, Any] | None,
        resident: ResidentContext,
        services: TurnServices,
    ) -> None:
        self.r = responder
        self.fs = responder.flowset
        self.cfg = self.fs.config
        self.turn = turn
        self.resident = resident
        self.services = services
        self.actions = responder.domain.actions
        self.now = turn.received_at or responder.clock.now()
        self.fx = Effects()
        self.steps = 0
        self.seq = 0
        self.frames: list[dict[str, Any]] = []
        self._opening: tuple[Understanding, str] | None = None  # the message that may start a flow
        self._heard: tuple[Understanding, str] | None = None  # this turn's message (`said`)
        self._said_value: dict[str, Any] | None = None
        # The message that answers the next question reached (a change, a correction).
        self._carried: tuple[Understanding, str] | None = None
        # A flow that ended a short while ago (its topic is still the subject): stored as
        # the whole conversation, {"recent": {...}, "seq": n}, while no flow is active.
        self.recent: dict[str, Any] | None = None
        if conversation and "flow" not in conversation:
            self.recent = conversation.get("recent")
            self.seq = int(conversation.get("seq", 0))
        elif conversation:
            top = {k: v for k, v in conversation.items() if k not in ("stack", "seq")}
            stored = [*conversation.get("stack", []), top]
            self.frames = [_loaded_frame(f, bottom=i == 0) for i, f in enumerate(stored)]
            self.seq = int(conversation.get("seq", 0))

    # ---- entry points -----------------------------------------------------------------

    def go(self) -> TurnResult:
        try:
            if self.turn.kind == "timer":
                if self._action_timer():
                    return self._timer_result()
                if not self._timer():
                    return TurnResult(conversation=self._pack())
            else:
                self.seq += 1
                self._message()
        except _Loop:
            log.error("flow loop: more than %d states in one turn; conversation ended", MAX_STEPS)
            self.frames.clear()
            self._say_text(self._error_text())
        return self._result()

    def _message(self) -> None:
        text = self.turn.postback or self.turn.text or ""
        top = self._top()
        recent = self._recent_flow() if top is None else None
        und = self.r.nlu.understand(
            text, self.now, context=self._nlu_context(top), recent=recent.id if recent else None
        )
        self._opening = (und, text)
        self._heard = (und, text)
        intent = und.intent
        if self._small_talk(und, top):
            return
        if top is None:
            if recent is not None and self._follow_up(recent, und, text):
                return
            self._no_flow(intent, und.rule)
            return
        frame, flow, st = top
        ov = st.intents.get(intent or "")
        if ov is not None and not ov.ignore:
            self._override(frame, flow, ov)
            return
        gi = self.cfg.intents.get(intent or "") if ov is None else None
        # Stopping or restarting throws answers away: it wins over reading the message as
        # an answer only when the message says nothing else (「やめます」, not 「2人掛け以上
        # です」 nor 「掃除機はやめて」).
        if gi is not None and (gi.do not in ("cancel", "restart") or und.standalone):
            self._global(intent, replace=False)  # type: ignore[arg-type]
            return
        slot = flow.slots.get(st.ask or "")
        other = None if ov is not None else self.fs.flow_for_intent(intent)
        # At a free-text question, a request for another flow goes there, unless the
        # message also carries answers (「1月から入れたいです。0歳の子です」 is the month);
        # a question the city FAQ answers goes there too (the flow resumes after).
        carries = bool(und.dates or und.numbers or und.items or und.district)
        # A question the city FAQ answers about this flow's topic (a `during` entry) is a
        # side question, whatever it carries.
        side = intent == "faq" and und.faq_confident and und.faq[0].topical
        clear = und.standalone or not carries or side
        if other is not None and other.id != flow.id and clear and self._yields(flow, st):
            self._interrupt(other)
            return
        stash(frame, None if st.confirm else slot, und)
        free_text = slot is not None and slot.type == "text" and not st.confirm
        if self._back_to_earlier(frame, flow, st, und, text, removals_only=True):
            return
        if self._answer(frame, flow, st, und, text):
            return
        if not free_text and self._back_to_earlier(frame, flow, st, und, text, removals_only=False):
            return
        if other is not None and other.id != flow.id:
            self._interrupt(other)
            return
        self._miss(frame, flow, st)

    def _back_to_earlier(
        self,
        frame: dict[str, Any],
        flow: Flow,
        st: State,
        und: Understanding,
        text: str,
        *,
        removals_only: bool,
    ) -> bool:
        """「掃除機はやめて」「あ、住所は松原です」 while a later question is asked: the message
        answers a question already answered, so the flow goes back to it with the message
        as its answer and runs on from there."""
        name = earlier_question(frame, flow, st, und, removals_only=removals_only)
        if name is None:
            return False
        self._carried = (und, text)
        frame["pending"] = None
        self._enter(frame, flow, name)
        return True

    # ---- follow-ups ---------------------------------------------------------------------

    def _recent_flow(self) -> Flow | None:
        """The flow that ended a short while ago, while its topic is still the subject."""
        recent = self.recent
        if not recent or str(recent.get("until", "")) < self.now.isoformat():
            return None
        return self.r.flow_for(recent)

    def _follow_up(self, flow: Flow, und: Understanding, text: str) -> bool:
        """「あと、求職中の場合は？」 after the documents were listed: a message that answers
        one of the ended flow's questions re-opens it there, with its earlier answers. A
        message with an intent of its own is not a follow-up."""
        if und.intent is not None:
            return False  # a request in its own right (even for the same flow) starts afresh
        assert self.recent is not None
        frame = _loaded_frame(
            {
                "flow": flow.id,
                "version": flow.key,
                "state": flow.start,
                "slots": dict(self.recent.get("slots") or {}),
            },
            bottom=True,
        )
        name = follow_up_state(
            flow, und, text, lambda st: self._options(frame, flow, st), self.r.key
        )
        if name is None:
            return False
        self.recent = None
        self.frames.append(frame)
        frame["state"] = name
        self.steps += 1
        return self._answer(frame, flow, flow.states[name], und, text)

    def _action_timer(self) -> bool:
        """A timer named `ACTION:key` (set by an action, e.g. a booking's reminder) runs that
        registered action when due. It does not touch the conversation the resident is in."""
        name = self.turn.timer or ""
        action = name.split(":", 1)[0]
        if name in (REMIND, EXPIRE) or action not in self.actions:
            if name not in (REMIND, EXPIRE):
                log.warning("timer with no registered action ignored: %s", action)
            return False
        top = self._top()
        ctx = ActionContext(
            {},
            self.now,
            self.services,
            self.resident,
            self.turn,
            top[1].data if top else {},
            top[1].id if top else "",
            top[0]["state"] if top else "",
            self.fx,
        )
        self.actions[action](ctx)
        return True

    def _timer_result(self) -> TurnResult:
        fx = self.fx
        return TurnResult(
            conversation=self._pack(),
            replies=fx.replies,
            timers=list(fx.timers),
            cancel_timers=list(fx.cancel_timers),
            resident_updates=fx.resident_updates,
            staff_notes=fx.staff_notes,
            faq_misses=fx.faq_misses,
        )

    def _timer(self) -> bool:
        """Idle reminder / expiry. Returns False when the timer is stale or not ours."""
        top = self._top()
        if top is None or self.turn.timer not in (REMIND, EXPIRE):
            return False
        if self.turn.payload.get("seq") != self.seq:
            return False
        frame, flow, st = top
        idle = self._idle(flow, st)
        if self.turn.timer == REMIND:
            if idle.reminder:
                self._say(idle.reminder, frame, flow, kind="notice")
        else:
            if idle.expired:
                self._say(idle.expired, frame, flow, kind="notice")
            self.frames.clear()
        return True

    # ---- frames -----------------------------------------------------------------------

    def _top(self) -> tuple[dict[str, Any], Flow, State] | None:
        while self.frames:
            frame = self.frames[-1]
            flow = self.r.flow_for(frame)
            if flow is not None:
                return frame, flow, flow.states[frame["state"]]
            log.warning("conversation on a flow version no longer available: %s", frame.get("flow"))
            self.frames.clear()
        return None

    def _pack(self) -> dict[str, Any] | None:
        if not self.frames:
            return {"recent": self.recent, "seq": self.seq} if self.recent else None
        conv = dict(self.frames[-1])
        conv["stack"] = self.frames[:-1]
        conv["seq"] = self.seq
        return conv

    def _result(self) -> TurnResult:
        conv = self._pack()
        fx = self.fx
        timers = list(fx.timers)
        cancel = list(fx.cancel_timers)
        top = self._top()
        if top is None:
            cancel += [REMIND, EXPIRE]
        elif self.turn.kind != "timer":
            idle = self._idle(top[1], top[2])
            for name, after in ((REMIND, idle.remind_after), (EXPIRE, idle.expire_after)):
                if after:
                    timers.append(TimerRequest(name, self.now + after, {"seq": self.seq}))
                else:
                    cancel.append(name)
        return TurnResult(
            conversation=conv,
            replies=fx.replies,
            timers=timers,
            cancel_timers=cancel,
            resident_updates=fx.resident_updates,
            staff_notes=fx.staff_notes,
            faq_misses=fx.faq_misses,
        )

    def _idle(self, flow: Flow, st: State) -> Idle:
        idle = self.cfg.idle
        if flow.idle:
            idle = flow.idle.over(idle)
        if st.idle:
            idle = st.idle.over(idle)
        return idle

    def _start(
        self, flow: Flow, mode: str, slots: dict[str, Any] | None = None, save_as: str | None = None
    ) -> None:
        frame = {
            "flow": flow.id,
            "version": flow.key,
            "state": flow.start,
            "slots": slots or {},
            "misses": 0,
            "pending": None,
            "return_to": None,
            "mode": mode,
            "save_as": save_as,
            "result": None,
            "outcome": None,
        }
        if self.recent and flow.on_interrupt == "abandon":
            # An answer or a menu on the way (a FAQ side question) does not end the topic
            # of the flow before it: kept to be restored when this one ends.
            frame["topic"] = self.recent
        self.recent = None
        self.frames.append(frame)
        if len(self.frames) > MAX_FRAMES:
            del self.frames[0]
            self.frames[0]["mode"] = "root"
        if mode != "call" and self._opening is not None:
            stash = _stash(self._opening[0])
            if stash:
                frame["opening"] = stash
            # The message that raised the topic: a flow this one hands over to (「粗大ごみの
            # 収集を申し込みますか？」「はい」) reads it as its own opening message.
            frame["opening_text"] = self._opening[1]
        if mode != "call" and self._answer_from_opening(frame, flow):
            return
        self._enter(frame, flow, flow.start)

    def _answer_from_opening(self, frame: dict[str, Any], flow: Flow) -> bool:
        """「ソファー2つ捨てたい」 starts bulky_waste *and* answers its first question: when
        the start state only asks for an entity the opening message already carries, take
        it instead of asking. Used once per turn, only for the message that started it."""
        opening, self._opening = self._opening, None
        st = flow.states[flow.start]
        if opening is None or not st.ask or st.do or st.confirm:
            return False
        slot = flow.slots[st.ask]
        if slot.type not in OPENING_SLOT_TYPES:
            return False
        und, text = opening
        options = self._options(frame, flow, st)
        if read(slot, und, text, options, self.r.key) is NO_ANSWER:
            return False
        self.steps += 1
        frame.update(state=flow.start, misses=0, pending=None)
        return self._answer(frame, flow, st, und, text)

    def _yields(self, flow: Flow, st: State) -> bool:
        """A `text` question takes any words as its answer; a clear request for another flow
        goes to that flow instead, unless the slot is `free_text` (a message for staff)."""
        if not st.ask or st.confirm:
            return False
        slot = flow.slots[st.ask]
        return slot.type == "text" and not slot.free_text

    def _small_talk(
        self, und: Understanding, top: tuple[dict[str, Any], Flow, State] | None
    ) -> bool:
        """「ありがとうございました」 after a booking, 「こんにちは」 to start: answered politely
        (`smalltalk` in _global.yaml), not as a misunderstanding. Only outside a procedure
        (or in a menu): mid-flow the same words are answers to the question."""
        kind = und.smalltalk
        said = self.cfg.smalltalk.get(kind or "")
        if said is None or und.intent:
            return False
        if top is not None and top[1].on_interrupt != "abandon":
            return False
        self.frames.clear()
        self._say(said, None, None)
        return True

    def _answer_from_stash(self, frame: dict[str, Any], flow: Flow, st: State) -> bool:
        """A later question the opening message already answered (「来週の金曜に…」 picks that
        collection day when it is offered). Each stashed date/district is used once; a value
        that is not among the options is ignored and the question is asked as usual."""
        stash = frame.get("opening")
        if not stash or not st.ask or st.confirm or st.ask in frame["slots"]:
            return False
        slot = flow.slots[st.ask]
        dates = stash.get("dates") or []
        options = self._options(frame, flow, st)
        value: Any = NO_ANSWER
        if slot.type == "choice":
            hits = [o.value for o in options if o.value in dates]
            value = hits[0] if len(hits) == 1 else NO_ANSWER
        elif slot.type == "date" and dates:
            value = dates[0]
        elif slot.type == "district" and stash.get("district"):
            value = stash["district"]
        if value is NO_ANSWER:
            return False
        if slot.type == "district":
            stash.pop("district", None)
        else:
            stash["dates"] = [d for d in dates if d != value]
        und = Understanding(
            text="",
            key=NO_TEXT,
            dates=(date.fromisoformat(value),) if slot.type in ("date", "choice") else (),
            district=value if slot.type == "district" else None,
        )
        return self._answer(frame, flow, st, und, "")

    def _replace(self, flow: Flow) -> None:
        old = self.frames.pop()
        carried = old.get("opening_text")
        opening = self._opening[0] if self._opening else None
        if carried and (
            opening is None or not (opening.items or opening.dates or opening.district)
        ):
            und = self.r.nlu.understand(carried, self.now, context=flow.id)
            self._opening = (und, carried)
        self._start(flow, old["mode"], save_as=old.get("save_as"))

    def _interrupt(self, flow: Flow) -> None:
        top = self._top()
        if top and (top[1].on_interrupt == "abandon" or top[1].id == flow.id):
            self._replace(flow)
        else:
            self._start(flow, "interrupt" if top else "root")

    # ---- states and transitions -------------------------------------------------------

    def _enter(self, frame: dict[str, Any], flow: Flow, name: str) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Loop()
        frame.update(state=name, misses=0, pending=None)
        st = flow.states[name]
        self._actions(frame, flow, st.do)
        if self._answer_from_stash(frame, flow, st) or self._answer_carried(frame, flow, st):
            return
        if st.say:
            self._prompt(frame, flow, st)
        if st.end is not None:
            self._finish(frame, st.end)
        elif st.call:
            names = self._names(frame, flow)
            args = {k: e.evaluate(names) for k, e in st.call_with.items()}
            self._start(self.fs.flows[st.call], "call", args, st.save_as)
        elif not st.waits and not self._fire(frame, flow, "next"):
            log.error("%s.%s: no transition matched", flow.id, name)

    def _fire(self, frame: dict[str, Any], flow: Flow, trigger: str) -> bool:
        model = ConversationModel(lambda: self._names(frame, flow))
        _, taken = fire(flow.machine, model, frame["state"], trigger)
        if taken is None:
            return False
        self._follow(frame, flow, taken)
        return True

    def _follow(self, frame: dict[str, Any], flow: Flow, t: Transition) -> None:
        if t.id:
            self.r.fired.add((flow.id, t.id))
        self._actions(frame, flow, t.do)
        if t.say:
            self._say(t.say, frame, flow)
        kind, name = t.target.kind, t.target.name
        if kind == "goto":
            self._enter(frame, flow, name)  # type: ignore[arg-type]
        elif kind == "start":
            self._replace(self.fs.flows[name])  # type: ignore[index]
        elif kind == "start_from":
            self._start_from(frame, flow, t)
        elif kind == "intent":
            self._intent_target(name)  # type: ignore[arg-type]

    def _start_from(self, frame: dict[str, Any], flow: Flow, t: Transition) -> None:
        """Start the flow whose id the transition's expression gives now (a FAQ entry's
        `flow`). A name that is no flow (the data changed under a running conversation)
        ends this flow instead of stopping the resident in it."""
        assert t.target.flow_from is not None
        name = t.target.flow_from.evaluate(self._names(frame, flow))
        target = self.fs.flows.get(str(name)) if name else None
        if target is None:
            log.error("%s.%s: start_from gave %r, not a flow", flow.id, frame["state"], name)
            self._finish(frame, "done")
            return
        self._replace(target)

    def _intent_target(self, intent: str) -> None:
        if intent in self.cfg.intents:
            self._global(intent, replace=True)
            return
        target = self.fs.flow_for_intent(intent)
        if target is not None:
            if self.frames:
                self._replace(target)
            else:
                self._start(target, "root")

    def _finish(self, frame: dict[str, Any], outcome: str) -> None:
        if self.frames and self.frames[-1] is frame:
            self.frames.pop()
        if self.fx.resident_updates.get("handoff"):
            # Handed to staff: the bot asks nothing more (no suspended flow resumes).
            self.frames.clear()
            return
        parent_top = self._top()
        if parent_top is None:
            if frame.get("mode") != "call" and self.cfg.follow_up:
                until = (self.now + self.cfg.follow_up).isoformat()
                earlier = frame.get("topic")
                self.recent = (
                    {**earlier, "until": until}
                    if earlier
                    else {
                        "flow": frame["flow"],
                        "version": frame["version"],
                        "slots": frame["slots"],
                        "until": until,
                    }
                )
            return
        parent, pflow, pst = parent_top
        if frame.get("mode") == "call":
            parent["outcome"] = outcome
            if frame.get("save_as"):
                parent["slots"][frame["save_as"]] = frame["slots"]
            self._fire(parent, pflow, "next")
        else:
            if self.cfg.resume:
                self._say(self.cfg.resume, parent, pflow)
            if parent.get("pending") == "change":
                self._ask_change(parent, pflow, pst)
            else:
                self._prompt(parent, pflow, pst)

    def _actions(self, frame: dict[str, Any], flow: Flow, calls: list[Any]) -> None:
        for call in calls:
            ctx = ActionContext(
                frame["slots"],
                self.now,
                self.services,
                self.resident,
                self.turn,
                flow.data,
                flow.id,
                frame["state"],
                self.fx,
                said=self._heard[0] if self._heard else None,
            )
            result = self.actions[call.name](ctx, **call.args)
            frame["result"] = result
            if call.save_as:
                frame["slots"][call.save_as] = result

    # ---- intents ----------------------------------------------------------------------

    def _no_flow(self, intent: str | None, rule: str | None = None) -> None:
        gi = self.cfg.intents.get(intent or "")
        if gi is not None and gi.idle_flow and rule in gi.idle_rules:
            self._start(self.fs.flows[gi.idle_flow], "root")
            return
        if gi is not None and gi.do == "cancel":
            if self.cfg.nothing_to_cancel:
                self._say(self.cfg.nothing_to_cancel, None, None)
            return
        if gi is not None and gi.do == "start":
            self._global(intent, replace=False)  # type: ignore[arg-type]
            return
        flow = self.fs.flow_for_intent(intent) or self.fs.flows[self.cfg.fallback]
        self._start(flow, "root")

    def _global(self, intent: str, replace: bool) -> None:
        gi = self.cfg.intents[intent]
        top = self._top()
        if gi.do == "cancel":
            if gi.say:
                self._say(gi.say, top[0] if top else None, top[1] if top else None)
            self.frames.clear()
        elif gi.do == "restart":
            if top is None:
                self._start(self.fs.flows[self.cfg.fallback], "root")
                return
            frame, flow, _ = top
            if gi.say:
                self._say(gi.say, frame, flow)
            frame.update(slots={}, result=None, outcome=None, return_to=None)
            self._enter(frame, flow, flow.start)
        else:
            target = self.fs.flows.get(gi.flow or "") or self.fs.flow_for_intent(intent)
            if target is None:
                if gi.say:
                    self._say(gi.say, top[0] if top else None, top[1] if top else None)
            elif replace and self.frames:
                self._replace(target)
            else:
                self._interrupt(target)

    def _override(self, frame: dict[str, Any], flow: Flow, ov: Any) -> None:
        if ov.say:
            self._say(ov.say, frame, flow)
        if ov.transition is not None:
            intent_trigger = f"intent_{ov.transition.kind.split(' ', 1)[1]}"
            self._fire(frame, flow, intent_trigger)

    # ---- answers ----------------------------------------------------------------------

    def _answer(
        self, frame: dict[str, Any], flow: Flow, st: State, und: Understanding, text: str
    ) -> bool:
        if st.confirm:
            return self._answer_confirm(frame, flow, st, und, text)
        if not st.ask:
            return False
        slot = flow.slots[st.ask]
        options = self._options(frame, flow, st)
        if slot.type == "yes_no" and und.choice in (1, 2) and not und.yes_no:
            value: Any = und.choice == 1  # 「1」 picks はい on SMS's numbered choices
        else:
            value = read(slot, und, text, options, self.r.key)
        if value is NO_ANSWER:
            return False
        names = self._names(frame, flow)
        names["value"] = value
        for check in slot.validate:
            if not check.cond.test(names):
                self._miss(frame, flow, st, error=check.error, names=names)
                return True
        previous = frame["slots"].get(slot.name, NO_ANSWER)
        frame["slots"][slot.name] = value
        back = frame.get("return_to")
        if back and back in flow.states:
            frame["return_to"] = None
            fire(flow.machine, ConversationModel(lambda: names), frame["state"], f"back_{back}")
            self._enter(frame, flow, back)
            return True
        if not self._fire(frame, flow, "next"):
            if previous is NO_ANSWER:
                frame["slots"].pop(slot.name, None)
            else:
                frame["slots"][slot.name] = previous
            self._miss(frame, flow, st)
        return True

    def _change_options(self, st: State) -> list[Option]:
        assert st.confirm is not None
        return [Option(str(i), c.label, c.aliases) for i, c in enumerate(st.confirm.change)]

    def _answer_confirm(
        self, frame: dict[str, Any], flow: Flow, st: State, und: Understanding, text: str
    ) -> bool:
        options = self._change_options(st)
        if frame.get("pending") == "change":
            i = match_option(options, und, text, self.r.key)
        else:
            yn = und.yes_no
            choice = und.choice
            if yn == "yes" or (yn is None and choice == 1):
                return self._fire(frame, flow, "confirmed")
            if yn == "no" or (yn is None and choice == 2):
                frame["pending"] = "change"
                self._ask_change(frame, flow, st)
                return True
            i = match_option(options, None, text, self.r.key)  # the part named directly
        if i is None:
            # 「住所は松原です」「12月10日にしたい」: the new value itself says what to change.
            i = self._change_by_content(flow, st, und)
        if i is None:
            return False
        change = st.confirm.change[i]  # type: ignore[union-attr]
        frame["pending"] = None
        if change.back:
            frame["return_to"] = st.name
        # 「住所は松原です」 also answers the question the change leads to — by its content
        # only: 「2」 picked the second change, it does not pick the second day too.
        self._carried = (_content(und), "")
        return self._fire(frame, flow, f"change_{i}")

    def _change_by_content(self, flow: Flow, st: State, und: Understanding) -> int | None:
        """The one change whose question the message answers by its content: a town for a
        district question, a day for a date question or a choice computed from data (the
        collection days)."""
        # Items are left out: 「あと自転車も」「椅子はいくら？」 name items without replacing them.
        carries = set()
        if und.district:
            carries.add("district")
        if und.dates:
            carries.add("date")
        if not carries or st.confirm is None:
            return None
        hits = []
        for i, change in enumerate(st.confirm.change):
            target = change.transition.target
            slot = self._asked_after(flow, target.name) if target.kind == "goto" else None
            if slot is None:
                continue
            kind = slot.type
            if kind == "choice" and slot.options_from is not None:
                kind = "date"
            if kind in carries:
                hits.append(i)
        return hits[0] if len(hits) == 1 else None

    @staticmethod
    def _asked_after(flow: Flow, name: str | None) -> Slot | None:
        """The slot of the first question reached from state `name` by its default way."""
        seen: set[str] = set()
        while name and name not in seen and len(seen) < 8:
            seen.add(name)
            st = flow.states.get(name)
            if st is None or st.confirm is not None:
                return None
            if st.ask:
                return flow.slots.get(st.ask)
            gotos = [t for t in st.next if t.target.kind == "goto"]
            default = next((t for t in gotos if t.cond is None), gotos[0] if gotos else None)
            name = default.target.name if default else None
        return None

    def _answer_carried(self, frame: dict[str, Any], flow: Flow, st: State) -> bool:
        """The message that chose a change answers the first question the change reaches."""
        if self._carried is None or not st.ask or st.confirm:
            return False
        (und, text), self._carried = self._carried, None  # tried at one question only
        slot = flow.slots[st.ask]
        value = read(slot, und, text, self._options(frame, flow, st), self.r.key)
        if value is NO_ANSWER or value == frame["slots"].get(slot.name):
            return False  # nothing new (「27日は都合が悪い」 names the day being changed)
        return self._answer(frame, flow, st, und, text)

    def _ask_change(self, frame: dict[str, Any], flow: Flow, st: State) -> None:
        labels = [o.label for o in self._change_options(st)]
        msg = (st.confirm.ask_change if st.confirm else None) or self.cfg.ask_change
        if msg:
            self._say(msg, frame, flow, suggestions=labels)
        else:
            self._say_text(DEFAULT_ASK_CHANGE, labels)

    def _miss(
        self,
        frame: dict[str, Any],
        flow: Flow,
        st: State,
        error: Message | None = None,
        names: dict[str, Any] | None = None,
    ) -> None:
        frame["misses"] = frame.get("misses", 0) + 1
        n = frame["misses"]
        ladder = st.retry or self.cfg.retry
        suggestions = self._suggestions(frame, flow, st)
        if n <= len(ladder):
            if error is not None:
                self._say(error, frame, flow, suggestions=suggestions, names=names)
            elif st.retry:
                self._say(st.retry[n - 1], frame, flow, suggestions=suggestions)
            else:
                self._say(self.cfg.retry[n - 1], frame, flow)
                if frame.get("pending") == "change":
                    self._ask_change(frame, flow, st)
                else:
                    self._prompt(frame, flow, st)
            return
        frame["misses"] = 0
        if st.escalate is not None:
            self._fire(frame, flow, "escalate")
        elif self.cfg.escalate is not None:
            self._follow(frame, flow, self.cfg.escalate)
        else:
            self._prompt(frame, flow, st)

    # ---- saying things ----------------------------------------------------------------

    def _options(self, frame: dict[str, Any], flow: Flow, st: State) -> list[Option]:
        slot = flow.slots.get(st.ask or "")
        if slot is None or slot.type != "choice":
            return []
        if slot.options_from is None:
            return slot.options
        try:
            return as_options(slot.options_from.evaluate(self._names(frame, flow)))
        except Exception:
            log.exception("%s.%s: options_from failed", flow.id, st.name)
            return []

    def _suggestions(self, frame: dict[str, Any], flow: Flow, st: State) -> list[str]:
        if st.confirm:
            if frame.get("pending") == "change":
                return [o.label for o in self._change_options(st)]
            return ["はい", "いいえ"]
        return auto_suggestions(flow.slots.get(st.ask or ""), self._options(frame, flow, st))

    def _prompt(self, frame: dict[str, Any], flow: Flow, st: State) -> None:
        if st.say:
            self._say(st.say, frame, flow, suggestions=self._suggestions(frame, flow, st))

    def _names(self, frame: dict[str, Any] | None, flow: Flow | None) -> dict[str, Any]:
        names: dict[str, Any] = {
            "today": self.now.date().isoformat(),
            "now": self.now,
            "channel": self.turn.channel,
            "title": flow.title if flow else "",
            "notices": self.resident.notices_enabled,
            "said": self._said(),
        }
        if frame is not None and flow is not None:
            slots = frame["slots"]
            for name in flow.all_slots:
                names[name] = slots.get(name)
            names.update(result=frame.get("result"), outcome=frame.get("outcome"), data=flow.data)
        return names

    def _said(self) -> dict[str, Any] | None:
        if self._heard is None:
            return None
        if self._said_value is None:  # built once per turn: _names is called often
            und, text = self._heard
            dates = und.dates
            self._said_value = {"text": text, "dates": [d.isoformat() for d in dates]}
        return self._said_value

    def _say(
        self,
        msg: Message,
        frame: dict[str, Any] | None,
        flow: Flow | None,
        *,
        suggestions: list[str] | None = None,
        kind: str = "reply",
        names: dict[str, Any] | None = None,
    ) -> None:
        reply = msg.render(names or self._names(frame, flow), self.turn.channel, self._error_text)
        if not reply.suggestions and suggestions:
            reply.suggestions = list(suggestions)
        reply.kind = kind
        if reply.text:
            self.fx.replies.append(reply)

    def _say_text(self, text: str, suggestions: list[str] | None = None) -> None:
        from bot.turn import Reply

        self.fx.replies.append(Reply(text=text, suggestions=list(suggestions or [])))

    def _error_text(self) -> str:
        err = self.cfg.error
        template = err.template_for(self.turn.channel) if err else None
        if template is None:
            return DEFAULT_ERROR
        try:
            return template.render(self._names(None, None)).strip()
        except Exception:
            return DEFAULT_ERROR

    def _nlu_context(self, top: tuple[dict[str, Any], Flow, State] | None) -> str | None:
        """The NLU's context is the active flow id (its rules may apply only inside a flow)."""
        return top[1].id if top else None
