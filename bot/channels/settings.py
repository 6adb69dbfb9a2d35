"""Channel and delivery settings, read from BOT_* environment variables (see docs/channels.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import ConfigError


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str  # E.164 number or a Messaging Service SID (MG...)
    api_base: str = "https://api.twilio.com"


@dataclass(frozen=True)
class RcsSettings:
    api_base: str  # e.g. https://rcsbusinessmessaging.googleapis.com
    agent_id: str
    webhook_secret: str  # the clientToken the provider signs webhooks with
    token: str  # bearer token for the agent API
    # Seconds a rich message may stay undelivered before the same content goes by SMS.
    delivery_timeout: float = 60.0


@dataclass(frozen=True)
class GatewaySettings:
    """A domestic JSON SMS gateway with configurable field names."""

    api_base: str
    secret: str  # HMAC-SHA256 key for webhooks
    token: str = ""  # bearer token for sending, when the gateway wants one
    from_number: str = ""
    field_message_id: str = "message_id"
    field_sender: str = "from"
    field_text: str = "text"
    field_status: str = "status"
    signature_header: str = "X-Signature"
    timestamp_header: str = "X-Timestamp"
    replay_window: float = 300.0


@dataclass(frozen=True)
class ChannelSettings:
    public_url: str = ""
    twilio: TwilioSettings | None = None
    rcs: RcsSettings | None = None
    gateway: GatewaySettings | None = None
    send_rate: float = 10.0  # messages per second per channel
    allowed_country_codes: tuple[str, ...] = ("81",)
    inbound_per_minute: int = 20  # per sender
    inbound_per_hour: int = 120  # per sender
    quiet_start_hour: int = 21
    quiet_end_hour: int = 8
    loop_limit: int = 20
    loop_window: float = 300.0
    max_body_bytes: int = 256 * 1024


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{key} must be a number, not {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{key} must be greater than 0")
    return value


def _required(env: Mapping[str, str], keys: list[str], what: str) -> None:
    missing = [key for key in keys if not env.get(key, "").strip()]
    if missing:
        raise ConfigError(f"{what} needs {', '.join(missing)}")


def _twilio(env: Mapping[str, str]) -> TwilioSettings | None:
    if not env.get("BOT_TWILIO_AUTH_TOKEN", "").strip():
        return None
    _required(env, ["BOT_TWILIO_ACCOUNT_SID", "BOT_TWILIO_FROM"], "the Twilio channel")
    return TwilioSettings(
        account_sid=env["BOT_TWILIO_ACCOUNT_SID"].strip(),
        auth_token=env["BOT_TWILIO_AUTH_TOKEN"].strip(),
        from_number=env["BOT_TWILIO_FROM"].strip(),
        api_base=(env.get("BOT_TWILIO_API_BASE", "").strip() or "https://api.twilio.com").rstrip(
            "/"
        ),
    )


def _rcs(env: Mapping[str, str]) -> RcsSettings | None:
    keys = ["BOT_RCS_API_BASE", "BOT_RCS_AGENT_ID", "BOT_RCS_WEBHOOK_SECRET", "BOT_RCS_TOKEN"]
    if not any(env.get(key, "").strip() for key in keys):
        return None
    _required(env, keys, "the RCS channel")
    return RcsSettings(
        api_base=env["BOT_RCS_API_BASE"].strip().rstrip("/"),
        agent_id=env["BOT_RCS_AGENT_ID"].strip(),
        webhook_secret=env["BOT_RCS_WEBHOOK_SECRET"].strip(),
        token=env["BOT_RCS_TOKEN"].strip(),
        delivery_timeout=_number(env, "BOT_RCS_DELIVERY_TIMEOUT", 60.0),
    )


def _gateway(env: Mapping[str, str]) -> GatewaySettings | None:
    keys = ["BOT_GATEWAY_API_BASE", "BOT_GATEWAY_SECRET"]
    if not any(env.get(key, "").strip() for key in keys):
        return None
    _required(env, keys, "the SMS gateway channel")
    defaults = GatewaySettings(api_base="", secret="")

    def pick(name: str, default: str) -> str:
        return env.get(name, "").strip() or default

    return GatewaySettings(
        api_base=env["BOT_GATEWAY_API_BASE"].strip().rstrip("/"),
        secret=env["BOT_GATEWAY_SECRET"].strip(),
        token=pick("BOT_GATEWAY_TOKEN", ""),
        from_number=pick("BOT_GATEWAY_FROM", ""),
        field_message_id=pick("BOT_GATEWAY_FIELD_ID", defaults.field_message_id),
        field_sender=pick("BOT_GATEWAY_FIELD_FROM", defaults.field_sender),
        field_text=pick("BOT_GATEWAY_FIELD_TEXT", defaults.field_text),
        field_status=pick("BOT_GATEWAY_FIELD_STATUS", defaults.field_status),
        signature_header=pick("BOT_GATEWAY_SIGNATURE_HEADER", defaults.signature_header),
        timestamp_header=pick("BOT_GATEWAY_TIMESTAMP_HEADER", defaults.timestamp_header),
        replay_window=_number(env, "BOT_GATEWAY_REPLAY_WINDOW", 300.0),
    )


def _country_codes(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("BOT_ALLOWED_COUNTRY_CODES", "").strip()
    if not raw:
        return ("81",)
    if raw == "*":
        return ()  # every country
    codes = tuple(code.strip().lstrip("+") for code in raw.split(",") if code.strip())
    if not all(code.isdigit() and 1 <= len(code) <= 3 for code in codes):
        raise ConfigError(f"BOT_ALLOWED_COUNTRY_CODES must be like '81,1' or '*', not {raw!r}")
    return codes


def channel_settings_from_env(env: Mapping[str, str]) -> ChannelSettings:
    """Read every channel's settings; a provider is on when its secret is set."""
    quiet = env.get("BOT_QUIET_HOURS", "").strip() or "21-8"
    try:
        start, end = (int(part) for part in quiet.split("-"))
        if not (0 <= start < 24 and 0 <= end < 24):
            raise ValueError
    except ValueError as exc:
        raise ConfigError(f"BOT_QUIET_HOURS must be like '21-8', not {quiet!r}") from exc
    return ChannelSettings(
        public_url=env.get("BOT_PUBLIC_URL", "").strip().rstrip("/"),
        twilio=_twilio(env),
        rcs=_rcs(env),
        gateway=_gateway(env),
        send_rate=_number(env, "BOT_SEND_RATE", 10.0),
        allowed_country_codes=_country_codes(env),
        inbound_per_minute=int(_number(env, "BOT_INBOUND_PER_MINUTE", 20)),
        inbound_per_hour=int(_number(env, "BOT_INBOUND_PER_HOUR", 120)),
        quiet_start_hour=start,
        quiet_end_hour=end,
        loop_limit=int(_number(env, "BOT_LOOP_LIMIT", 20)),
        loop_window=_number(env, "BOT_LOOP_WINDOW", 300.0),
        max_body_bytes=int(_number(env, "BOT_MAX_BODY_BYTES", 256 * 1024)),
    )
