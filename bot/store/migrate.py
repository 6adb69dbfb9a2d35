"""`bot migrate`: bring a database's schema up to date (every owner's migrations), and move
a city from its SQLite file to PostgreSQL (`bot migrate --from FILE --to URL`).

The move copies every table the two schemas share, column by column, in one PostgreSQL
transaction (all of it or nothing): ids, times, flags, the encrypted numbers and the sealed
texts byte for byte, so the same BOT_SECRET_KEY reads them. A city from before texts were
sealed at rest has its plain texts sealed on the way (with its key), never copied plain.
It refuses a target that already holds a city's rows, so running it twice cannot double
anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import is_db_url
from bot.errors import BotError
from bot.store.codec import AT_REST, SEALED_STEP, Codec, Sealer

# Not a city's rows: the migration ledgers, and the backends' own bookkeeping.
_SKIP = {
    "store_migrations",
    "schema_migrations",
    "store_leases",
    "send_budget",
    "sender_limits",
    "store_health",
}


class MoveRefused(BotError):
    """The target is not empty (or not PostgreSQL): nothing was copied."""


@dataclass
class Moved:
    rows: dict[str, int] = field(default_factory=dict)


def upgrade(location: Path | str) -> list[str]:
    """Apply every owner's pending migrations; returns them as `owner:name`."""
    if is_db_url(location):
        import psycopg

        from bot.store.postgres.connection import connect, unavailable
        from bot.store.postgres.schema import migrate as pg_migrate

        try:
            with connect(str(location)) as conn:
                return pg_migrate(conn)
        except psycopg.Error as exc:
            raise unavailable(exc, "migration") from exc
    from bot.store.sqlite.connection import open_database
    from bot.store.sqlite.schema import migrate as sqlite_migrate

    db = open_database(location)
    try:
        return sqlite_migrate(db)
    finally:
        db.close()


def move_to_postgres(source: Path, target: str, sealer: Sealer | None = None) -> Moved:
    """Copy the SQLite city at `source` into the empty PostgreSQL database at `target`.
    `sealer` (the city's TextVault) is needed only when `source` still holds plain texts
    (a database no version with sealing has opened): they are sealed as they are copied."""
    import sqlite3

    import psycopg

    from bot.store.postgres.connection import unavailable

    if not is_db_url(target):
        raise MoveRefused(f"--to must be a postgresql:// URL, not {target!r}")
    if not source.is_file():
        raise MoveRefused(f"--from: no SQLite database at {source}")
    upgrade(source)  # this version's schema on both sides
    upgrade(target)
    lite = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        codec = None if _sealed(lite) else _codec(source, sealer)
        return _copy(lite, target, codec)
    except psycopg.Error as exc:
        raise unavailable(exc, "move") from exc
    finally:
        lite.close()


def _sealed(lite: Any) -> bool:
    found = lite.execute(
        "SELECT 1 FROM store_migrations WHERE owner = ? AND name = ?", SEALED_STEP
    ).fetchone()
    return found is not None


def _codec(source: Path, sealer: Sealer | None) -> Codec:
    if sealer is None:
        raise MoveRefused(
            f"the texts in {source} are not encrypted yet and no key was given to encrypt "
            "them: set BOT_SECRET_KEY to the city's key (or open it once with `bot serve`)"
        )
    return Codec(sealer)


def _copy(lite: Any, target: str, codec: Codec | None) -> Moved:
    """Every table the two schemas share, in one PostgreSQL transaction; with `codec`, the
    plain texts of bot.store.codec.AT_REST sealed on the way."""
    from bot.store.postgres import sealing
    from bot.store.postgres.connection import connect
    from bot.store.sqlite.sealing import seal_value

    moved = Moved()
    names = [
        row[0]
        for row in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    with connect(target) as conn, conn.transaction():
        pg_columns: dict[str, list[str]] = {}
        counters = set()  # tables whose id the database hands out (identity columns)
        for row in conn.execute(
            "SELECT table_name, column_name, is_identity FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY ordinal_position"
        ).fetchall():
            pg_columns.setdefault(row["table_name"], []).append(row["column_name"])
            if row["is_identity"] == "YES":
                counters.add(row["table_name"])
        tables = [n for n in names if n in pg_columns and n not in _SKIP]
        for table in tables:
            count = conn.execute(f"SELECT count(*) AS n FROM {table}".encode()).fetchone()
            if count and count["n"]:
                raise MoveRefused(
                    f"the target already holds a city ({table}: {count['n']} rows); "
                    "moving needs an empty database"
                )
        for table in tables:
            lite_columns = [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
            columns = [c for c in lite_columns if c in pg_columns[table]]
            listed = ", ".join(columns)
            kinds = [AT_REST.get(table, {}).get(c) if codec else None for c in columns]
            moved.rows[table] = 0
            with conn.cursor().copy(f"COPY {table} ({listed}) FROM STDIN".encode()) as copy:
                for values in lite.execute(f"SELECT {listed} FROM {table} ORDER BY rowid"):
                    if codec is not None and any(kinds):
                        values = [
                            seal_value(codec, kind, value) if kind else value
                            for kind, value in zip(kinds, values, strict=True)
                        ]
                    copy.write_row(values)
                    moved.rows[table] += 1
            if table in counters:  # new rows continue after the copied ids
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"greatest((SELECT max(id) FROM {table}), 1))".encode()
                )
        if "inbox" in tables:
            conn.execute(
                "SELECT setval('inbox_batches', greatest((SELECT max(batch) FROM inbox), 1))"
            )
        sealing.mark_sealed(conn)  # every text it holds is sealed now
    return moved
