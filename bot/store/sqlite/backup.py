"""`bot backup PATH`: a consistent copy of a live SQLite database (SQLite's online backup).

The copy is taken in one step, inside one read transaction of a connection of its own: it
is the database as of one instant, whatever the server commits meanwhile (WAL: the server's
writers carry on). It is written beside PATH, checked (quick_check), fsync'd, made 0600 and
only then renamed to PATH, so PATH is always either the old copy or a whole new one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from bot.errors import InputError
from bot.store.base import StoreUnusable
from bot.store.sqlite.connection import private_file
from bot.store.sqlite.health import unusable


@dataclass(frozen=True)
class BackupReport:
    path: Path
    pages: int
    bytes: int
    seconds: float
    check: str  # "ok", or what quick_check found


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(source: Path, dest: Path) -> BackupReport:
    if not source.is_file():
        raise InputError(f"no database at {source} (BOT_DB / --db)")
    if dest.is_dir():
        raise InputError(f"{dest} is a folder: give the backup's file name")
    if not dest.parent.is_dir():
        raise InputError(f"no folder {dest.parent} for the backup")
    if dest.resolve() == source.resolve():
        raise InputError("the backup cannot replace the database itself")
    started = time.monotonic()
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    private_file(partial)  # residents' data: 0600 like the database
    try:
        src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StoreUnusable(unusable(str(source), exc)) from None
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # pages=-1: every page in one step, one consistent snapshot
        pages = dst.execute("PRAGMA page_count").fetchone()[0]
        found = dst.execute("PRAGMA quick_check(1)").fetchone()
        check = " ".join(str(found[0]).split()) if found else "no answer"
    except sqlite3.Error as exc:
        dst.close()
        partial.unlink(missing_ok=True)
        raise StoreUnusable(unusable(str(source), exc)) from None
    finally:
        src.close()
    dst.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        return BackupReport(dest, pages, 0, time.monotonic() - started, check)
    _fsync(partial)
    os.replace(partial, dest)
    with contextlib.suppress(OSError):
        _fsync(dest.parent, directory=True)
    return BackupReport(dest, pages, dest.stat().st_size, time.monotonic() - started, check)
