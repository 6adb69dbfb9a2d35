"""A server's databases, for tools that make their own (the bench): create one beside the
given URL's, list its server processes, drop it."""

from __future__ import annotations

import secrets
import time

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


def drop_database(admin: str, name: str, attempts: int = 30) -> bool:
    """Drop database `name`, ending its sessions. An autovacuum worker (the server's, which
    a role without superuser may not end) can hold it for a while: try again each second.
    False if it could not be dropped (it is left for the operator)."""
    for _ in range(attempts):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            return True
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            time.sleep(1.0)
    return False
