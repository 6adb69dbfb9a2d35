"""`bot serve --workers N`: N processes on one port for PostgreSQL (a child that dies is
started again; SIGTERM stops them all); SQLite refuses, with one line and exit 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.server import ROOT, free_port, wait_healthy

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(x) for x in text.split()]


def _serve(port: int, db: str, *extra: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--db", db, *extra],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": "k" * 40, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sqlite_refuses_more_than_one_process(tmp_path):
    server = _serve(free_port(), str(tmp_path / "bot.db"), "--workers", "2")
    out, err = server.communicate(timeout=60)
    assert server.returncode == 2
    assert err.decode().strip().splitlines() == [
        "bot: --workers needs PostgreSQL (BOT_DB=postgresql://…): "
        "a SQLite database is served by one process"
    ]


async def test_workers_share_one_port_and_a_dead_one_is_replaced(pg_url):
    port = free_port()
    parent = _serve(port, pg_url, "--workers", "2")
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while len(_children(parent.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        first, second = _children(parent.pid)
        os.kill(first, signal.SIGKILL)
        while first in _children(parent.pid) or len(_children(parent.pid)) < 2:
            assert time.monotonic() < deadline, "the dead process was not replaced"
            time.sleep(0.1)
        assert second in _children(parent.pid)
        await wait_healthy(f"http://127.0.0.1:{port}")
    finally:
        parent.send_signal(signal.SIGTERM)
        out, _ = parent.communicate(timeout=30)
    assert parent.returncode == 0
    assert "(2 processes)" in out.decode()
