"""Is the SQLite file still the database we write, readable, and writable? (Store.health)

Faults are found two ways. Probes, cheap enough for every /healthz: the file at the path
is still the one opened (device and inode: deleted or replaced while running), a fresh
connection reads its header and schema, a page-sized file can be written and fsync'd
beside it (disk full), and a one-row write commits. And the real work: every lane
reports the errors SQLite gives it, and after each commit checks the file is still the one
it opened, so no webhook is acknowledged for a row written into a deleted file.

Deleted, replaced and corrupt are fatal until a restart (what was written since went into
a file nobody will open again, or into one that cannot be trusted): every read and write
is refused (503, the provider retries). Disk full and I/O errors last until a write works.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from bot.store.records import StoreHealth
from bot.store.sqlite.migrations import MigrationSet

MIGRATIONS = MigrationSet("store")

FATAL = frozenset({"deleted", "replaced", "corrupt"})
PROBE_BYTES = 4096


@MIGRATIONS.step("health probe")
def _probe_table(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE store_health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT)")
    db.execute("INSERT INTO store_health (id, checked_at) VALUES (1, NULL)")


@dataclass(frozen=True)
class Fault:
    problem: str  # deleted | replaced | corrupt | unreadable | unwritable | disk_full | io_error
    detail: str


def classify(exc: BaseException) -> Fault | None:
    """What an error from SQLite says about the database (None: nothing about the file —
    a constraint, a busy lock, a bad value)."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return Fault("corrupt", str(exc))
    if "disk is full" in text or "database or disk is full" in text:
        return Fault("disk_full", str(exc))
    if "readonly" in text or "read-only" in text:
        return Fault("unwritable", str(exc))
    if "disk i/o error" in text:
        return Fault("io_error", str(exc))
    if "unable to open" in text:
        return Fault("unreadable", str(exc))
    if "no such table" in text:  # the bot's tables dropped under it (as PostgreSQL's 42P01)
        return Fault("deleted", f"a table of the bot's is gone: {exc}")
    return None


def _os_fault(exc: OSError, what: str) -> Fault:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return Fault("disk_full", f"{what}: {reason}")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return Fault("unwritable", f"{what}: {reason}")
    return Fault("io_error", f"{what}: {reason}")


def schema_fault(path: str) -> Fault | None:
    """A fresh connection (never creating the file) checks the header and reads the schema:
    a damaged first page or schema is found here even when the serving connections have
    them cached. Through SQLite, never with a file handle of our own: closing any handle on
    the database file drops every POSIX lock this process holds on it, SQLite's included."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return classify(exc) or Fault("unreadable", str(exc))
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return None
    except sqlite3.Error as exc:
        fault = classify(exc)
        if fault is None and "locked" in str(exc).lower():
            return None  # busy, not broken
        return fault or Fault("corrupt", str(exc))
    finally:
        conn.close()


def quick_check_fault(path: str) -> Fault | None:
    """SQLite's quick_check over the whole file (a fresh connection): finds damage in pages
    nothing has read lately. It reads every page, so it runs rarely, in the background."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        return classify(exc) or Fault("unreadable", str(exc))
    try:
        first = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.Error as exc:
        return classify(exc) or Fault("corrupt", str(exc))
    finally:
        conn.close()
    if first is None or first[0] != "ok":
        said = " ".join(str(first[0]).split()) if first else "no answer"
        return Fault("corrupt", f"quick_check: {said}")
    return None


def disk_fault(folder: str) -> Fault | None:
    """A page written and fsync'd beside the database: a full disk (or quota) shows here
    before SQLite's WAL, which reuses its own space, runs out."""
    probe = os.path.join(folder, f".bot-health-{os.getpid()}-{threading.get_ident()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return _os_fault(exc, "cannot write beside the database")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return None


def write_probe(db: sqlite_utils.Database, stamp: str) -> None:
    """One row rewritten and committed (inside the caller's write transaction)."""
    db.execute("UPDATE store_health SET checked_at = ? WHERE id = 1", [stamp])


class Faults:
    """What the lanes and the probes found, shared by the store's threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fatal: Fault | None = None
        self._passing: Fault | None = None  # disk full, I/O: until a write works again
        self._identity: tuple[int, int] | None = None

    def opened(self) -> None:
        """Remember which file this is (after the first open created it)."""
        st = os.stat(self.path)
        self._identity = (st.st_dev, st.st_ino)

    @property
    def fatal(self) -> Fault | None:
        return self._fatal

    @property
    def current(self) -> Fault | None:
        return self._fatal or self._passing

    def found(self, fault: Fault | None) -> None:
        if fault is None:
            return
        with self._lock:
            if fault.problem in FATAL:
                self._fatal = self._fatal or fault
            else:
                self._passing = fault

    def saw(self, exc: BaseException) -> None:
        self.found(classify(exc))

    def wrote(self) -> None:
        """A write committed: passing faults are over."""
        if self._passing is not None:
            with self._lock:
                self._passing = None

    def identity_fault(self) -> Fault | None:
        """Deleted or replaced since it was opened (checked after every commit: a stat)."""
        if self._identity is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            fault = Fault("deleted", "the database file was deleted while the bot was running")
        except OSError as exc:
            fault = _os_fault(exc, "cannot see the database file")
        else:
            if (st.st_dev, st.st_ino) == self._identity:
                return None
            fault = Fault("replaced", "the database file was replaced while the bot was running")
        self.found(fault)
        return fault

    def probe_files(self) -> Fault | None:
        """The probes that need no connection of the store's (run on a worker thread)."""
        for fault in (
            self.identity_fault(),
            schema_fault(self.path),
            disk_fault(str(Path(self.path).parent)),
        ):
            if fault is not None:
                self.found(fault)
                return fault
        return None

    def health(self, name: str) -> StoreHealth:
        fault = self.current
        if fault is None:
            return StoreHealth(True)
        return StoreHealth(False, fault.problem, f"{name}: {fault.detail}")


_SAYS = {
    "deleted": "is gone",
    "replaced": "was replaced",
    "corrupt": "is corrupt",
    "unreadable": "cannot be opened",
    "unwritable": "cannot be written",
    "disk_full": "cannot be written: the disk is full",
    "io_error": "cannot be read or written (I/O error)",
}


def unusable(path: str, exc: BaseException) -> str:
    """One line for an operator when the database cannot be opened at start-up."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, OSError):
        fault = _os_fault(cause, "cannot open it")
    else:
        fault = classify(cause) or Fault("unreadable", str(cause))
    says = _SAYS.get(fault.problem, f"has a problem ({fault.problem})")
    if fault.problem == "corrupt":
        advice = "restore it from a backup (docs/operations.md)"
    elif "locked" in fault.detail:
        advice = "another process is using it (one bot serve per SQLite file)"
    else:
        advice = "check the path, its folder's permissions and free space, or give another --db"
    return f"the database {path} {says} ({fault.detail}); {advice}"
