"""`bot replay` through the real command: exit codes, --json lines, broken files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.foundation.helpers import ROOT


def _bot(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _file(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_broken_file_exits_2_with_file_and_line(tmp_path):
    path = _file(
        tmp_path,
        "broken.yaml",
        """\
        name: broken
        now: "2026-11-24T10:00:00+09:00"
        turns:
          - say: こんにちは
            replies: {contains: [x]}
        """,
    )
    result = _bot("replay", str(path))
    assert result.returncode == 2
    assert f"{path}:5: unknown key 'replies'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = [json.loads(line) for line in _bot("replay", "--json", str(path)).stdout.splitlines()]
    assert (line["name"], line["passed"]) == ("broken", False)  # its name, though broken


def test_a_slot_expected_null_passes_when_never_set_and_fails_when_set(tmp_path):
    def conversation(name, district):
        return _file(
            tmp_path,
            f"{name}.yaml",
            f"""\
            name: {name}
            now: "2026-11-24T10:00:00+09:00"
            turns:
              - say: 粗大ごみを出したい
                expect:
                  flow: bulky_waste
                  slots: {{district: {district}}}
            """,
        )

    unset = conversation("unset", "null")
    assert _bot("replay", str(unset)).returncode == 0
    wrong = conversation("wrong", "桜台")
    result = _bot("replay", str(wrong))
    assert result.returncode == 1 and "expected slot 'district' = '桜台'" in result.stdout


def test_json_output_has_one_object_per_file_and_failures_exit_1(tmp_path):
    _file(
        tmp_path,
        "a_pass.yaml",
        """\
        name: passes
        now: "2026-11-24T10:00:00+09:00"
        turns:
          - say: こんにちは
        """,
    )
    _file(
        tmp_path,
        "b_fail.yaml",
        """\
        name: fails
        now: "2026-11-24T10:00:00+09:00"
        turns:
          - say: こんにちは
            reply: {contains: [この文字列は返信に絶対に含まれない]}
        """,
    )
    result = _bot("replay", "--json", str(tmp_path))
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(line) for line in lines] == [{"file", "name", "passed", "failures"}] * 2
    assert [(line["name"], line["passed"]) for line in lines] == [
        ("passes", True),
        ("fails", False),
    ]
    failure = lines[1]["failures"][0]
    assert failure["turn"] == 1 and "この文字列は返信に絶対に含まれない" in failure["message"]


def test_missing_path_and_bad_usage_exit_2(tmp_path):
    missing = _bot("replay", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr
    usage = _bot("replay", "--bogus")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    bad_now = _bot("nlu", "--now", "yesterday", "こんにちは")
    assert bad_now.returncode == 2 and "ISO 8601" in bad_now.stderr
