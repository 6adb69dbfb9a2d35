"""Signing in, step by step, and the limits on guessing.

Every attempt (password or code) is counted as a failure *before* it is checked — against
the account and against the client's address — and taken back when it succeeds. So
concurrent guesses cannot slip past the limit while the slow hash runs: after
`lock_account_after` failures in a row an account is locked, after `lock_client_after`
failures within the window an address is, each for `lock_for`; a locked attempt gets 429
without its password being looked at."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from bot.audit import Audit
from bot.staff import accounts, sessions
from bot.staff.accounts import Credentials
from bot.staff.config import StaffConfig
from bot.store.console import ConsoleWork
from bot.store.records import StaffAccount, StaffSession

log = logging.getLogger("bot.staff")

UNKNOWN_ACTOR = "unknown"  # never the name typed: it may be a password in the wrong field


@dataclass(frozen=True)
class Gate:
    """The start of an attempt: refused (locked until…) or counted, with the account."""

    locked_until: datetime | None
    account: StaffAccount | None = None


def begin_attempt(
    work: ConsoleWork, config: StaffConfig, client: str, name: str, now: datetime
) -> Gate:
    until = work.sign_ins.locked_until(client)
    if until is not None and until > now:
        return Gate(until)
    account = None
    if accounts.NAME_RE.match(name or ""):
        account = work.accounts.by_name(name)
    if account is not None and (locked := accounts.lock_state(account, now)):
        return Gate(locked, account)
    lock_until = now + config.lock_for
    work.sign_ins.count_failure(
        client, now, now - config.client_window, config.lock_client_after, lock_until
    )
    if account is not None:
        work.accounts.count_failure(account.id, config.lock_account_after, lock_until)
    return Gate(None, account)


class UnknownNames:
    """Failed sign-ins per name that is no account, counted as an account's own are (five
    in a row, then 429 until the lock ends), so that a name's answers never tell whether
    the account exists. In memory, bounded (the oldest names go first), per process."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, tuple[int, datetime | None]] = OrderedDict()

    def locked_until(self, name: str, now: datetime) -> datetime | None:
        _, until = self._seen.get(name, (0, None))
        return until if until is not None and until > now else None

    def count_failure(self, name: str, lock_after: int, lock_until: datetime) -> None:
        count, until = self._seen.pop(name, (0, None))
        count += 1
        self._seen[name] = (count, lock_until if count >= lock_after else until)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""  # for staff, when not ok
    session_id: str | None = None
    stage: str | None = None
    account: StaffAccount | None = None
    locked: list[str] | None = None  # scopes this failure locked: "account", "client"


WRONG = "アカウント名またはパスワードが違います。"


def failed(
    work: ConsoleWork,
    config: StaffConfig,
    audit: Audit,
    client: str,
    account: StaffAccount | None,
    factor: str,
    now: datetime,
    reason: str = "wrong",
    message: str = WRONG,
) -> Outcome:
    """Record a failure already counted by begin_attempt; say which locks it set."""
    locked = []
    fresh = work.accounts.by_id(account.id) if account is not None else None
    if fresh is not None and accounts.lock_state(fresh, now):
        locked.append("account")
    client_until = work.sign_ins.locked_until(client)
    if client_until is not None and client_until > now:
        locked.append("client")
    actor = account.name if account is not None else UNKNOWN_ACTOR
    detail = {"factor": factor, "reason": reason, "client": client}
    audit.record(actor, "login.failed", subject=actor, detail=detail)
    if locked:
        audit.record(actor, "login.locked", subject=actor, detail={"scopes": locked, **detail})
    log.warning(
        "staff sign-in failed",
        extra={"factor": factor, "reason": reason, "client": client, "locked": locked},
    )
    return Outcome(False, message, account=account, locked=locked)


def succeeded(
    work: ConsoleWork,
    config: StaffConfig,
    audit: Audit,
    client: str,
    account: StaffAccount,
    factor: str,
    now: datetime,
    current: StaffSession | None = None,
) -> Outcome:
    done = accounts.STAGE_TOTP if factor == "totp" else None
    stage = accounts.next_stage(account, done)
    if stage == accounts.STAGE_TOTP:
        # Failures in a row are cleared only when the sign-in is whole: a right password
        # with its code still to come takes back its own count and no more, or password,
        # four guessed codes, password again… would never lock a second factor.
        work.accounts.uncount_failure(account.id, config.lock_account_after)
    else:
        work.accounts.signed_in(account.id, now)
    work.sign_ins.forgive(client, config.lock_client_after)
    # Sessions nobody came back to are ended on access; sweep them out now and then.
    work.sessions.end_expired(now - config.idle, now - config.absolute)
    if current is None:
        session_id = sessions.start(work, account, stage, now)
    else:
        session_id = sessions.advance(work, current, account, stage, now)
    audit.record(
        account.name, "login.ok", subject=account.name, detail={"factor": factor, "next": stage}
    )
    log.info("staff signed in", extra={"factor": factor, "stage": stage})
    return Outcome(True, session_id=session_id, stage=stage, account=account)


def finish_password(
    work: ConsoleWork,
    config: StaffConfig,
    audit: Audit,
    client: str,
    gate: Gate,
    password_ok: bool,
    now: datetime,
) -> Outcome:
    account = gate.account
    if account is None or not password_ok:
        return failed(work, config, audit, client, account, "password", now)
    if account.disabled:
        return failed(
            work,
            config,
            audit,
            client,
            account,
            "password",
            now,
            "disabled",
            "このアカウントは停止されています。管理者にお問い合わせください。",
        )
    if accounts.expired_temporary(account, now):
        return failed(
            work,
            config,
            audit,
            client,
            account,
            "password",
            now,
            "expired",
            "仮パスワードの有効期限が切れています。管理者に再発行を依頼してください。",
        )
    return succeeded(work, config, audit, client, account, "password", now)


def finish_totp(
    work: ConsoleWork,
    config: StaffConfig,
    creds: Credentials,
    audit: Audit,
    client: str,
    current: StaffSession,
    code: str,
    now: datetime,
) -> Outcome:
    account = work.accounts.by_id(current.account.id)
    assert account is not None
    step = creds.totp_step(account.totp_secret, code, now)
    if step is None or not work.accounts.use_totp_step(account.id, step):
        return failed(
            work,
            config,
            audit,
            client,
            account,
            "totp",
            now,
            "wrong",
            "確認コードが違います。アプリに表示されている6桁の数字を入力してください。",
        )
    return succeeded(work, config, audit, client, account, "totp", now, current)
