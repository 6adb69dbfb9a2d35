"""The console's settings, read from the server's environment (Settings.env_vars), and
the keys it derives from BOT_SECRET_KEY."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from bot.config import Settings
from bot.errors import ConfigError

RETIRED_TOKEN_VAR = "BOT_STAFF_TOKEN"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, label, hashlib.sha256).digest()


def _minutes(env: dict, name: str, default: float, low: float) -> timedelta:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of minutes") from None
    if value < low:
        raise ConfigError(f"{name} must be at least {low:g} minutes")
    return timedelta(minutes=value)


@dataclass(frozen=True)
class StaffConfig:
    """How long sessions live, when logins lock, which addresses the console answers on."""

    public_url: str = ""
    bind_host: str = "127.0.0.1"
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    temporary_password: timedelta = timedelta(hours=72)
    lock_account_after: int = 5  # failures in a row (password or code)
    lock_client_after: int = 10  # failures from one address within the window
    client_window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)
    trusted_proxies: frozenset[str] = frozenset()
    csrf_key: bytes = field(default=b"", repr=False)
    totp_key: bytes = field(default=b"", repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> StaffConfig:
        env = dict(settings.env_vars)
        proxies = frozenset(
            part.strip() for part in env.get("BOT_TRUSTED_PROXIES", "").split(",") if part.strip()
        )
        for proxy in proxies:
            try:
                ipaddress.ip_address(proxy)
            except ValueError:
                raise ConfigError(f"BOT_TRUSTED_PROXIES: {proxy!r} is not an IP address") from None
        return cls(
            public_url=settings.public_url,
            bind_host=settings.host,
            idle=_minutes(env, "BOT_STAFF_IDLE_MINUTES", 30, 1),
            absolute=_minutes(env, "BOT_STAFF_SESSION_MINUTES", 12 * 60, 5),
            trusted_proxies=proxies,
            csrf_key=_derive(settings.secret_key, b"staff-csrf/v1"),
            totp_key=_derive(settings.secret_key, b"staff-totp/v1"),
        )

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the public address is HTTPS (behind a TLS proxy the
        server itself sees plain HTTP, so the request alone cannot tell)."""
        return self.public_url.lower().startswith("https://")

    @property
    def public_origin(self) -> str | None:
        if not self.public_url:
            return None
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Host names the console answers to: the public one, the one it is bound to, and
        loopback names (a rebinding attack sends the attacker's own name, never these)."""
        names = set(LOOPBACK_NAMES)
        if self.public_url:
            hostname = urlsplit(self.public_url).hostname
            if hostname:
                names.add(hostname.lower())
        if self.bind_host not in WILDCARD_HOSTS:
            names.add(self.bind_host.lower().strip("[]"))
        return frozenset(names)
