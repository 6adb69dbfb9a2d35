"""`bot flows check` / `bot flows graph`: bad usage is exit 2 with one line; every check
error, YAML syntax included, is one `file:line: message` line with exit 1."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.engine import FlowsInvalid
from bot.engine.errors import NotAFlowsFolder
from tests.engine.city import check_flows, load_flowset

BASE = Path(__file__).parent / "flows"
CITY = Path(__file__).resolve().parents[2] / "flows"
ONE_LINE = re.compile(r"^[^\n:]+:\d+: [^\n]+$")


def run(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(BASE, target)
    return target


def test_graph_without_a_flows_folder_is_bad_usage(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "flows", "graph", "demo")
    assert code == 2
    assert out == []
    assert len(err) == 1 and err[0].startswith("bot: no flows folder at ./flows (run from")
    assert "_global.yaml" not in err[0]


def test_check_of_a_file_that_is_not_in_a_flows_folder_is_bad_usage(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    (tmp_path / "README.md").write_text("# hi\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "flows", "check", "README.md")
    assert code == 2
    assert err == [
        "bot: ./README.md is a file, not a flows folder "
        "(give the folder that holds _global.yaml, e.g. `bot flows check flows`)"
    ]


def test_check_of_a_folder_without_flows_is_bad_usage(tmp_path: Path, capsys) -> None:
    (tmp_path / "docs").mkdir()
    code, _, err = run(capsys, "flows", "check", str(tmp_path / "docs"))
    assert code == 2 and len(err) == 1 and "is not a flows folder (no _global.yaml" in err[0]


def test_check_of_a_file_or_subfolder_checks_its_flows_folder(tmp_path: Path, capsys) -> None:
    # The city's own folder: the command knows the city's actions (not the test flows').
    flows = tmp_path / "flows"
    shutil.copytree(CITY, flows)
    for path in (flows / "bulky_waste.yaml", flows / "data", flows / "data" / "bulky_rules.yaml"):
        code, out, _ = run(capsys, "flows", "check", str(path))
        assert (code, out) == (0, ["flows OK"]), path
    (flows / "data" / "bulky_rules.yaml").write_text("capacity: {a: 1\n", encoding="utf-8")
    code, out, _ = run(capsys, "flows", "check", str(flows / "data" / "bulky_rules.yaml"))
    assert code == 1 and out[0].startswith(f"{flows}/data/bulky_rules.yaml:")


def test_yaml_syntax_errors_are_one_line_each(flows: Path, capsys) -> None:
    # a data file read by a flow (`data: fees.yaml`), and a flow file
    (flows / "data" / "bulky_rules.yaml").write_text("fees:\n  a: 1\n b: 2\n", encoding="utf-8")
    text = (flows / "other.yaml").read_text(encoding="utf-8")
    (flows / "other.yaml").write_text(text + "\n  bad: [unclosed\n", encoding="utf-8")
    code, out, err = run(capsys, "flows", "check", str(flows))
    assert code == 1
    assert out and all(ONE_LINE.match(line) for line in out), out
    assert any(line.startswith(f"{flows}/data/bulky_rules.yaml:3: YAML syntax") for line in out), (
        out
    )
    assert any(line.startswith(f"{flows}/other.yaml:") for line in out), out
    assert err == [f"{len(out)} error(s)"]


def test_graph_of_invalid_flows_says_so_in_one_line(flows: Path, capsys) -> None:
    edit = (
        (flows / "demo.yaml").read_text(encoding="utf-8").replace("goto: ask_district", "goto: x")
    )
    (flows / "demo.yaml").write_text(edit, encoding="utf-8")
    code, out, err = run(capsys, "flows", "graph", "demo", "--flows", str(flows))
    assert code == 2 and out == []
    assert len(err) == 1 and "demo.yaml:" in err[0] and "bot flows check" in err[0]


def test_library_calls_raise_not_a_flows_folder(tmp_path: Path) -> None:
    with pytest.raises(NotAFlowsFolder):
        check_flows(tmp_path / "nowhere")
    with pytest.raises(NotAFlowsFolder):
        load_flowset(tmp_path)
    with pytest.raises(FlowsInvalid) as info:  # flow files but no _global.yaml: a check error
        (tmp_path / "a.yaml").write_text("id: a\n", encoding="utf-8")
        load_flowset(tmp_path)
    assert "missing _global.yaml" in str(info.value) and "\n" not in str(info.value)
