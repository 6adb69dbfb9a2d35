"""Prometheus metrics, one registry per app so tests can build many apps."""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Refusal(StrEnum):
    """Why the HTTP edge refused a request or closed a connection (`bot_http_rejected_total`).

    A new kind of refusal is one more member here: every member is exported from start-up
    (at 0), so an alert can be written before the first one happens."""

    SIGNATURE = "signature"  # webhook signature missing or wrong (403)
    TOO_LARGE = "too_large"  # body over its route's cap (413)
    MALFORMED = "malformed"  # not the documented shape, not JSON, nested too deep (400)
    INVALID_ID = "invalid_id"  # a message id or postback that cannot be one (400)
    INVALID_NUMBER = "invalid_number"  # a sender outside E.164 / the numbering plan (400)
    SLOW_HEADERS = "slow_headers"  # headers not complete within BOT_HEADER_TIMEOUT (closed)
    SLOW_BODY = "slow_body"  # body not complete within BOT_BODY_TIMEOUT (408, closed)
    EVICTED = "evicted"  # at the connection cap: the longest-waiting connection closed
    AT_CAPACITY = "at_capacity"  # at the connection cap with nothing to evict (503)
    NOT_STORED = "not_stored"  # a message the store could not keep now (503: retried)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.inbound = Counter(
            "bot_inbound_messages", "Inbound messages stored", ["provider", "duplicate"], registry=r
        )
        self.processed = Counter("bot_processed_messages", "Inbox rows processed", registry=r)
        self.failed = Counter("bot_failed_messages", "Inbox rows that failed", registry=r)
        self.ingest_batch = Histogram(
            "bot_ingest_group_size",
            "Inbound rows per durable commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.batch_seconds = Histogram(
            "bot_process_batch_seconds", "Time to process one batch", registry=r
        )
        self.http_errors = Counter(
            "bot_http_rejected",
            "Requests refused and connections closed at the HTTP edge, by reason",
            ["reason"],
            registry=r,
        )
        for reason in Refusal:
            self.http_errors.labels(reason.value)
        self.delivery = Counter(
            "bot_delivery",
            "Outbox sends by provider and outcome (sent, retry, failed, fallback_sms, opted_out)",
            ["provider", "outcome"],
            registry=r,
        )
        self.ready = Gauge("bot_ready", "1 when the store and NLU are ready", registry=r)
        # Limits act on what is sent, never on what is stored: every message acknowledged
        # is stored and processed, these count how its answer was held back.
        self.inbound_limited = Counter(
            "bot_inbound_limited",
            "Messages stored over a limit (flood_first: the one answered with a note; "
            "flood: answered not at all; country: a country not served)",
            ["limit"],
            registry=r,
        )
        self.replies_suppressed = Counter(
            "bot_replies_suppressed",
            "Replies not sent because of a limit (flood, country, loop_guard)",
            ["reason"],
            registry=r,
        )
        for limit in ("flood_first", "flood", "country"):
            self.inbound_limited.labels(limit)
        for suppressed in ("flood", "country", "loop_guard"):
            self.replies_suppressed.labels(suppressed)
        self.store_healthy = Gauge(
            "bot_store_healthy", "1 when the last health check of the store passed", registry=r
        )
        self.health_failures = Counter(
            "bot_health_failures",
            "Failed health checks of the store by problem (deleted, replaced, corrupt, "
            "unreadable, unwritable, disk_full, io_error, unresponsive)",
            ["problem"],
            registry=r,
        )

    def refused(self, reason: Refusal) -> None:
        self.http_errors.labels(reason.value).inc()


METRICS = web.AppKey("metrics", Metrics)
