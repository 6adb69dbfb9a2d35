"""`bot notices` as the contract has it: create (prints the id; a bad file → exit 2 with
file:line), approve (a second person; exit 1 when refused, with the reason), cancel,
status [--json] (the contract's object, exactly), list [--json]; the audit log names who.
Each test on each backend (BOT_DB a SQLite file, then a PostgreSQL URL)."""

from __future__ import annotations

import json
from pathlib import Path

import argon2
import pytest

from bot.cli import main
from bot.staff import accounts
from tests.foundation.helpers import ROOT

KEY = "k" * 40
CONTRACT_FILE = """\
title: 台風10号 避難所開設
category: emergency
topic: bousai
audience:
  districts: [南, 東]
text: |
  【さくら市】台風10号の接近に伴い、南中学校と東公民館を避難所として開設しました。
rich:
  title: 避難所を開設しました
  description: 南中学校・東公民館
  image: images/shelter.png
  buttons:
    - {label: 避難所の一覧, url: "https://www.city.sakura.example.jp/bousai/"}
    - {label: 危機管理課に電話, dial: "+81123456770"}
ask:
  question: ご無事ですか。番号でお答えください。
  choices: [無事です, 支援が必要です]
  handoff: [支援が必要です]
send_at: "2026-12-07T09:00:00+09:00"
expires_at: "2099-12-07T15:00:00+09:00"
"""
REGULAR = """\
title: ごみ通信 12月号
category: regular
topic: gomi
text: |
  【さくら市】12月のごみ通信です。年末年始の収集日は https://www.city.sakura.example.jp/gomi/ をご覧ください。
  配信停止は「停止」と返信
"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
STATUS_KEYS = [
    "id", "state", "category", "topic", "recipients", "queued", "sent", "delivered", "failed",
    "read", "held_quiet_hours", "skipped", "stopped_after", "answers", "segments_per_sms",
    "estimated_cost_yen",
]  # fmt: skip


@pytest.fixture
def city(tmp_path: Path, location, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    """The notice files' folder; the database is `location` (each backend in turn)."""
    monkeypatch.setenv("BOT_DB", str(location))
    monkeypatch.setenv("BOT_SECRET_KEY", KEY)
    monkeypatch.setenv("BOT_FLOWS", str(ROOT / "flows"))
    monkeypatch.setattr(accounts, "HASH_PROFILE", argon2.profiles.CHEAPEST)
    for name, role in (("tanaka", "editor"), ("sato", "approver"), ("suzuki", "approver")):
        assert main(["staff", "add", name, "--role", role]) == 0
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "shelter.png").write_bytes(PNG)
    capsys.readouterr()
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_contracts_file_makes_a_draft_and_its_status(city: Path, capsys) -> None:
    code, out, err = run(
        capsys, "notices", "create", str(write(city, "n.yaml", CONTRACT_FILE)), "--by", "tanaka"
    )
    assert code == 0, err
    notice_id = out.strip()
    assert len(notice_id) == 8 and not set(notice_id) & set("0O1I")
    code, out, _ = run(capsys, "notices", "status", notice_id, "--json")
    status = json.loads(out)
    assert list(status) == STATUS_KEYS
    assert list(status["skipped"]) == ["stopped", "weekly_cap", "expired"]
    assert status["state"] == "draft" and status["category"] == "emergency"
    assert status["answers"] == {"無事です": 0, "支援が必要です": 0}
    assert status["segments_per_sms"] == 2


