"""PostgreSQL connections: one pool per store, and lanes (a thread of its own each) that run
a function in one transaction on a pooled connection.

psycopg 3's pool replaces a connection the server dropped (a restart, a failover) and checks
one out per call; every connection is UTC, fails a stuck session after seconds (so a hung
or vanished process lets go of its claims: see bot.store.postgres.store), and dumps JSON as
the SQLite backend does (UTF-8, dates as text, key order kept: `json`, not `jsonb`).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.store.base import StoreUnavailable
from bot.store.dbthread import DbThread

log = logging.getLogger("bot.store")

T = TypeVar("T")

Conn = psycopg.Connection[dict[str, Any]]

# A session silent inside a transaction this long is ended by the server, and a peer that
# vanished (a machine lost) is found by TCP keepalives within about as long: its claims
# (transaction-scoped locks) pass to the survivors.
SESSION_SETTINGS = {
    "timezone": "UTC",
    "idle_in_transaction_session_timeout": "20s",
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}
CONNECT_KWARGS: dict[str, Any] = {
    "autocommit": True,  # transactions are explicit (`conn.transaction()`)
    "row_factory": dict_row,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "connect_timeout": 10,
    "application_name": "sakura-bot",
}
# What processes NOTIFY each other on (bot.store.postgres.store LISTENs): an intake commit
# (payload: the committing process), and a batch or a staff reply that queued replies or
# finished inbox rows (payload: process|1 if replies were queued|the inbox ids done).
INBOX_CHANNEL = "bot_inbox"
BATCH_CHANNEL = "bot_batch"

# Deadlocks and serialisation failures are the server's way of saying "run it again".
RETRIES = 3

dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)


def conninfo(url: str) -> str:
    """The URL with the store's session settings added to any `options` it has (an
    operator's own, e.g. a search_path, are kept)."""
    params = conninfo_to_dict(url)
    ours = " ".join(f"-c {k}={v}" for k, v in SESSION_SETTINGS.items())
    params["options"] = f"{params.get('options') or ''} {ours}".strip()
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def connect(url: str, **extra: Any) -> Conn:
    """One connection with the store's settings (CLI tools, tests, the bulk loader)."""
    conn: Conn = psycopg.connect(conninfo(url), **{**CONNECT_KWARGS, **extra})
    set_json_dumps(dumps, conn)
    return conn


def _configure(conn: Conn) -> None:
    set_json_dumps(dumps, conn)


def make_pool(url: str, size: int, name: str = "bot") -> ConnectionPool[Conn]:
    return ConnectionPool(
        conninfo(url),
        connection_class=Conn,
        min_size=size,
        max_size=size + 2,
        kwargs=dict(CONNECT_KWARGS),
        configure=_configure,
        name=name,
        timeout=10,
        open=False,
    )


def unavailable(exc: BaseException, what: str) -> StoreUnavailable:
    text = " ".join(str(exc).split())  # one line (the server's messages have several)
    return StoreUnavailable(f"PostgreSQL refused a {what}: {type(exc).__name__}: {text}")


def lost(pool: ConnectionPool[Conn]) -> None:
    """A connection broke (the server restarted, a connection was cut): the pool's idle ones
    probably did too. Check them now, so the next call gets a working one."""
    try:
        pool.check()
    except Exception as exc:  # the server is still away: the next call will say so
        log.warning("pool check failed", extra={"error": type(exc).__name__})


def in_transaction(
    pool: ConnectionPool[Conn], fn: Callable[..., T], *args: Any, wait: float | None = None
) -> T:
    """fn(conn, *args) in one transaction on a pooled connection (waiting at most `wait`
    seconds for one; None: the pool's timeout), run again when the server reports a
    deadlock or a serialisation failure; driver errors become StoreUnavailable."""
    for attempt in range(RETRIES):
        try:
            with pool.connection(timeout=wait) as conn, conn.transaction():
                return fn(conn, *args)
        except errors.TransactionRollback as exc:
            if attempt == RETRIES - 1:
                raise unavailable(exc, "transaction") from exc
            log.warning("transaction retried", extra={"error": type(exc).__name__})
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            lost(pool)
            raise unavailable(exc, "connection") from exc
        except psycopg.DatabaseError as exc:
            raise unavailable(exc, "statement") from exc
    raise AssertionError("unreachable")


class Watch(Protocol):
    def saw(self, exc: BaseException) -> None:
        """A driver error a lane met (bot.store.postgres.health.Faults)."""
        ...


class Lane:
    """A thread of its own that runs transactions on the pool (as the SQLite lanes do: a
    turn is synchronous, and the thread's name shows what uses the CPU in `bot bench`).
    What the driver says when a call fails is reported to `watch` (the store's health);
    `wait`: at most this long for a connection (None: the pool's timeout)."""

    def __init__(
        self,
        name: str,
        pool: ConnectionPool[Conn],
        watch: Watch | None = None,
        wait: float | None = None,
    ) -> None:
        self.name = name
        self.pool = pool
        self.watch = watch
        self.wait = wait
        self.thread = DbThread(name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, *args) in one transaction."""
        call = functools.partial(in_transaction, self.pool, fn, *args, wait=self.wait)
        return await self.call(call)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on the lane's thread (it takes connections itself)."""
        try:
            return await self.thread.run(fn, *args)
        except StoreUnavailable as exc:
            if self.watch is not None:
                self.watch.saw(exc.__cause__ or exc)
            raise

    def close(self) -> None:
        self.thread.close()
