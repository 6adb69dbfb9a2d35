"""One turn through the flows: a message or a timer in; replies, state and timers out.

A conversation is a stack of frames (top = the active flow). The stored dict is the top
frame's fields plus `stack` (suspended/calling frames, bottom first) and `seq`.

Here: the run loop (a message, a timer), frames, states and transitions, intents, and what
is said. Reading a message as the answer to the question asked is bot.engine.reading;
follow-ups and going back to an earlier question are bot.engine.followups.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from bot.clock import Clock
from bot.engine import followups, reading
from bot.engine.actions import ActionContext, Domain, Effects
from bot.engine.answers import as_options, auto_suggestions
from bot.engine.compiler import ConversationModel, fire
from bot.engine.frames import loaded_frame
from bot.engine.model import Flow, FlowSet, Idle, Option, State, Transition
from bot.engine.templates import Message
from bot.engine.volunteered import stash
from bot.nlu.understanding import Understanding
from bot.store.services import TurnServices
from bot.turn import ResidentContext, TimerRequest, Turn, TurnResult

log = logging.getLogger(__name__)

REMIND, EXPIRE = "flow_idle_remind", "flow_idle_expire"
MAX_FRAMES = 5
MAX_STEPS = 50
DEFAULT_ERROR = "申し訳ありません。うまく処理できませんでした。"


def _stash(und: Understanding) -> dict[str, Any]:
    """What of the opening message later questions may use (JSON-able, kept in the frame)."""
    stash: dict[str, Any] = {}
    dates = [d.isoformat() for d in und.dates]
    if dates:
        stash["dates"] = dates
    if und.district:
        stash["district"] = und.district
    return stash


class _Loop(Exception):
    pass


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
            self.frames = [loaded_frame(f, bottom=i == 0) for i, f in enumerate(stored)]
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
        recent = followups.recent_flow(self) if top is None else None
        und = self.r.nlu.understand(
            text, self.now, context=self._nlu_context(top), recent=recent.id if recent else None
        )
        self._opening = (und, text)
        self._heard = (und, text)
        intent = und.intent
        if reading.small_talk(self, und, top):
            return
        if top is None:
            if recent is not None and followups.follow_up(self, recent, und, text):
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
        if other is not None and other.id != flow.id and clear and reading.yields(self, flow, st):
            self._interrupt(other)
            return
        stash(frame, None if st.confirm else slot, und)
        free_text = slot is not None and slot.type == "text" and not st.confirm
        if followups.back_to_earlier(self, frame, flow, st, und, text, removals_only=True):
            return
        if reading.answer(self, frame, flow, st, und, text):
            return
        if not free_text and followups.back_to_earlier(
            self, frame, flow, st, und, text, removals_only=False
        ):
            return
        if other is not None and other.id != flow.id:
            self._interrupt(other)
            return
        reading.miss(self, frame, flow, st)

    # ---- follow-ups ---------------------------------------------------------------------

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
        if mode != "call" and reading.answer_from_opening(self, frame, flow):
            return
        self._enter(frame, flow, flow.start)

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
        if reading.answer_from_stash(self, frame, flow, st) or reading.answer_carried(
            self, frame, flow, st
        ):
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
                reading.ask_change(self, parent, pflow, pst)
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

    # ---- saying things ----------------------------------------------------------------

    def _options(
        self, frame: dict[str, Any], flow: Flow, st: State, ahead: bool = False
    ) -> list[Option]:
        """The choices of the question `st` asks. `ahead`: a question the conversation has
        not reached (a follow-up after the flow ended is tried against each): choices
        computed from what that path never set are simply none there, not a fault."""
        slot = flow.slots.get(st.ask or "")
        if slot is None or slot.type != "choice":
            return []
        if slot.options_from is None:
            return slot.options
        try:
            return as_options(slot.options_from.evaluate(self._names(frame, flow)))
        except Exception:
            if ahead:
                log.debug("%s.%s: no choices yet", flow.id, st.name)
            else:
                log.exception("%s.%s: options_from failed", flow.id, st.name)
            return []

    def _suggestions(self, frame: dict[str, Any], flow: Flow, st: State) -> list[str]:
        if st.confirm:
            if frame.get("pending") == "change":
                return [o.label for o in reading.change_options(self, st)]
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
