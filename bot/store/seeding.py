"""Bulk loading for the benchmark's seed (bot.bench.seed), on either backend: rows are
tuples in the column order of COLUMNS, written a chunk (one transaction) at a time
(`bot.store.bulk_writer` opens one)."""

from __future__ import annotations

from typing import Protocol

COLUMNS = {
    "residents": (
        "id",
        "phone_enc",
        "last_provider",
        "last_channel",
        "created_at",
        "last_seen_at",
        "district",
    ),
    "inbox": (
        "id",
        "provider",
        "provider_message_id",
        "resident_id",
        "channel",
        "text",
        "received_at",
        "status",
        "processed_at",
        "batch",
    ),
    "outbox": (
        "id",
        "resident_id",
        "provider",
        "channel",
        "text",
        "inbox_id",
        "created_at",
        "status",
        "attempts",
        "next_attempt_at",
        "provider_message_id",
        "idempotency_key",
        "status_at",
    ),
    "conversations": ("resident_id", "state", "updated_at"),
    "timers": ("resident_id", "name", "due_at", "payload"),
}


class BulkWriter(Protocol):
    counts: dict[str, int]

    def write(self, rows: dict[str, list[tuple]]) -> None: ...