def test_the_status_object_has_the_contracts_types(city: Path, capsys) -> None:
    """Every count an integer (never null or a string), states from the contract's list,
    the cost the segments times the recipients times the yen per segment."""
    path = write(city, "r.yaml", REGULAR)
    notice_id = run(capsys, "notices", "create", str(path), "--by", "tanaka")[1].strip()
    for step in (None, ("approve", "sato"), ("cancel", "suzuki")):
        if step:
            assert run(capsys, "notices", step[0], notice_id, "--by", step[1])[0] == 0
        code, out, _ = run(capsys, "notices", "status", notice_id.lower(), "--json")
        assert code == 0 and len(out.splitlines()) == 1
        status = json.loads(out)
        assert list(status) == STATUS_KEYS and status["id"] == notice_id
        assert status["state"] in {
            "draft", "approved", "scheduled", "sending", "sent", "cancelled", "expired"
        }  # fmt: skip
        counts = {k: v for k, v in status.items() if k not in ("id", "state", "category", "topic")}
        counts.update({f"skipped.{k}": v for k, v in counts.pop("skipped").items()})
        counts.update({f"answers.{k}": v for k, v in counts.pop("answers").items()})
        assert all(type(v) is int and v >= 0 for v in counts.values()), counts
        assert status["estimated_cost_yen"] == 3 * status["segments_per_sms"] * status["recipients"]
    assert status["state"] == "cancelled"


def test_an_emergency_may_be_approved_by_one_approver(city: Path, capsys) -> None:
    _, out, _ = run(
        capsys, "notices", "create", str(write(city, "n.yaml", CONTRACT_FILE)), "--by", "sato"
    )
    notice_id = out.strip()
    code, out, err = run(capsys, "notices", "approve", notice_id, "--by", "sato")
    assert code == 0, err
    assert "approved by sato" in out
    _, out, _ = run(capsys, "notices", "status", notice_id, "--json")
    assert json.loads(out)["state"] == "approved"


def test_a_regular_notice_needs_a_second_person(city: Path, capsys) -> None:
    _, out, _ = run(
        capsys, "notices", "create", str(write(city, "r.yaml", REGULAR)), "--by", "sato"
    )
    notice_id = out.strip()
    code, out, err = run(capsys, "notices", "approve", notice_id, "--by", "sato")
    assert code == 1
    assert "別の承認者" in err
    code, _, err = run(capsys, "notices", "approve", notice_id, "--by", "tanaka")
    assert code == 1 and "権限" in err  # an editor may not approve at all
    code, _, err = run(capsys, "notices", "approve", notice_id, "--by", "suzuki")
    assert code == 0, err
    code, _, err = run(capsys, "notices", "approve", notice_id, "--by", "suzuki")
    assert code == 1 and "すでに" in err


def test_cancel_and_the_audit_log(city: Path, capsys) -> None:
    _, out, _ = run(
        capsys, "notices", "create", str(write(city, "r.yaml", REGULAR)), "--by", "tanaka"
    )
    notice_id = out.strip()
    assert run(capsys, "notices", "approve", notice_id, "--by", "sato")[0] == 0
    assert run(capsys, "notices", "cancel", notice_id, "--by", "tanaka")[0] == 1  # editor
    code, out, _ = run(capsys, "notices", "cancel", notice_id, "--by", "suzuki")
    assert code == 0 and "cancelled" in out
    assert run(capsys, "notices", "cancel", notice_id, "--by", "suzuki")[0] == 1
    _, out, _ = run(capsys, "audit", "export")
    lines = [line for line in out.splitlines() if notice_id in line]
    assert [line.split(",")[3:5] for line in lines] == [
        ["tanaka", "notice.drafted"],
        ["sato", "notice.approved"],
        ["suzuki", "notice.cancelled"],
    ]
    assert run(capsys, "audit", "verify")[0] == 0


