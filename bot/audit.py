"""The audit log: who did what, when, to which resident — append-only and tamper-evident.

`Audit(work.audit, now).record(actor, action, resident_id=None, subject=None, detail=...)`
writes an entry inside a unit of staff work (bot.store.base.Console), so an action and its
entry are committed together or not at all; other owners pass a `NewAuditEntry` to the
store method that makes the change (docs/architecture.md, "The audit log"). The store
links each entry with an `AuditChain` (below) it was given when it was opened.

Each entry carries the MAC of the one before it and its own MAC over both:

    mac(n) = HMAC-SHA256(key, canonical(seq, at, actor, action, resident_id, subject,
                                        detail, mac(n-1)))

A plain hash chain (mac = SHA-256(...)) proves nothing against someone who can write the
database: they edit a row and recompute every hash after it. The HMAC needs the key, which
is derived from BOT_SECRET_KEY and never stored in the database, so an edited, inserted or
deleted row breaks the chain for anyone who checks (`bot audit verify`). The head (the last
seq and its MAC, sealed with the key too) catches rows cut from the end. Each entry is also
logged (seq and a MAC prefix): a copy outside the database that a restored old file
cannot match. Someone who holds the key as well can rewrite everything — keep logs apart.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.clock import TOKYO
from bot.store.console import AuditLog
from bot.store.records import AuditRow, NewAuditEntry

log = logging.getLogger("bot.audit")

GENESIS = "0" * 64
ACTION_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")

# What staff see for each action (the console and the CSV export). Other owners add theirs.
ACTION_LABELS: dict[str, str] = {
    "login.ok": "ログイン",
    "login.failed": "ログイン失敗",
    "login.locked": "ログインの一時停止",
    "logout.ok": "ログアウト",
    "access.denied": "権限のない操作",
    "password.changed": "パスワード変更",
    "totp.enrolled": "2段階認証の登録",
    "totp.removed": "2段階認証の解除",
    "account.created": "アカウント作成",
    "account.disabled": "アカウント停止",
    "account.enabled": "アカウント再開",
    "account.reset": "パスワード再発行",
    "account.role_changed": "権限の変更",
    "conversation.view": "会話の閲覧",
    "conversation.reply": "返信",
    "conversation.returned": "ボットに戻す",
    "conversation.assigned": "担当の割り当て",
    "resident.search": "住民の検索",
    "resident.view": "住民情報の閲覧",
    "booking.changed": "予約の変更（代理）",
    "booking.cancelled": "予約の取消（代理）",
    "notices.setting_changed": "お知らせ設定の変更（代理）",
    "audit.viewed": "監査ログの閲覧",
    "audit.exported": "監査ログの書き出し",
    "audit.verified": "監査ログの検証",
    "notice.drafted": "お知らせの作成",
    "notice.edited": "お知らせの編集",
    "notice.approved": "お知らせの承認",
    "notice.sending": "お知らせの送信開始",
    "notice.cancelled": "お知らせの中止",
    "notice.test_sent": "お知らせのテスト送信",
    "notice.exported": "お知らせ集計の書き出し",
}


def audit_key(secret: bytes) -> bytes:
    """The chain's key, derived from the server secret (never stored)."""
    return hmac.new(secret, b"audit-chain/v1", hashlib.sha256).digest()


def _mac(key: bytes, fields: tuple) -> str:
    """fields: (seq, at, actor, action, resident_id, subject, detail, prev_mac) as stored."""
    canonical = json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _stamp(at: datetime) -> str:
    """The stored form of an entry's time: UTC with microseconds (text order = time order)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _fields(row: AuditRow) -> tuple:
    """What the MAC covers: every stored field but the MAC itself."""
    return astuple(row)[:-1]


class AuditChain:
    """The chain's arithmetic with its key (bot.store.base.AuditSealer): the store links
    each entry with it inside the transaction that appends it; `verify` checks with it."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret: bytes) -> AuditChain:
        return cls(audit_key(secret))

    def link(self, entry: NewAuditEntry, previous: AuditRow | None) -> AuditRow:
        if not ACTION_RE.match(entry.action):
            raise ValueError(f"audit action must look like 'thing.done', not {entry.action!r}")
        if not entry.actor:
            raise ValueError("an audit entry needs an actor")
        seq = previous.seq + 1 if previous else 1
        fields = (
            seq,
            _stamp(entry.at),
            entry.actor,
            entry.action,
            entry.resident_id,
            entry.subject,
            json.dumps(entry.detail, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
            previous.mac if previous else GENESIS,
        )
        mac = _mac(self._key, fields)
        # Outside the database: seq and a MAC prefix let anyone holding the logs notice a
        # database file restored from before this entry.
        log.info("audit", extra={"seq": seq, "action": entry.action, "mac": mac[:16]})
        return AuditRow(*fields, mac=mac)

    def seal(self, row: AuditRow) -> str:
        return hmac.new(self._key, f"head:{row.seq}:{row.mac}".encode(), hashlib.sha256).hexdigest()

    def intact(self, row: AuditRow) -> bool:
        return hmac.compare_digest(_mac(self._key, _fields(row)), row.mac)

    def sealed(self, seal: str, row: AuditRow) -> bool:
        return hmac.compare_digest(seal, self.seal(row))


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime  # UTC
    actor: str
    action: str
    resident_id: str | None
    subject: str | None
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEntry:
        return cls(
            seq=row.seq,
            at=datetime.fromisoformat(row.at),
            actor=row.actor,
            action=row.action,
            resident_id=row.resident_id,
            subject=row.subject,
            detail=json.loads(row.detail),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.astimezone(TOKYO).isoformat(timespec="seconds"),
            "actor": self.actor,
            "action": self.action,
            "label": ACTION_LABELS.get(self.action, self.action),
            "resident_id": self.resident_id,
            "subject": self.subject,
            "detail": self.detail,
        }


class Audit:
    """Entries written in one unit of staff work (its `audit` log), stamped with `now`."""

    def __init__(self, log: AuditLog, now: datetime) -> None:
        self._log = log
        self._now = now

    def record(
        self,
        actor: str,
        action: str,
        resident_id: str | None = None,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry. `detail` holds ids, counts and codes — never a resident's
        text or number (the log is kept longer than the texts it refers to). Words staff
        type go under a key ending in reason/text/note/message/comment: those are sealed at
        rest (bot.store.codec.FREE_TEXT_KEYS) and opened for the audit page and export."""
        entry = NewAuditEntry(self._now, actor, action, resident_id, subject, detail or {})
        return AuditEntry.from_row(self._log.append(entry))


@dataclass
class Verification:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(log: AuditLog, batch: int = 1000) -> Iterable[AuditRow]:
    """Every entry in seq order, read in batches (the log can be long)."""
    after = -1
    while rows := log.entries(after, batch):
        yield from rows
        after = rows[-1].seq


def verify(log: AuditLog, chain: AuditChain, max_problems: int = 20) -> Verification:
    """Walk the chain: each entry's MAC, its link to the one before, no gap in seq, and
    the sealed head at the last entry. Problems name the seq where the chain breaks."""
    result = Verification()

    def problem(text: str) -> None:
        if len(result.problems) < max_problems:
            result.problems.append(text)

    expected_seq, prev_mac = 1, GENESIS
    last: AuditRow | None = None
    for row in _entries(log):
        result.checked += 1
        if row.seq != expected_seq:
            problem(f"seq {row.seq}: expected seq {expected_seq} (entries missing or inserted)")
        if row.prev_mac != prev_mac:
            problem(f"seq {row.seq}: does not follow the entry before it (deleted or inserted)")
        if not chain.intact(row):
            problem(f"seq {row.seq}: its content does not match its MAC (edited)")
        expected_seq, prev_mac, last = row.seq + 1, row.mac, row
    head = log.head()
    if last is None:
        if head is not None:
            problem(f"the log is empty but its head says {head.seq} entries were written")
    elif head is None:
        problem("the head of the log is missing")
    elif head.seq != last.seq or not chain.sealed(head.seal, last):
        problem(
            f"the head says entry {head.seq} is the last, the table ends at {last.seq} "
            "(entries cut from the end, or the head was changed)"
        )
    return result


CSV_COLUMNS = [
    "seq",
    "at_jst",
    "at_utc",
    "actor",
    "action",
    "label",
    "resident_id",
    "subject",
    "detail",
]


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """CSV with a BOM (Excel opens it as UTF-8), JST and UTC times, one entry per row."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.seq,
                entry.at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S"),
                _stamp(entry.at),
                _cell(entry.actor),
                entry.action,
                ACTION_LABELS.get(entry.action, entry.action),
                entry.resident_id or "",
                _cell(entry.subject or ""),
                _cell(json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
