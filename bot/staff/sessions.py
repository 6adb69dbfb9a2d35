"""Console sessions: a random id in a cookie (Secure over HTTPS, HttpOnly, SameSite=Strict),
stored only as its SHA-256; idle and absolute timeouts; a CSRF token bound to the session;
the Host/Origin check that keeps the console off forged addresses (DNS rebinding)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

from bot.staff.config import StaffConfig
from bot.store.console import ConsoleWork
from bot.store.records import StaffAccount, StaffSession

COOKIE = "sakura_staff"
SECURE_COOKIE = "__Host-sakura_staff"  # the prefix makes browsers insist on Secure, Path=/
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY_SECONDS = 30  # last_seen_at is written at most this often per session


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def cookie_name(config: StaffConfig) -> str:
    return SECURE_COOKIE if config.secure_cookies else COOKIE


def session_id_of(request: web.Request, config: StaffConfig) -> str | None:
    value = request.cookies.get(cookie_name(config))
    return value if value and len(value) <= 128 else None


def set_cookie(response: web.StreamResponse, config: StaffConfig, session_id: str) -> None:
    # No Max-Age: the cookie goes when the browser closes; the server ends it sooner.
    response.set_cookie(
        cookie_name(config),
        session_id,
        path="/",
        secure=config.secure_cookies,
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: web.StreamResponse, config: StaffConfig) -> None:
    # With the attributes it was set with: a browser ignores the deletion of a __Host-
    # cookie that does not say Secure, and would keep sending the old id.
    response.del_cookie(
        cookie_name(config),
        path="/",
        secure=config.secure_cookies,
        httponly=True,
        samesite="Strict",
    )


def csrf_token(config: StaffConfig, id_hash: str) -> str:
    return hmac.new(config.csrf_key, id_hash.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: web.Request, config: StaffConfig, id_hash: str) -> bool:
    given = request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(given.encode(), csrf_token(config, id_hash).encode())


def start(work: ConsoleWork, account: StaffAccount, stage: str, now: datetime) -> str:
    """A new session (a fresh id at every step of a login: no fixation). Its id."""
    session_id = secrets.token_urlsafe(32)
    work.sessions.add(hash_id(session_id), account.id, stage, now)
    return session_id


def advance(
    work: ConsoleWork, current: StaffSession, account: StaffAccount, stage: str, now: datetime
) -> str:
    work.sessions.end(current.id_hash)
    return start(work, account, stage, now)


@dataclass(frozen=True)
class Loaded:
    session: StaffSession | None
    expired: bool = False


def load(work: ConsoleWork, config: StaffConfig, session_id: str | None, now: datetime) -> Loaded:
    """The live session for this cookie value (touching it), or None; expired and disabled
    ones are deleted."""
    if not session_id:
        return Loaded(None)
    row = work.sessions.get(hash_id(session_id))
    if row is None:
        return Loaded(None)
    if (
        now - row.last_seen_at > config.idle
        or now - row.created_at > config.absolute
        or row.account.disabled
    ):
        work.sessions.end(row.id_hash)
        return Loaded(None, expired=not row.account.disabled)
    if (now - row.last_seen_at).total_seconds() >= TOUCH_EVERY_SECONDS:
        work.sessions.touch(row.id_hash, now)
    return Loaded(row)


# ---- where requests come from --------------------------------------------------------------


def host_allowed(request: web.Request, config: StaffConfig) -> bool:
    """The Host header names this server: a DNS-rebinding page sends its own name."""
    host = urlsplit(f"//{request.host}").hostname if request.host else None
    return host is not None and host.lower() in config.allowed_hosts


def origin_allowed(request: web.Request, config: StaffConfig) -> bool:
    """A browser sends Origin with every POST (and cross-site requests): it must be this
    console's own — the public address, or the same host the request was sent to."""
    origin = request.headers.get("Origin")
    if origin is None:
        fetch_site = request.headers.get("Sec-Fetch-Site")
        return fetch_site in (None, "same-origin", "none")
    origin = origin.lower()
    if origin == "null":
        return False
    if config.public_origin is not None and origin == config.public_origin:
        return True
    return urlsplit(origin).netloc == request.host.lower()


def client_address(request: web.Request, config: StaffConfig) -> str:
    """The client's IP for counting failed logins: the peer, or — only when the peer is a
    proxy named in BOT_TRUSTED_PROXIES — the address that proxy appended last."""
    peer = request.remote or "unknown"
    if peer in config.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            try:
                return str(ipaddress.ip_address(hops[-1]))
            except ValueError:
                return peer
    return peer
