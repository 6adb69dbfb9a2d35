"""Suite-wide fixtures, and the hook that makes every tests/conversations/**/*.yaml a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.city import build_responder
from bot.clock import TOKYO, FrozenClock
from bot.replay.runner import run_conversation
from bot.replay.spec import parse_conversation
from bot.yamlsource import YamlSourceError

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = ROOT / "tests" / "conversations"
FLOWS = ROOT / "flows"

# One built user dictionary for every test, whatever folder a test runs in (tests of the
# city folder run commands in empty temporary folders).
os.environ.setdefault("BOT_CACHE_DIR", str(ROOT / "var" / "cache"))


class _SharedResponder:
    """One responder (and its clock) for all conversation files: built once per session."""

    clock: FrozenClock | None = None
    responder = None

    @classmethod
    def get(cls):
        if cls.responder is None:
            from datetime import datetime

            cls.clock = FrozenClock(datetime(2000, 1, 1, tzinfo=TOKYO))
            cls.responder = build_responder(FLOWS, cls.clock)
        return cls.responder, cls.clock


class ConversationFile(pytest.File):
    def collect(self):
        yield ConversationItem.from_parent(self, name=self.path.stem)


class ConversationItem(pytest.Item):
    def runtest(self) -> None:
        try:
            spec = parse_conversation(self.path)
        except YamlSourceError as exc:
            raise ConversationFailure(str(exc)) from None
        responder, clock = _SharedResponder.get()
        result = run_conversation(spec, responder, FLOWS, clock)
        if not result.passed:
            lines = [f"{self.path.relative_to(ROOT)} — {spec.name}"]
            lines += [f"  turn {f.turn}: {f.message}" for f in result.failures]
            raise ConversationFailure("\n".join(lines))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ConversationFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"conversation: {self.name}"


class ConversationFailure(Exception):
    pass


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix in {".yaml", ".yml"} and CONVERSATIONS in file_path.parents:
        return ConversationFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def flows_dir() -> Path:
    return FLOWS


# ---- PostgreSQL (tests/support/postgres.py) ---------------------------------------------------

from tests.support.postgres import pg_server, pg_url  # noqa: E402, F401 - fixtures


def pytest_terminal_summary(terminalreporter) -> None:
    """Say it plainly when the PostgreSQL tests did not run."""
    from tests.support.postgres import SKIP_REASON

    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if SKIP_REASON in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} {SKIP_REASON}", yellow=True, bold=True)
