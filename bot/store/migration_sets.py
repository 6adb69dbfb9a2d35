"""Named migration sets: each owner (staff, notices, …) keeps its own numbered steps.

The core schema keeps its single list in bot/store/migrations.py; an owner registers a
set there with one line and numbers its steps from 1 without colliding with anyone's.
Each step runs once, in its own transaction, and is recorded as (owner, version)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlite_utils

Step = Callable[[sqlite_utils.Database], None]


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Statements separated by `;` (not executescript(): it would commit the transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def migrate_set(
    db: sqlite_utils.Database, owner: str, steps: Sequence[tuple[int, str, Step]]
) -> list[int]:
    """Apply the owner's pending steps in order; the versions applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration_sets (owner TEXT NOT NULL, "
        "version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, "
        "PRIMARY KEY (owner, version))"
    )
    done = {
        row[0]
        for row in db.execute(
            "SELECT version FROM schema_migration_sets WHERE owner = ?", [owner]
        ).fetchall()
    }
    applied = []
    for version, name, step in steps:
        if version in done:
            continue
        with db.atomic():
            step(db)
            db.execute(
                "INSERT INTO schema_migration_sets VALUES (?, ?, ?, datetime('now'))",
                [owner, version, name],
            )
        applied.append(version)
    return applied
