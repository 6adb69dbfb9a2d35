"""Typed values that cross the store seam (every backend returns and accepts these).

Times are aware datetimes; JSON-shaped fields (payloads, suggestions, conversation state)
are plain Python values. How a backend stores them is its own business.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.redact import for_staff

# The order the delivery claim takes rows in: residents' replies first; a turn's own
# notices (reminders) after emergency notices (categories' priorities: flows/data/notices.yaml).
REPLY_PRIORITY = 0
REMINDER_PRIORITY = 2

# Delivery statuses only move forward; a late "sent" never overwrites "delivered".
STATUS_RANK = {
    "pending": 0,
    "sending": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "failed": 6,
    "undelivered": 6,
    "suppressed": 6,
    "expired": 6,  # a staff notice dropped at its expiry
    "cancelled": 6,  # a staff notice dropped when staff cancelled it
}


# ---- intake ------------------------------------------------------------------------------


@dataclass
class InboundRow:
    """One inbound message (or due timer) as stored: already hashed, encrypted, redacted."""

    provider: str
    provider_message_id: str  # unique per provider: a second copy is a duplicate
    resident_id: str
    phone_enc: bytes | None  # None for rows the bot makes itself (timers)
    channel: str
    received_at: datetime
    kind: str = "message"  # message | timer
    text: str = ""
    postback: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    redactions: list[str] = field(default_factory=list)
    truncated: bool = False
    # Over a flood limit or from a country not served (bot.channels.guards): stored and
    # processed, answered with a short note or not at all. None: answered as usual.
    limited: str | None = None


@dataclass(frozen=True)
class Ingested:
    inbox_id: int
    duplicate: bool
    # Why this one row could not be stored (its own values were refused) while the rest of
    # its group commit went through; None when it was stored or found stored.
    error: str | None = None


@dataclass(frozen=True)
class StoreHealth:
    """Store.health(): ok, or the problem and one line for operators (no personal data)."""

    ok: bool
    problem: str | None = None  # deleted | replaced | corrupt | unreadable | unwritable | …
    detail: str = ""


# ---- flood limits per sender (bot.channels.guards; kept by the store: Store.sender_limits) --

# How a stored message is limited (InboundRow.limited): the pipeline answers the first
# message over a sender's limit with a short note, and the rest of that flood not at all.
FLOOD_FIRST = "flood_first"
FLOOD = "flood"
COUNTRY = "country"  # a country the city does not serve: stored, never answered


@dataclass(frozen=True)
class FloodVerdict:
    allowed: bool
    reason: str = ""  # "sender_minute" | "sender_hour"
    first: bool = False  # the first message over the limit since the sender was last within it

    @property
    def limited(self) -> str | None:
        """What the stored row carries (None: answer as usual)."""
        if self.allowed:
            return None
        return FLOOD_FIRST if self.first else FLOOD


@dataclass(frozen=True)
class FloodLimits:
    """Sliding-window limits per sender: a message is within them when fewer than
    `per_minute` of the sender's messages within them came in the last minute and fewer
    than `per_hour` in the last hour. Messages over the limits do not count towards them."""

    per_minute: int
    per_hour: int

    def judge(self, times: list[float], noted: bool, now: float) -> tuple[FloodVerdict, bool]:
        """One message at `now` (seconds) from a sender whose messages within the limits came
        at `times` (oldest first; updated in place: those older than an hour dropped, `now`
        added when within) and who was sent the note already in this flood (`noted`).
        Returns the verdict and whether the sender counts as noted now. The one rule for
        every keeper of the counts (one process's memory, or the database)."""
        del times[: bisect_right(times, now - 3600)]
        reason = ""
        if len(times) >= self.per_hour:
            reason = "sender_hour"
        elif len(times) - bisect_right(times, now - 60) >= self.per_minute:
            reason = "sender_minute"
        if reason:
            return FloodVerdict(False, reason, first=not noted), True
        times.append(now)
        return FloodVerdict(True), False


# ---- processing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentRow:
    id: str
    notices_enabled: bool = True
    handoff: bool = False
    last_provider: str | None = None
    last_channel: str | None = None
    failed_turns: int = 0
    # The 地区 and 町名 the resident gave once (ごみの収集日), never an address.
    district: str | None = None
    town: str | None = None


@dataclass
class Claimed:
    """A pending inbox row claimed for processing, with what the turn reads of its resident."""

    id: int
    provider: str
    resident_id: str
    channel: str
    kind: str
    text: str
    postback: str | None
    payload: dict[str, Any]
    redactions: list[str]
    truncated: bool
    received_at: datetime
    resident: ResidentRow | None
    conversation: dict[str, Any] | None
    limited: str | None = None  # InboundRow.limited


@dataclass(frozen=True)
class Timer:
    """A resident's named timer (set again by name: replaced)."""

    name: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewOutbox:
    """A message to send, written with the turn that produced it."""

    provider: str
    channel: str
    text: str
    idempotency_key: str
    kind: str = "reply"  # reply | notice
    suggestions: list[str] = field(default_factory=list)
    status: str = "pending"  # pending | sent (local providers) | suppressed
    priority: int | None = None  # None: 0 for a reply, REMINDER_PRIORITY for a notice


@dataclass
class Completion:
    """Everything one turn changes, written in the same transaction as its inbox row's
    status (the row is `done` or `failed` with its replies, state and timers, or not at all)."""

    status: str = "done"  # done | failed
    save_conversation: bool = False
    conversation: dict[str, Any] | None = None  # None with save_conversation: forget it
    # notices_enabled, handoff (flags); district, town (texts, None to forget them)
    resident: dict[str, bool | str | None] = field(default_factory=dict)
    failed_turns: int | None = None
    cancel_timers: list[str] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)  # after the cancels: set wins
    staff_notes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    outbox: list[NewOutbox] = field(default_factory=list)
    faq_misses: list[FaqMiss] = field(default_factory=list)  # counted for staff


