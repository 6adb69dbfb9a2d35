"""Can PostgreSQL be trusted with a write now? (Store.health, for /healthz)

Found two ways, as in the SQLite backend (bot.store.sqlite.health). A probe, at most once a
second: a connection from the store's own pool within seconds (so a pool that cannot
connect, or is exhausted, is reported) and a one-row write committed with a statement
timeout (so a server that is down, read-only, out of disk or stuck is reported). And the
real work: every lane reports what the driver told it, so a fault met between two probes
is never hidden behind the last probe's answer; the next probe that writes clears it.

Nothing here is fatal the way a deleted SQLite file is: PostgreSQL comes back (a restart,
a failover), the pool reconnects and the next probe says so. Meanwhile every write fails
on its own (the webhooks answer 503 and the provider retries), so nothing is acknowledged
that was not committed. Details name the server (host, port, database), never the URL's
password, and never a row's values.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.store.postgres.migrations import MigrationSet
from bot.store.records import StoreHealth

MIGRATIONS = MigrationSet("store")
MIGRATIONS.ddl(
    "health probe",
    """
    CREATE TABLE store_health (id integer PRIMARY KEY CHECK (id = 1), checked_at timestamptz);
    INSERT INTO store_health (id, checked_at) VALUES (1, NULL);
    """,
)

PROBE_WAIT = 3.0  # seconds for a connection from the pool, and for the probe's statement


@dataclass(frozen=True)
class Fault:
    problem: str  # unavailable | unwritable | disk_full | deleted | corrupt | io_error | …
    detail: str


def server_name(url: str) -> str:
    """host:port/database of a URL (no user, no password)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"


# SQLSTATE → problem. Classes: 08 connection, 57P shut down / cannot connect now, 53
# insufficient resources (53100 disk full), 28 authentication, XX internal (XX001/XX002
# data or index corrupted), 58 system error (58030 I/O).
_STATES = {
    "53100": "disk_full",
    "25006": "unwritable",  # read_only_sql_transaction: a standby, or a read-only database
    "42501": "unwritable",  # insufficient_privilege
    "3D000": "deleted",  # the database does not exist (dropped)
    "3F000": "deleted",  # the schema does not exist
    "42P01": "deleted",  # the bot's tables are gone
    "XX001": "corrupt",
    "XX002": "corrupt",
    "58030": "io_error",
    "57014": "unresponsive",  # the probe's statement timed out
}
_CLASSES = {"08": "unavailable", "57": "unavailable", "53": "unavailable", "28": "unavailable"}


def classify(exc: BaseException) -> Fault | None:
    """What a driver error says about the database (None: nothing about it — a constraint,
    a value refused, a deadlock: a row's or a turn's own trouble, the server answered)."""
    state = getattr(exc, "sqlstate", None) or ""
    if state:
        problem = _STATES.get(state) or _CLASSES.get(state[:2])
    elif isinstance(exc, PoolTimeout | psycopg.OperationalError | psycopg.InterfaceError):
        problem = "unavailable"  # no answer: the connection failed, broke or is closed
    else:
        problem = None
    if problem is None:
        return None
    text = " ".join(str(exc).split())
    return Fault(problem, text or type(exc).__name__)


def probe(pool: ConnectionPool, name: str) -> Fault | None:
    """One row rewritten and committed through the pool (run on a thread of its own)."""
    try:
        with pool.connection(timeout=PROBE_WAIT) as conn, conn.transaction():
            conn.execute(f"SET LOCAL statement_timeout = {int(PROBE_WAIT * 1000)}".encode())
            conn.execute("UPDATE store_health SET checked_at = now() WHERE id = 1")
        return None
    except PoolTimeout as exc:
        stats = pool.get_stats()
        return Fault(
            "unavailable",
            f"no connection to {name} within {PROBE_WAIT:g} s ({exc}; "
            f"{stats.get('pool_size', 0)} open, {stats.get('requests_waiting', 0)} waiting)",
        )
    except psycopg.Error as exc:
        return classify(exc) or Fault("unavailable", type(exc).__name__)


class Faults:
    """The last probe's finding, and what the lanes met since; shared by the store's threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._probe: Fault | None = None
        self._met: tuple[float, Fault] | None = None  # a lane's, after the last probe

    def saw(self, exc: BaseException) -> None:
        fault = classify(exc)
        if fault is not None:
            with self._lock:
                self._met = (time.monotonic(), fault)

    def probed(self, fault: Fault | None, started: float) -> None:
        """A probe that began at `started` (monotonic) found `fault` (None: it wrote)."""
        with self._lock:
            self._probe = fault
            if self._met is not None and self._met[0] <= started:
                self._met = None

    def health(self) -> StoreHealth:
        with self._lock:
            fault = self._met[1] if self._met is not None else self._probe
        if fault is None:
            return StoreHealth(True)
        return StoreHealth(False, fault.problem, f"PostgreSQL {self.name}: {fault.detail}")
