"""Fill a fresh database with N residents and their history before the server starts.

In proportion to N: every resident (numbers +8190xxxxxxxx, hashed and encrypted as the bot
does; texts sealed as the bot seals them), a stored conversation for 1 in 10, one old inbox
row and one delivered outbox row per resident, a pending reminder timer (due in weeks) for
1 in 50, written by the backend's bulk loader (bot.store.seeding: rows are tuples in its
COLUMNS order); rows go in key order where the key allows it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.bench.loadgen import seeded_number
from bot.bench.texts import all_texts
from bot.identity import NumberVault, TextVault
from bot.store import bulk_writer
from bot.store.codec import SEALED_KEY

CHUNK = 100_000
CONVERSATION = json.dumps(
    {
        # A resident mid-way through a real flow, with the core fields only: the engine
        # moves an unknown version onto the current one when the state still exists there,
        # and fills in the frame fields left out.
        "flow": "bulky_waste",
        "version": "seed",
        "state": "ask_items",
        "seq": 2,
        "slots": {},
    },
    ensure_ascii=False,
)
REPLY = (
    "さくら市です。ご用件をお送りください。\n1. 粗大ごみの収集申込み\n2. 保育園の申込み・空き状況"
)


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _stamps(now: datetime, days: int, count: int = 4096, future: bool = False) -> list[str]:
    """`count` timestamps spread over `days` (before now, or after it), as stored text."""
    step = days * 86400 / count
    sign = 1 if future else -1
    return [_stamp(now + timedelta(seconds=sign * i * step)) for i in range(count)]


def _spread(i: int, n: int) -> int:
    """A cheap, deterministic scatter of i over range(n) (Knuth's multiplicative hash)."""
    return (i * 2654435761) % n


# bot bench --notice: residents subscribed to these topics (ids from flows/data/notices.yaml),
# a resident to 1, 2 or 3 of them.
TOPICS = ("bousai", "gomi", "kosodate", "kenko", "shisei")
# Residents live across the sample city's districts (flows/data/districts.yaml).
DISTRICTS = ("北", "南", "東", "西", "中央", "桜台")


def _chunk(
    secret: bytes,
    start: int,
    stop: int,
    residents: int,
    past: list[str],
    future: list[str],
    subscribed: bool = False,
) -> dict[str, list[tuple]]:
    """Every row for residents start..stop-1 and history rows start..stop-1 (a worker
    process makes them; the parent only inserts)."""
    # NumberVault's derivations, prepared once: the keyed hash, and AES-GCM with a counter
    # nonce (unique per number under this key) instead of os.urandom, which is slow in bulk.
    # seed_database checks both against NumberVault.
    base = hmac.new(
        hmac.new(secret, b"resident-id/v1", hashlib.sha256).digest(), None, hashlib.sha256
    )
    aead = AESGCM(hmac.new(secret, b"resident-number/v1", hashlib.sha256).digest())
    # Texts are sealed as the bot seals them (TextVault), with counter nonces too: one
    # domain byte per column, then the row's number.
    vault = TextVault(secret)

    def sealed(domain: int, n: int, text: str) -> str:
        return vault.seal(text, nonce=bytes([domain]) + n.to_bytes(11, "big"))

    def sealed_object(domain: int, n: int, value: str) -> str:
        return json.dumps({SEALED_KEY: sealed(domain, n, value)})

    k = len(past)
    texts = all_texts()
    people, inbox, outbox, conversations, timers, topics = [], [], [], [], [], []
    for i in range(start, stop):
        number = f"+8190{i:08d}".encode()
        h = base.copy()
        h.update(number)
        me = h.hexdigest()[:32]
        nonce = i.to_bytes(12, "big")
        people.append(
            (
                me,
                nonce + aead.encrypt(nonce, number, b"phone"),
                "twilio",
                "rcs" if i % 5 == 0 else "sms",
                past[_spread(i, k)],
                past[_spread(i + 1, k)],
                DISTRICTS[_spread(i, len(DISTRICTS))],
            )
        )
        if i % 10 == 0:
            conversations.append((me, sealed_object(1, i, CONVERSATION), past[_spread(i, 200)]))
        if subscribed:
            for n in range(1 + i % 3):
                topics.append((me, TOPICS[(i + n) % len(TOPICS)], 1, past[_spread(i + 3, k)]))
        if i % 50 == 3:
            timers.append(
                (
                    me,
                    "reminder",
                    future[_spread(i, len(future))],
                    sealed_object(2, i, json.dumps({"booking": f"B{i:07d}"})),
                )
            )
        # Resident i's last message and the bot's answer, some time in the past year.
        seq = i + 1
        at = past[_spread(i + 7, k)]
        inbox.append(
            (
                seq,
                "twilio",
                f"SM{seq:032x}",
                me,
                "sms",
                sealed(3, i, texts[i % len(texts)]),
                at,
                "done",
                at,
                1 + seq // 64,
            )
        )
        outbox.append(
            (
                seq,
                me,
                "twilio",
                "sms",
                sealed(4, i, REPLY),
                seq,
                at,
                "delivered",
                1,
                at,
                f"SM{seq + (1 << 100):032x}",
                f"seed-{seq:010d}-0",
                at,
            )
        )
    people.sort()
    topics.sort()
    return {
        "residents": people,
        "inbox": inbox,
        "outbox": outbox,
        "conversations": conversations,
        "timers": timers,
        "notice_subscriptions": topics,
    }


def seed_database(
    path: Path | str, residents: int, secret: bytes, workers: int = 2, subscribed: bool = False
) -> dict[str, Any]:
    """Create and fill the database at `path` (a SQLite file, or an empty PostgreSQL
    database's URL; `subscribed`: every resident subscribed to one to three notice topics,
    SQLite only). Returns counts and seconds taken."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    past = _stamps(now, 365)
    future = _stamps(now + timedelta(days=14), 30, future=True)
    if residents:
        check = _chunk(secret, 0, 1, 1, past, future)["residents"][0]
        vault = NumberVault(secret)
        if check[0] != vault.resident_id(seeded_number(0)):
            raise RuntimeError("the seeder's resident ids do not match NumberVault's")
        if vault.decrypt(check[1]) != seeded_number(0):
            raise RuntimeError("the seeder's numbers do not decrypt with NumberVault")
        text = _chunk(secret, 0, 1, 1, past, future)["inbox"][0][5]
        if vault.texts.open(text) != all_texts()[0]:
            raise RuntimeError("the seeder's texts do not open with TextVault")
    spans = [(a, min(a + CHUNK, residents)) for a in range(0, residents, CHUNK)]
    args = [(secret, a, b, residents, past, future, subscribed) for a, b in spans]
    with bulk_writer(path) as writer:
        if len(spans) <= 1:  # small: no worker processes
            for item in args:
                writer.write(_chunk(*item))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as pool:
                for rows in pool.map(_chunk, *zip(*args, strict=True)):
                    writer.write(rows)
        counts = writer.counts
    size = 0 if str(path).startswith("postgres") else Path(path).stat().st_size
    return {
        **counts,
        "seconds": round(time.perf_counter() - started, 2),
        "db_mb": round(size / 1e6, 1),
    }
