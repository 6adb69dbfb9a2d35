"""One claimed inbox row → one turn → the Completion the store writes with it.

Backend-neutral: the store claims rows and runs `TurnRunner.handle` inside the turn's
transaction (bot.store.base.TurnHandler); nothing here touches SQL or threads.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.clock import TOKYO, Clock
from bot.metrics import Metrics
from bot.store.records import (
    COUNTRY,
    FLOOD_FIRST,
    Claimed,
    Completion,
    FaqMiss,
    NewOutbox,
    ResidentRow,
    Timer,
)
from bot.store.services import TurnServices
from bot.system_texts import SystemTexts
from bot.turn import Reply, ResidentContext, Responder, Turn, TurnResult

log = logging.getLogger("bot.pipeline")

HANDOFF_EXPIRY = "handoff_expire"
DEFAULT_HANDOFF_HOURS = 72.0

# Providers whose replies are returned to the caller instead of sent by the delivery worker.
LOCAL_PROVIDERS = frozenset({"sim", "replay", "chat"})

_NOBODY = ResidentRow(id="")
RESIDENT_TEXTS = frozenset({"district", "town"})


class Answer(Protocol):
    """What a first look decided (bot.notices.answers.Answered)."""

    reply: str
    handoff: bool
    staff_note: str | None


class FirstLook(Protocol):
    """Looks at a message before the flows do (a notice's question being answered); None:
    the flows answer it as usual. Runs in the turn's transaction, like an action."""

    def take(
        self,
        resident_id: str,
        text: str,
        postback: str | None,
        services: TurnServices,
        now: datetime,
    ) -> Answer | None: ...


@runtime_checkable
class Understands(Protocol):
    """A responder that can say what a text asks for (the pipeline's handoff rules use it)."""

    def intent(self, text: str, now: datetime) -> str | None: ...


class TurnRunner:
    """bot.store.base.TurnHandler over a Responder (the flow engine)."""

    def __init__(
        self,
        responder: Responder,
        clock: Clock,
        texts: SystemTexts,
        max_chars: int = 2000,
        handoff_hours: float = DEFAULT_HANDOFF_HOURS,
        first_look: FirstLook | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.responder = responder
        self.first_look = first_look
        self.clock = clock
        self.texts = texts
        self.max_chars = max_chars
        self.handoff_hours = handoff_hours
        self.metrics = metrics
        self.last_error: BaseException | None = None  # for replay's failure messages

    # ---- TurnHandler -------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def handle(self, item: Claimed, services: TurnServices, now: datetime) -> Completion:
        if item.limited is not None and item.kind == "message":
            return self._limited(item)
        person = item.resident or _NOBODY
        resident = ResidentContext(
            resident=item.resident_id,
            notices_enabled=person.notices_enabled,
            handoff=person.handoff,
            district=person.district,
            town=person.town,
        )
        turn = _turn(item)
        done = Completion()
        if turn.kind == "message" and person.failed_turns:
            done.failed_turns = 0  # a message worked again
        if turn.kind == "message" and self._answered(item, turn, services, now, done):
            return done
        if resident.handoff and self._during_handoff(item, turn, resident, now, done):
            return done
        outcome = self.responder.respond(turn, item.conversation, resident, services)
        self._apply(outcome, done)
        if outcome.resident_updates.get("handoff") and not any(
            timer.name == HANDOFF_EXPIRY for timer in outcome.timers
        ):
            # Nobody stays silenced if staff never answer: the bot takes over again later.
            # (The city's handoff action sets it to the closing time instead.)
            due = now + timedelta(hours=self.handoff_hours)
            done.timers.append(Timer(HANDOFF_EXPIRY, due))
        notices = bool(outcome.resident_updates.get("notices_enabled", resident.notices_enabled))
        self._write_replies(item, self._system_notes(turn) + outcome.replies, notices, done)
        return done

    def failed(self, item: Claimed, error: BaseException, now: datetime) -> Completion:
        self.last_error = error
        log.error(
            "processing failed",
            extra={"inbox_id": item.id, "error": type(error).__name__},
            exc_info=error,
        )
        done = Completion(status="failed")
        if item.kind != "message":
            return done  # a timer answers nobody, and does not count towards a restart
        # A resident's messages failing twice running points at what is stored for them
        # (a conversation the engine cannot resume, data that changed under it): start
        # them afresh rather than answer every message with the same apology.
        again = (item.resident or _NOBODY).failed_turns >= 1
        restart = again and item.conversation is not None
        done.failed_turns = 0 if restart else 1
        if restart:
            done.save_conversation, done.conversation = True, None
            log.error("conversation restarted after repeated failures", extra={"inbox_id": item.id})
        text = self.texts.get("error_restart" if restart else "error")
        self._write_replies(item, [Reply(text)], True, done)
        return done

    # ---- the parts -----------------------------------------------------------------------

    def _limited(self, item: Claimed) -> Completion:
        """A message over its sender's flood limit, or from a country not served: stored
        and done, without a turn of the flows. The first of a flood gets a short note
        (flows/system.yaml `flood`); nothing else is sent."""
        done = Completion()
        if item.limited == FLOOD_FIRST:
            self._write_replies(item, [Reply(self.texts.get("flood"))], True, done)
        if self.metrics is not None:
            reason = "country" if item.limited == COUNTRY else "flood"
            self.metrics.replies_suppressed.labels(reason).inc()
        return done

    def _during_handoff(
        self, item: Claimed, turn: Turn, resident: ResidentContext, now: datetime, done: Completion
    ) -> bool:
        """A person is handling this resident. True when the turn is dealt with here; False
        when it goes to the flows as usual (配信停止 / 配信再開 still work)."""
        if turn.kind == "timer":
            if turn.timer != HANDOFF_EXPIRY:
                return False
            done.resident["handoff"] = False
            back = turn.payload.get("back")
            text = (
                self.texts.get("handoff_closed", back=back)
                if back
                else self.texts.get("handoff_expired")
            )
            self._write_replies(item, [Reply(text, kind="notice")], True, done)
            return True
        intent = self._intent(turn, now)
        if intent in {"stop_notices", "resume_notices"}:
            return False
        if intent == "help":
            self._write_replies(item, [Reply(self.texts.get("handoff_help"))], True, done)
            return True
        if intent == "cancel":
            done.resident["handoff"] = False
            done.cancel_timers.append(HANDOFF_EXPIRY)
            done.save_conversation, done.conversation = True, None
            self._write_replies(item, [Reply(self.texts.get("handoff_ended"))], True, done)
            return True
        # Anything else is for staff: the bot stays silent and staff see the message.
        done.staff_notes.append(("message", turn.text))
        return True

    def _answered(
        self, item: Claimed, turn: Turn, services: TurnServices, now: datetime, done: Completion
    ) -> bool:
        """A notice's question answered: tallied, and a handoff answer goes to staff now."""
        if self.first_look is None:
            return False
        answer = self.first_look.take(item.resident_id, turn.text, turn.postback, services, now)
        if answer is None:
            return False
        if answer.handoff:
            done.resident["handoff"] = True
            done.timers.append(Timer(HANDOFF_EXPIRY, now + timedelta(hours=self.handoff_hours)))
            if answer.staff_note:
                done.staff_notes.append(("handoff", answer.staff_note))
        self._write_replies(item, [Reply(answer.reply)], True, done)
        return True

    def _intent(self, turn: Turn, now: datetime) -> str | None:
        if not turn.text or not isinstance(self.responder, Understands):
            return None
        return self.responder.intent(turn.text, now)

    def _system_notes(self, turn: Turn) -> list[Reply]:
        notes = []
        if turn.redactions:
            notes.append(Reply(self.texts.get("redacted")))
        if turn.truncated:
            notes.append(Reply(self.texts.get("truncated", limit=self.max_chars)))
        return notes

    @staticmethod
    def _apply(outcome: TurnResult, done: Completion) -> None:
        done.save_conversation, done.conversation = True, outcome.conversation
        for key, value in outcome.resident_updates.items():
            # Flags are stored as such; the district and town the resident gave as text.
            done.resident[key] = value if key in RESIDENT_TEXTS else bool(value)
        done.cancel_timers += outcome.cancel_timers
        done.timers += [Timer(t.name, t.due_at, t.payload) for t in outcome.timers]
        done.staff_notes += [("note", note) for note in outcome.staff_notes]
        done.faq_misses += [m for m in map(FaqMiss.of, outcome.faq_misses) if m is not None]

    @staticmethod
    def _write_replies(
        item: Claimed, replies: list[Reply], notices: bool, done: Completion
    ) -> None:
        provider, channel = item.provider, item.channel
        if provider == "timer":
            person = item.resident or _NOBODY
            provider = person.last_provider or "sim"
            channel = person.last_channel or channel
        start = len(done.outbox)
        for index, reply in enumerate(replies, start):
            if reply.kind == "notice" and not notices:
                status = "suppressed"  # the resident asked for no unsolicited messages
            elif provider in LOCAL_PROVIDERS:
                status = "sent"  # returned to the caller directly
            else:
                status = "pending"
            done.outbox.append(
                NewOutbox(
                    provider=provider,
                    channel=channel,
                    text=reply.text,
                    idempotency_key=f"{item.id}-{index}",
                    kind=reply.kind,
                    suggestions=reply.suggestions,
                    status=status,
                )
            )


def _turn(item: Claimed) -> Turn:
    is_timer = item.kind == "timer"
    return Turn(
        kind=item.kind,
        resident=item.resident_id,
        channel=item.channel,
        received_at=item.received_at.astimezone(TOKYO),
        text="" if is_timer else item.text,
        postback=item.postback,
        timer=item.text if is_timer else None,
        payload=item.payload,
        redactions=item.redactions,
        truncated=item.truncated,
    )