@dataclass
class BatchResult:
    inbox_ids: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    outbox_rows: int = 0
    residents: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent a resident, as the simulator, replay and chat show it."""

    id: int
    text: str
    suggestions: list[str]
    kind: str
    channel: str
    inbox_id: int | None
    notice_id: str | None = None  # a staff notice (its text filled in from the notice)
    at: datetime | None = None  # when the bot wrote it (the bot's clock)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "suggestions": self.suggestions,
            "kind": self.kind,
            "inbox_id": self.inbox_id,
            "channel": self.channel,
        }


# ---- delivery ------------------------------------------------------------------------------


@dataclass
class OutboxItem:
    """An outbox row claimed for sending, with the resident's encrypted number."""

    id: int
    resident_id: str
    provider: str
    channel: str
    kind: str
    text: str
    suggestions: list[str]
    created_at: datetime
    attempts: int
    idempotency_key: str
    provider_message_id: str | None = None
    phone_enc: bytes | None = None
    notices_enabled: bool = True
    priority: int = 0  # the claim's order: replies 0, then notices by category (1 first)
    notice_id: str | None = None  # a staff notice (its texts are the notice's, filled in)
    sms_text: str | None = None  # the SMS exactly as composed (used when this goes by SMS)
    card: dict[str, Any] | None = None  # a +メッセージ card (bot.delivery.render.card_for)
    expires_at: datetime | None = None  # never sent after this
    # Since when an earlier attempt may have reached the provider without our knowing (a
    # crash mid-send, a timeout): look for it there before sending again (Channel.reconcile).
    in_doubt_since: datetime | None = None


@dataclass(frozen=True)
class SentMark:
    outbox_id: int
    provider_message_id: str | None
    at: datetime


# ---- the staff desk (handoff) ------------------------------------------------------------------

STAFF_KEY_PREFIX = "staff-"  # outbox idempotency keys of staff replies (author = staff)


@dataclass(frozen=True)
class StaffNote:
    resident_id: str
    kind: str  # handoff | message | note
    text: str
    created_at: datetime
    id: int | None = None


# ---- the staff console: accounts and sessions (owner "accounts") -------------------------------


@dataclass(frozen=True)
class StaffAccount:
    id: int
    name: str
    role: str  # operator | editor | approver | admin (bot.staff.roles)
    password_hash: str  # argon2id, PHC string
    password_temporary: bool  # a one-time password: changed at the first sign-in
    password_expires_at: datetime | None
    totp_secret: bytes | None  # sealed (encrypted) by bot.staff.accounts.Credentials
    totp_enabled: bool
    totp_last_step: int  # the last TOTP time step used: a code is accepted once
    disabled: bool
    failed_logins: int  # in a row
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class StaffSession:
    id_hash: str  # SHA-256 of the cookie value (the value itself is never stored)
    account: StaffAccount
    stage: str  # totp | change_password | enrol_totp | ready
    created_at: datetime
    last_seen_at: datetime


# ---- the audit log (owner "audit") --------------------------------------------------------------


@dataclass(frozen=True)
class NewAuditEntry:
    """Who did what, when, to which resident: appended in the transaction of the action it
    records (bot.store.base.AuditLog.append). `detail` holds ids, counts and codes, never a
    resident's text or number."""

    at: datetime
    actor: str  # an account name, or cli:<os user>
    action: str  # thing.done (bot.audit.ACTION_LABELS)
    resident_id: str | None = None
    subject: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRow:
    """An entry as stored: texts exactly as the sealer made them (its MAC covers them)."""

    seq: int
    at: str  # UTC ISO 8601
    actor: str
    action: str
    resident_id: str | None
    subject: str | None
    detail: str  # canonical JSON
    prev_mac: str
    mac: str


