"""`bot handoff list|return` through the real command, on a database with a handoff."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime

from bot.city import build_responder
from bot.clock import TOKYO, FrozenClock
from bot.local import LocalBot
from tests.foundation.helpers import ROOT, SECRET

RESIDENT = "+819012344321"


def _bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": SECRET.decode()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bot_with_key(key: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_then_return_hands_the_resident_back(tmp_path):
    db_path = tmp_path / "bot.db"
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))
    flows = ROOT / "flows"
    bot = LocalBot(build_responder(flows, clock), clock, flows, db_path, secret_key=SECRET)
    try:
        bot.send(RESIDENT, "担当者と話したい")
        assert bot.send(RESIDENT, "書類の件で相談です") == []  # silent: staff have it
    finally:
        bot.close()

    listed = _bot("handoff", "--db", str(db_path), "list")
    assert listed.returncode == 0, listed.stderr
    assert "書類の件で相談です" in listed.stdout and RESIDENT[3:] not in listed.stdout
    ref = listed.stdout.split("[", 1)[1].split("]", 1)[0]
    # The notes are sealed: another key cannot read them, and says so in one line.
    other_key = _bot_with_key("another-key-" + "x" * 32, "handoff", "--db", str(db_path), "list")
    assert other_key.returncode == 2 and len(other_key.stderr.splitlines()) == 1, other_key.stderr
    assert "BOT_SECRET_KEY" in other_key.stderr

    assert _bot("handoff", "--db", str(db_path), "return", "nope00").returncode == 2
    returned = _bot("handoff", "--db", str(db_path), "return", ref)
    assert returned.returncode == 0 and ref in returned.stdout
    again = _bot("handoff", "--db", str(db_path), "list")
    assert "引き継ぎ中の会話はありません" in again.stdout

    db = sqlite3.connect(db_path)
    try:
        assert db.execute("SELECT count(*) FROM residents WHERE handoff = 1").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM staff_notes WHERE seen = 0").fetchone()[0] == 0
        # Reading residents' messages from the terminal is recorded like in the console.
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY seq")]
        assert actions == ["conversation.view", "conversation.returned"]
        assert db.execute("SELECT actor FROM audit_log").fetchone()[0].startswith("cli:")
    finally:
        db.close()
