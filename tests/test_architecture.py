"""The house's rules, checked: SQL and database drivers only under bot/store/; the engine,
the domain and the NLU free of HTTP and drivers; no import cycle (import-linter contracts
in pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
STORE = BOT / "store"

# SQL as the code writes it (statements in upper case; prose and Japanese do not match).
SQL = re.compile(
    r"\b(SELECT\s+[\w*(]|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX)|PRAGMA\s+\w|"
    r"BEGIN\s+(IMMEDIATE|EXCLUSIVE|TRANSACTION)|ON\s+CONFLICT)"
)
DRIVER = re.compile(r"^\s*(import|from)\s+(sqlite3|sqlite_utils|psycopg|psycopg_pool)\b", re.M)


def _outside_store() -> list[Path]:
    return [p for p in sorted(BOT.rglob("*.py")) if STORE not in p.parents]


def test_sql_lives_only_under_bot_store() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for path in _outside_store()
        for text in [path.read_text(encoding="utf-8")]
        for match in SQL.finditer(text)
    ]
    assert found == []


def test_the_pattern_finds_sql() -> None:
    """The check above can fail: it sees the store's own statements."""
    pipeline = (STORE / "sqlite" / "pipeline.py").read_text(encoding="utf-8")
    assert len(SQL.findall(pipeline)) >= 10


def test_no_driver_is_imported_outside_bot_store() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in _outside_store()
        if DRIVER.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
    assert DRIVER.search((STORE / "sqlite" / "connection.py").read_text(encoding="utf-8"))


def test_import_contracts_are_kept() -> None:
    """No cycle among bot's packages and modules; engine, domain and NLU import neither
    aiohttp nor a driver; only the store's backends import drivers."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--no-cache",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout
