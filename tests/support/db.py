"""The tests' own look into a store's database, on either backend: `?` placeholders, rows
as tuples, autocommit. For checks and set-ups the protocols do not offer (and should not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import is_db_url


class Peek:
    def __init__(self, location: Path | str) -> None:
        self.postgres = is_db_url(location)
        if self.postgres:
            import psycopg

            from bot.store.postgres.connection import conninfo

            self.conn: Any = psycopg.connect(conninfo(str(location)), autocommit=True)
        else:
            import sqlite3

            self.conn = sqlite3.connect(str(location), isolation_level=None, timeout=30)

    def __call__(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple]:
        """Run one statement; its rows (none for a write)."""
        if self.postgres:
            cur = self.conn.execute(sql.replace("?", "%s"), list(params))
            return [tuple(row) for row in cur.fetchall()] if cur.description else []
        return self.conn.execute(sql, list(params)).fetchall()

    def dicts(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of a query as dicts by column name."""
        if self.postgres:
            cur = self.conn.execute(sql.replace("?", "%s"), list(params))
        else:
            cur = self.conn.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> Any:
        rows = self(sql, params)
        return rows[0][0] if rows else None

    def close(self) -> None:
        self.conn.close()
