"""Named migration sets, one per owner of tables (as sqlite-utils' sqlite-migrate has them).

An owner (the pipeline, bookings, the staff desk, …) declares its set in its own module:

    MIGRATIONS = MigrationSet("bookings")

    @MIGRATIONS.step("create bookings")
    def _create(db): ...

Steps run once each, in declaration order, every one in its own transaction, and are
recorded in `store_migrations (owner, name)`. Never edit or reorder a step that has
shipped: add a new one. Sets are applied in the order bot.store.sqlite.schema lists them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from bot.store import migration_sets

LEDGER = "store_migrations"
# Databases made before the migration sets kept one numbered list in `schema_migrations`:
# which steps of which sets each of those versions stands for.
LEGACY = {
    1: [("pipeline", "core tables"), ("staff", "staff notes")],
    2: [("bookings", "bookings")],
    3: [("pipeline", "residents.failed_turns")],
}


class MigrationSet(migration_sets.MigrationSet[sqlite_utils.Database]):
    """An owner's steps on a SQLite database (bot.store.migration_sets)."""


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Statements separated by `;`, inside the caller's transaction (executescript would
    commit first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _adopt_legacy(db: sqlite_utils.Database) -> None:
    """Record the steps an older database already has, from its `schema_migrations`."""
    if "schema_migrations" not in db.table_names():
        return
    versions = {row[0] for row in db.execute("SELECT version FROM schema_migrations").fetchall()}
    for version in sorted(versions):
        for owner, name in LEGACY.get(version, []):
            db.execute(
                f"INSERT OR IGNORE INTO {LEDGER} (owner, name, applied_at) "
                "VALUES (?, ?, datetime('now'))",
                [owner, name],
            )


def apply(db: sqlite_utils.Database, sets: Iterable[MigrationSet]) -> list[str]:
    """Apply every pending step; returns them as `owner:name`."""
    with db.atomic():
        if LEDGER not in db.table_names():
            db.execute(
                f"CREATE TABLE {LEDGER} (owner TEXT NOT NULL, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL, PRIMARY KEY (owner, name))"
            )
            _adopt_legacy(db)
    done = {(row[0], row[1]) for row in db.execute(f"SELECT owner, name FROM {LEDGER}").fetchall()}
    applied = []
    for migrations in sets:
        for name, step in migrations.steps:
            if (migrations.owner, name) in done:
                continue
            with db.atomic():
                step(db)
                db.execute(
                    f"INSERT INTO {LEDGER} (owner, name, applied_at) VALUES (?, ?, datetime('now'))",
                    [migrations.owner, name],
                )
            applied.append(f"{migrations.owner}:{name}")
    return applied