@dataclass(frozen=True)
class AuditHead:
    """The last entry's seq and its seal (bot.store.base.AuditSealer.seal): catches entries
    cut from the end of the log."""

    seq: int
    seal: str


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # a prefix: "booking." finds every booking action
    resident_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


# ---- the staff console: cases (owner "console") --------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A resident in staff's hands: handed over, with a message nobody has dealt with, or
    opened by staff (a lookup for someone on the phone, an urgent notice answer)."""

    resident_id: str
    handoff: bool
    channel: str | None
    opened_by: str  # handoff (with a person now) | message (left for staff) | lookup | notice
    urgent: bool
    since: datetime  # the oldest thing waiting (or when the case was opened)
    last_at: datetime  # the latest note (or since)
    unread: int  # notes the asking account has not seen
    waiting: int  # notes nobody has dealt with yet
    assigned_id: int | None
    assigned_to: str | None


@dataclass(frozen=True)
class CaseState:
    """An open case's own row: who opened it, how urgent, whose it is."""

    opened_at: datetime
    opened_by: str
    urgent: bool
    assigned_id: int | None
    assigned_to: str | None


# Where a transcript page starts or ends: (time, inbox id, outbox id) of an entry, in the
# order the transcript is read (a bot reply right after the message it answers).
Cursor = tuple[datetime, int, int]


@dataclass(frozen=True)
class TranscriptEntry:
    who: str  # resident | staff | bot
    text: str  # as stored (redacted)
    channel: str | None
    at: datetime
    kind: str = "message"
    status: str | None = None
    suggestions: list[str] = field(default_factory=list)
    author: str | None = None  # the account that wrote a staff reply


@dataclass(frozen=True)
class TranscriptPage:
    entries: list[TranscriptEntry]  # oldest first
    older: Cursor | None  # pass as `before` for the page before this one (None: no more)
    newest: Cursor | None  # pass as `after` to fetch what came since


# ---- bookings (the 粗大ごみ owner) ---------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    receipt: str
    resident_id: str
    district: str
    town: str | None
    collection_date: date
    items: tuple[dict[str, Any], ...]  # fee lines as JSON (bot.domain.fees.Line.to_json)
    item_count: int
    fee_total: int
    status: str  # booked | cancelled | changed
    created_at: str
    updated_at: str
    source_ref: str | None

    @property
    def active(self) -> bool:
        return self.status in ("booked", "changed")


@dataclass(frozen=True)
class NewBooking:
    receipt: str
    resident_id: str
    district: str
    town: str | None
    collection_date: date
    items: tuple[dict[str, Any], ...]
    item_count: int
    fee_total: int
    at: datetime
    source_ref: str | None = None


# ---- notices (owner "notices") -------------------------------------------------------------


@dataclass(frozen=True)
class NoticeButton:
    """An RCS card button: open a city URL, call a number, or reply with a choice."""

    label: str
    url: str | None = None
    dial: str | None = None
    reply: str | None = None


@dataclass(frozen=True)
class NoticeCard:
    title: str
    description: str = ""
    image: str | None = None  # the image's file name (the bytes are stored apart)
    buttons: tuple[NoticeButton, ...] = ()


