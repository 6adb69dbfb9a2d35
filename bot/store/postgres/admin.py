"""A server's databases, for tools that make their own (the bench): create one beside the
given URL's, list its server processes, drop it."""

from __future__ import annotations

import secrets

import psycopg


def _url_of(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    return head.rsplit("/", 1)[0] + f"/{name}" + (f"?{tail}" if tail else "")


def create_database(admin: str, prefix: str) -> tuple[str, str]:
    """A new empty database on the server of `admin` (a role with CREATEDB): (name, URL)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return name, _url_of(admin, name)


def backend_pids(admin: str, name: str) -> list[int]:
    """The server processes serving database `name` now."""
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]
        ).fetchall()
    return [int(row[0]) for row in rows]


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
