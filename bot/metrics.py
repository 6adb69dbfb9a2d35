"""Prometheus metrics, one registry per app so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        self.http_errors = Counter("bot_http_rejected", "Requests rejected", ["reason"], registry=r)
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
        for reason in ("flood", "country", "loop_guard"):
            self.replies_suppressed.labels(reason)
