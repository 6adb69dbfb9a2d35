"""PostgreSQL for the tests: BOT_TEST_POSTGRES (a URL of a role that may create databases)
names the server. Each test session gets a database of its own, each test a schema of its
own in it (a URL whose search_path is that schema), dropped afterwards.

Without BOT_TEST_POSTGRES the PostgreSQL tests are skipped and the run says so at the end;
with BOT_REQUIRE_POSTGRES=1 (CI) a missing or unreachable server fails them instead."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

ENV = "BOT_TEST_POSTGRES"
SKIP_REASON = f"PostgreSQL tests skipped: set {ENV}=postgresql://… to run them"


def server_url() -> str | None:
    url = os.environ.get(ENV, "").strip()
    if url:
        return url
    if os.environ.get("BOT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{ENV} is not set but BOT_REQUIRE_POSTGRES=1 (CI must run them)")
    pytest.skip(SKIP_REASON)
    return None


def with_database(url: str, name: str) -> str:
    """The same server and role, another database."""
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


def with_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


class PgServer:
    """A database made for this test session on the BOT_TEST_POSTGRES server."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.admin = url
        self.name = f"bot_test_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = with_database(url, self.name)

    def database(self) -> str:
        """A fresh, empty database (its URL) for tests that need one whole (migrate --to)."""
        import psycopg

        name = f"{self.name}_{secrets.token_hex(3)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.admin, name)

    def schema(self) -> tuple[str, str]:
        """A fresh schema: (its name, a URL that works in it)."""
        import psycopg

        name = f"t_{secrets.token_hex(4)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name, with_schema(self.url, name)

    def drop_schema(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")

    def close(self) -> None:
        import sys

        import psycopg

        from bot.store.postgres.admin import drop_database

        with psycopg.connect(self.admin, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{self.name}%"]
            ).fetchall()
        for (name,) in rows:
            if not drop_database(self.admin, name):  # an autovacuum worker held it
                print(f"test database {name} left behind (drop it later)", file=sys.stderr)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = server_url()
    assert url is not None
    try:
        server = PgServer(url)
    except Exception as exc:  # unreachable, wrong password, no CREATEDB: say which
        pytest.fail(f"{ENV}={url!r} does not work: {exc}")
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A URL of an empty schema of its own (dropped after the test)."""
    name, url = pg_server.schema()
    yield url
    pg_server.drop_schema(name)