@dataclass(frozen=True)
class NoticeAsk:
    question: str
    choices: tuple[str, ...]
    handoff: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoticeContent:
    """What staff compose (a notice file, or the console's form)."""

    title: str
    category: str  # emergency | important | regular
    topic: str
    text: str  # as staff wrote it: 【さくら市】 first
    districts: tuple[str, ...] = ()
    booked_on: date | None = None
    card: NoticeCard | None = None
    ask: NoticeAsk | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    list_file: str | None = None  # the recipient list's file name (its numbers are apart)

    @property
    def audience_mode(self) -> str:
        """list (the list alone decides), booked (a collection day), or the category's."""
        if self.list_file:
            return "list"
        if self.booked_on:
            return "booked"
        return "category"

    def to_json(self) -> dict[str, Any]:
        """A plain JSON object (how backends store it; the console sends the same shape)."""
        card = self.card
        ask = self.ask
        return {
            "title": self.title,
            "category": self.category,
            "topic": self.topic,
            "text": self.text,
            "districts": list(self.districts),
            "booked_on": self.booked_on.isoformat() if self.booked_on else None,
            "rich": None
            if card is None
            else {
                "title": card.title,
                "description": card.description,
                "image": card.image,
                "buttons": [
                    {k: v for k, v in vars(b).items() if v is not None} for b in card.buttons
                ],
            },
            "ask": None
            if ask is None
            else {
                "question": ask.question,
                "choices": list(ask.choices),
                "handoff": list(ask.handoff),
            },
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "list": self.list_file,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoticeContent:
        rich, ask = data.get("rich"), data.get("ask")
        return cls(
            title=data["title"],
            category=data["category"],
            topic=data["topic"],
            text=data["text"],
            districts=tuple(data.get("districts") or ()),
            booked_on=date.fromisoformat(data["booked_on"]) if data.get("booked_on") else None,
            card=None
            if not rich
            else NoticeCard(
                title=rich["title"],
                description=rich.get("description") or "",
                image=rich.get("image"),
                buttons=tuple(NoticeButton(**b) for b in rich.get("buttons") or ()),
            ),
            ask=None
            if not ask
            else NoticeAsk(
                question=ask["question"],
                choices=tuple(ask["choices"]),
                handoff=tuple(ask.get("handoff") or ()),
            ),
            send_at=datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None,
            expires_at=datetime.fromisoformat(data["expires_at"])
            if data.get("expires_at")
            else None,
            list_file=data.get("list"),
        )


@dataclass(frozen=True)
class ListEntry:
    """A number from the city's own list, hashed and encrypted like every number."""

    resident_id: str
    phone_enc: bytes


@dataclass(frozen=True)
class NoticeRendering:
    """What residents' phones show, worked out once when the notice is saved."""

    sms_text: str  # the whole SMS: text, question with numbered choices, opt-out line
    rcs_text: str  # +メッセージ: the same without the numbered choices (chips instead)
    suggestions: tuple[str, ...]  # the ask's choices (RCS chips)
    segments: int


@dataclass(frozen=True)
class NewNotice:
    content: NoticeContent
    rendering: NoticeRendering
    by: str
    at: datetime
    image: tuple[str, bytes] | None = None  # (content type, bytes)
    recipients: tuple[ListEntry, ...] = ()  # with a list audience


@dataclass(frozen=True)
class NoticeRule:
    """What the notice's category decides for storage (flows/data/notices.yaml)."""

    audience: str  # subscribers | subscribers_and_known
    priority: int
    weekly_cap: int | None = None


@dataclass(frozen=True)
class Notice:
    id: str
    content: NoticeContent
    rendering: NoticeRendering
    state: str  # draft | approved | scheduled | sending | sent | cancelled | expired
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    send_at: datetime | None = None  # when sending may start (set on approval)
    expires_at: datetime | None = None  # after this nothing more is delivered
    cancelled_by: str | None = None
    finished_at: datetime | None = None
    fanout_done: bool = False
    list_count: int = 0  # numbers imported from the city's list
    has_image: bool = False
    queued_total: int = 0  # outbox rows made by fan-out
    skipped_stopped: int = 0
    skipped_cap: int = 0


@dataclass(frozen=True)
class AudienceCount:
    recipients: int  # who would get it now
    stopped: int  # in the audience but stopped all notices (or this topic)
    weekly_cap: int  # in the audience but over the weekly cap


@dataclass(frozen=True)
class FanOutStep:
    queued: int
    stopped: int
    weekly_cap: int
    done: bool


@dataclass(frozen=True)
class NoticeCounts:
    """A notice's outbox rows by where they are (kind notice only; test sends apart)."""

    queued: int = 0  # pending or being sent
    sent: int = 0  # handed to a provider (whatever happened after)
    delivered: int = 0  # delivered or read
    read: int = 0
    failed: int = 0  # failed or undelivered
    suppressed: int = 0  # stopped after being queued
    expired: int = 0  # dropped: past the expiry
    cancelled: int = 0  # dropped: cancelled


@dataclass(frozen=True)
class ProgressPoint:
    at: datetime
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int


@dataclass(frozen=True)
class Route:
    """How to reach a resident the bot has never heard from (an imported number)."""

    provider: str
    channel: str


@dataclass(frozen=True)
class OpenAsk:
    """The latest question a resident was sent and has not answered (bot.notices.answers)."""

    notice_id: str
    title: str
    topic: str
    choices: tuple[str, ...]
    handoff: tuple[str, ...]
    sent_at: datetime
    latest: bool  # nothing else was sent to the resident after it


@dataclass(frozen=True)
class Subscription:
    topic: str
    active: bool
    since: datetime  # the consent (or the stop, when not active)


# ---- the city FAQ -------------------------------------------------------------------------


@dataclass(frozen=True)
class FaqMiss:
    """A question the city FAQ could not answer, as staff may see it: redacted, never who
    asked. `key` makes the same question written the same way one counted row."""

    key: str  # the text folded: NFKC, lower case, no spaces
    text: str

    @classmethod
    def of(cls, question: str) -> FaqMiss | None:
        shown = for_staff(question)
        key = "".join(shown.lower().split())
        return cls(key, shown) if key else None


@dataclass(frozen=True)
class FaqMissCount:
    text: str
    count: int
    first_at: datetime
    last_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "count": self.count,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
        }