def test_list_newest_first(city: Path, capsys) -> None:
    ids = []
    for name, text in (("a.yaml", REGULAR), ("b.yaml", CONTRACT_FILE)):
        ids.append(
            run(capsys, "notices", "create", str(write(city, name, text)), "--by", "tanaka")[
                1
            ].strip()
        )
    _, out, _ = run(capsys, "notices", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ids[::-1]  # newest first
    assert all(r["state"] == "draft" and r["created_by"] == "tanaka" for r in rows)
    _, out, _ = run(capsys, "notices", "list")
    assert all(i in out for i in ids)


def test_list_is_every_notice_however_many_pages(
    city: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`list` reads a page at a time (500): with pages of 2, five notices are all listed,
    newest first, each once."""
    from bot.notices import cli as notices_cli

    monkeypatch.setattr(notices_cli, "LIST_PAGE", 2)
    ids = [
        run(capsys, "notices", "create", str(write(city, f"{n}.yaml", REGULAR)), "--by", "tanaka")[
            1
        ].strip()
        for n in range(5)
    ]
    _, out, _ = run(capsys, "notices", "list", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ids[::-1]


def test_a_bad_file_names_each_line_and_reason(city: Path, capsys) -> None:
    bad = REGULAR.replace("【さくら市】12月", "12月").replace(
        "https://www.city.sakura.example.jp/gomi/", "https://bit.ly/gomi"
    )
    bad += "ask:\n  question: よろしいですか\n  choices: [はい]\nextra: 1\n"
    path = write(city, "bad.yaml", bad)
    code, out, err = run(capsys, "notices", "create", str(path), "--by", "tanaka")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{path}:10: notice: unknown key `extra` (allowed: title, category, topic, audience, text, rich, ask, send_at, expires_at)"
    ]
    path = write(city, "bad.yaml", bad.replace("extra: 1\n", ""))
    code, _, err = run(capsys, "notices", "create", str(path), "--by", "tanaka")
    assert code == 2
    assert err.splitlines() == [
        f"{path}:5: text: 本文は【さくら市】で始めてください",
        f"{path}:5: text: 短縮URL（bit.ly）は使えません。市のドメイン（city.sakura.example.jp、www.city.sakura.example.jp）のURLをそのまま書いてください",
        f"{path}:9: ask.choices: 選択肢は2〜9個にしてください",
    ]


def test_a_list_with_a_bad_line_is_refused_without_echoing_it(city: Path, capsys) -> None:
    write(
        city,
        "list.csv",
        "電話番号\n090-1234-5678\n+819012345679\n０８０ー１１１１ー２２２２\n0120-000-000\n",
    )
    path = write(
        city,
        "l.yaml",
        REGULAR.replace("topic: gomi\n", "topic: gomi\naudience:\n  list: list.csv\n"),
    )
    code, _, err = run(capsys, "notices", "create", str(path), "--by", "tanaka")
    assert code == 2
    assert err.startswith(f"{city / 'list.csv'}:5: not a phone number")
    assert "0120" not in err
    write(
        city,
        "list.csv",
        "電話番号\n090-1234-5678\n+819012345679\n０８０ー１１１１ー２２２２\n090-1234-5678\n",
    )
    code, out, err = run(capsys, "notices", "create", str(path), "--by", "tanaka")
    assert code == 0, err
    if (city / "bot.db").exists():  # SQLite: no number in the file, in any form
        db = (city / "bot.db").read_bytes()
        assert b"12345678" not in db and b"1234-5678" not in db
    _, out2, _ = run(capsys, "notices", "status", out.strip(), "--json")
    assert json.loads(out2)["recipients"] == 3


def test_unknown_staff_and_missing_files_are_bad_input(city: Path, capsys) -> None:
    path = write(city, "r.yaml", REGULAR)
    code, _, err = run(capsys, "notices", "create", str(path), "--by", "nobody")
    assert code == 2 and "nobody" in err
    code, _, err = run(capsys, "notices", "create", str(city / "missing.yaml"), "--by", "tanaka")
    assert code == 2 and "missing.yaml:1:" in err
    code, _, err = run(capsys, "notices", "status", "NXXXXXXX")
    assert code == 2 and "NXXXXXXX" in err
    with pytest.raises(SystemExit) as exited:
        main(["notices", "bogus"])
    assert exited.value.code == 2
