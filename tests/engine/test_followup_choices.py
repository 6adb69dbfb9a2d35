"""A follow-up after a flow ended is tried against each of its questions: a question whose
choices come from a step that path never took has no choices there — not an error."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

from bot.cli import main
from tests.foundation.helpers import ROOT


def test_a_follow_up_after_a_cancel_logs_no_error(tmp_path: Path, capsys, caplog) -> None:
    conversation = tmp_path / "cancel_then_day.yaml"
    conversation.write_text(
        textwrap.dedent(
            """\
            name: 取り消しのあとに日付だけ
            now: "2026-11-24T10:00:00+09:00"
            turns:
              - say: 1人掛けのソファーを出したい
              - say: 桜台
              - say: "1"
              - say: はい
                reply: {contains: [受付番号]}
              - say: 予約をキャンセルしたい
              - say: "2"
              - say: はい
                reply: {contains: [取り消しました]}
              - say: 来週の火曜日でお願いします
            """
        ),
        encoding="utf-8",
    )
    with caplog.at_level(logging.ERROR):
        code = main(["replay", "--flows", str(ROOT / "flows"), str(conversation)])
    assert code == 0, capsys.readouterr().out
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
