"""Pure delivery rules: quiet hours, backoff, loop guard, priority rate limit, guards, settings."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from bot.channels.guards import InboundLimiter, is_allowed_number
from bot.channels.http import parse_retry_after
from bot.channels.settings import channel_settings_from_env
from bot.clock import TOKYO
from bot.delivery.policy import LoopGuard, backoff, is_quiet, quiet_ends
from bot.delivery.ratelimit import PriorityLimiter
from bot.errors import ConfigError


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(20, 59, False), (21, 0, True), (23, 30, True), (3, 0, True), (7, 59, True), (8, 0, False)],
)
def test_quiet_hours(hour: int, minute: int, quiet: bool) -> None:
    assert is_quiet(datetime(2026, 11, 24, hour, minute, tzinfo=TOKYO)) is quiet


def test_quiet_hours_end_at_eight() -> None:
    assert quiet_ends(datetime(2026, 11, 24, 22, 0, tzinfo=TOKYO)) == datetime(
        2026, 11, 25, 8, 0, tzinfo=TOKYO
    )
    assert quiet_ends(datetime(2026, 11, 25, 3, 0, tzinfo=TOKYO)).day == 25


def test_backoff_grows_and_retry_after_wins() -> None:
    assert backoff(1, jitter=0) == 2 and backoff(3, jitter=0) == 8
    assert backoff(30, jitter=0) == 600
    assert backoff(5, retry_after=1.5) == 1.5
    assert parse_retry_after("3") == 3 and parse_retry_after("junk") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_loop_guard_stops_the_21st_identical_text_in_five_minutes() -> None:
    guard = LoopGuard(limit=20, window=300)
    assert all(guard.allow("r1", "同じ", now=float(i)) for i in range(20))
    assert not guard.allow("r1", "同じ", now=20.0)
    assert guard.allow("r1", "ちがう", now=20.0)
    assert guard.allow("r2", "同じ", now=20.0)
    assert guard.allow("r1", "同じ", now=301.0)


async def test_rate_limit_paces_and_serves_replies_first() -> None:
    limiter = PriorityLimiter(rate=20, burst=1)
    order: list[str] = []

    async def take(kind: str, name: str) -> None:
        await limiter.acquire(kind)
        order.append(name)

    started = time.monotonic()
    tasks = [asyncio.create_task(take("notice", f"n{i}")) for i in range(5)]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(take("reply", f"r{i}")) for i in range(3)]
    await asyncio.gather(*tasks)
    await limiter.close()
    elapsed = time.monotonic() - started
    assert order[0] == "n0"  # the first token was free
    assert order[1:4] == ["r0", "r1", "r2"]
    assert elapsed >= 7 / 20 * 0.9


def test_inbound_limits_and_countries() -> None:
    now = [0.0]
    limiter = InboundLimiter(per_minute=3, per_hour=5, monotonic=lambda: now[0])
    verdicts = [limiter.check("+819000000001") for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True] * 3 + [False] * 2
    # The first message over the limit is answered with a note, the rest not at all.
    assert [v.limited for v in verdicts] == [None] * 3 + ["flood_first", "flood"]
    now[0] = 61
    verdicts = [limiter.check("+819000000001") for _ in range(3)]
    assert [v.limited for v in verdicts] == [None, None, "flood_first"]  # a new flood
    assert verdicts[-1].reason == "sender_hour"
    assert limiter.check("+819000000002").allowed
    now[0] = 3601  # the first hour's messages have left the window
    assert limiter.check("+819000000001").allowed
    assert is_allowed_number("+819012345678", ("81",))
    assert not is_allowed_number("+14155550100", ("81",))
    assert is_allowed_number("+14155550100", ())
    assert not is_allowed_number("09012345678", ())


def test_inbound_limiter_forgets_the_least_recent_senders_beyond_its_bound() -> None:
    limiter = InboundLimiter(per_minute=1, per_hour=10, max_senders=2, monotonic=lambda: 0.0)
    assert limiter.check("+819000000001").allowed
    assert not limiter.check("+819000000001").allowed  # remembered: over its minute limit
    assert limiter.check("+819000000002").allowed
    assert limiter.check("+819000000003").allowed  # the bound: +819000000001 is forgotten
    assert limiter.check("+819000000001").allowed


def test_settings_from_env() -> None:
    cs = channel_settings_from_env(
        {
            "BOT_TWILIO_AUTH_TOKEN": "t",
            "BOT_TWILIO_ACCOUNT_SID": "AC1",
            "BOT_TWILIO_FROM": "+815000000000",
            "BOT_SEND_RATE": "5",
            "BOT_ALLOWED_COUNTRY_CODES": "81,1",
            "BOT_GATEWAY_API_BASE": "http://gw/",
            "BOT_GATEWAY_SECRET": "s",
            "BOT_GATEWAY_FIELD_TEXT": "body",
        }
    )
    assert cs.twilio and cs.twilio.api_base == "https://api.twilio.com"
    assert cs.send_rate == 5 and cs.allowed_country_codes == ("81", "1")
    assert cs.gateway and cs.gateway.field_text == "body" and cs.rcs is None
    with pytest.raises(ConfigError, match="BOT_TWILIO_ACCOUNT_SID"):
        channel_settings_from_env({"BOT_TWILIO_AUTH_TOKEN": "t"})
    with pytest.raises(ConfigError, match="BOT_RCS_TOKEN"):
        channel_settings_from_env(
            {"BOT_RCS_API_BASE": "x", "BOT_RCS_AGENT_ID": "a", "BOT_RCS_WEBHOOK_SECRET": "s"}
        )
