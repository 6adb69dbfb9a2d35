"""Staff accounts: names, roles, argon2id passwords (one-time at first), TOTP codes,
lockout after failures. Used by the console (bot/staff/auth_routes.py, admin_routes.py)
and by `bot staff add|list|disable|reset`.

Functions that take `work` (a unit of the store's console) run inside its transaction and
write their audit entry in it. Password hashing is slow on purpose (~0.1 s, 64 MiB): callers run it off the event
loop and outside any transaction (Credentials)."""

from __future__ import annotations

import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

import argon2
import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.audit import Audit
from bot.staff.config import StaffConfig
from bot.staff.roles import TOTP_REQUIRED, Role
from bot.store.console import ConsoleWork
from bot.store.records import StaffAccount

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")
MIN_PASSWORD, MAX_PASSWORD = 12, 128
ONE_TIME_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud, typed
TOTP_ISSUER = "さくら市ボット"

# RFC 9106's second recommended option (argon2id, t=3, 64 MiB): argon2-cffi's default.
HASH_PROFILE = argon2.profiles.RFC_9106_LOW_MEMORY


class AccountError(ValueError):
    """A request about accounts that cannot be done: `error` (English, for programs and the
    CLI) and `message` (Japanese, for the console)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(error)
        self.error, self.message = error, message


# ---- the secrets themselves ----------------------------------------------------------------


class Credentials:
    """Password hashing and TOTP secrets. No database: safe to call from any thread."""

    # Each verification takes 64 MiB for ~0.1 s: a flood of logins must queue, not swap.
    _slots = threading.BoundedSemaphore(2)

    def __init__(self, totp_key: bytes, profile: argon2.Parameters | None = None) -> None:
        self._hasher = argon2.PasswordHasher.from_parameters(profile or HASH_PROFILE)
        self._aead = AESGCM(totp_key)
        # Unknown names are checked against this, so they take as long as known ones.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self._slots:
            try:
                return self._hasher.verify(password_hash or self._dummy, password) and bool(
                    password_hash
                )
            except (VerificationError, InvalidHashError):
                return False

    def seal_totp(self, secret: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret.encode(), b"staff-totp")

    def open_totp(self, sealed: bytes) -> str:
        return self._aead.decrypt(sealed[:12], sealed[12:], b"staff-totp").decode()

    def totp_step(self, sealed: bytes | None, code: str, now: datetime) -> int | None:
        """The time step whose code this is (this step, or one either side for clocks a
        little apart), or None."""
        code = re.sub(r"\s", "", code or "")
        if sealed is None or not re.fullmatch(r"\d{6}", code):
            return None
        totp = pyotp.TOTP(self.open_totp(sealed))
        step = totp.timecode(now)
        for candidate in (step, step - 1, step + 1):
            expected = totp.generate_otp(candidate)
            if secrets.compare_digest(expected, code):
                return candidate
        return None


def provisioning_uri(secret: str, name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def one_time_password() -> str:
    """16 characters in groups of four (about 78 bits), easy to read out and type."""
    raw = "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise AccountError(
            f"invalid account name {name!r}: 2-32 of A-Z a-z 0-9 . _ - (a letter or digit first)",
            "名前は英数字で始まる2〜32文字（英数字と . _ -）にしてください。",
        )


def password_problem(name: str, password: str, old: str | None = None) -> str | None:
    """Why a new password is refused (Japanese, for the form), or None."""
    if len(password) < MIN_PASSWORD:
        return f"パスワードは{MIN_PASSWORD}文字以上にしてください。"
    if len(password) > MAX_PASSWORD:
        return f"パスワードは{MAX_PASSWORD}文字以内にしてください。"
    if name.lower() in password.lower():
        return "パスワードにアカウント名を含めないでください。"
    if len(set(password)) < 4:
        return "同じ文字の繰り返しが多すぎます。"
    if old is not None and password == old:
        return "今のパスワードと違うものにしてください。"
    if not hard_to_guess(name, password):
        return (
            "推測されやすいパスワードです。よく使われる語や並び（password、1234、qwerty など）を"
            "避け、単語をいくつかつなげるなどして、推測しにくいものにしてください。"
        )
    return None


def hard_to_guess(name: str, password: str) -> bool:
    """zxcvbn's estimate (common passwords, words, keyboard runs, dates, the account's name
    and the city's) at 3 or more: "safely unguessable" against an online attack, and with
    argon2id hashes a slow offline one. The first 100 characters are judged (its time
    grows with the length)."""
    from zxcvbn import zxcvbn

    judged = zxcvbn(password[:100], user_inputs=[name, "sakura", "さくら", "さくら市"])
    return int(judged["score"]) >= 3


# ---- stages of a login ---------------------------------------------------------------------

STAGE_TOTP = "totp"  # password right, the code is still needed
STAGE_CHANGE_PASSWORD = "change_password"  # signed in with a one-time password
STAGE_ENROL_TOTP = "enrol_totp"  # the role needs a second factor not yet set up
STAGE_READY = "ready"


def next_stage(account: StaffAccount, done: str | None = None) -> str:
    """What the account must do next after completing `done` (None: just the password)."""
    order = [STAGE_TOTP, STAGE_CHANGE_PASSWORD, STAGE_ENROL_TOTP]
    start = order.index(done) + 1 if done in order else 0
    for stage in order[start:]:
        if stage == STAGE_TOTP and account.totp_enabled:
            return stage
        if stage == STAGE_CHANGE_PASSWORD and account.password_temporary:
            return stage
        if (
            stage == STAGE_ENROL_TOTP
            and Role(account.role) in TOTP_REQUIRED
            and not account.totp_enabled
        ):
            return stage
    return STAGE_READY


# ---- managing accounts (admins; `bot staff`) ------------------------------------------------


@dataclass(frozen=True)
class NewPassword:
    account: StaffAccount
    password: str  # shown once, to be given to the person; never stored or logged
    expires_at: datetime


def create_account(
    work: ConsoleWork,
    creds: Credentials,
    config: StaffConfig,
    audit: Audit,
    actor: str,
    name: str,
    role: Role,
    now: datetime,
    password_hash: str | None = None,
    password: str | None = None,
) -> NewPassword:
    """A new account with a one-time password (hash it before the transaction and pass
    both in, or let this hash it)."""
    check_name(name)
    if password is None or password_hash is None:
        password = one_time_password()
        password_hash = creds.hash(password)
    expires = now + config.temporary_password
    account = work.accounts.add(name, role.value, password_hash, expires, now)
    if account is None:
        raise AccountError(f"an account named {name!r} exists", f"「{name}」はすでにあります。")
    audit.record(actor, "account.created", subject=name, detail={"role": role.value})
    return NewPassword(account, password, expires)


def existing(work: ConsoleWork, name: str) -> StaffAccount:
    account = work.accounts.by_name(name)
    if account is None:
        raise AccountError(
            f"no account named {name!r}", f"「{name}」というアカウントはありません。"
        )
    return account


def set_disabled(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    name: str,
    disabled: bool,
    now: datetime,
    keep_an_admin: bool = True,
) -> StaffAccount:
    """Switch an account off (its sessions end at once) or on again. The console refuses
    to switch off the last admin (`keep_an_admin`); the CLI may: it can make another."""
    account = existing(work, name)
    if keep_an_admin and disabled and account.role == Role.ADMIN and not account.disabled:
        others = [
            a
            for a in work.accounts.all()
            if a.role == Role.ADMIN and not a.disabled and a.id != account.id
        ]
        if not others:
            raise AccountError(
                "the last active admin cannot be disabled",
                "最後の管理者は停止できません。先に別の管理者を作成してください。",
            )
    work.accounts.set_disabled(account.id, disabled, now)
    if disabled:
        work.sessions.end_all(account.id)
    audit.record(actor, "account.disabled" if disabled else "account.enabled", subject=name)
    return existing(work, name)


def reset_account(
    work: ConsoleWork,
    config: StaffConfig,
    audit: Audit,
    actor: str,
    name: str,
    password: str,
    password_hash: str,
    now: datetime,
) -> NewPassword:
    """A forgotten password or a lost phone: a new one-time password, the second factor
    removed (set up again at the next login), lock lifted, sessions ended."""
    account = existing(work, name)
    expires = now + config.temporary_password
    work.accounts.set_password(account.id, password_hash, True, expires, now)
    work.accounts.set_totp(account.id, None, False, now)
    work.sessions.end_all(account.id)
    audit.record(actor, "account.reset", subject=name)
    return NewPassword(existing(work, name), password, expires)


def change_role(
    work: ConsoleWork, audit: Audit, actor: str, name: str, role: Role, now: datetime
) -> StaffAccount:
    account = existing(work, name)
    if account.role == role:
        return account
    if account.role == Role.ADMIN:
        others = [
            a
            for a in work.accounts.all()
            if a.role == Role.ADMIN and not a.disabled and a.id != account.id
        ]
        if not others:
            raise AccountError(
                "the last active admin keeps the role", "最後の管理者の権限は変更できません。"
            )
    work.accounts.set_role(account.id, role.value, now)
    work.sessions.end_all(account.id)  # the new role applies from the next login
    audit.record(
        actor,
        "account.role_changed",
        subject=name,
        detail={"from": account.role, "to": role.value},
    )
    return existing(work, name)


def lock_state(account: StaffAccount, now: datetime) -> datetime | None:
    """Until when the account is locked (None: it is not)."""
    if account.locked_until is not None and account.locked_until > now:
        return account.locked_until
    return None


def expired_temporary(account: StaffAccount, now: datetime) -> bool:
    return bool(
        account.password_temporary
        and account.password_expires_at is not None
        and account.password_expires_at < now
    )
