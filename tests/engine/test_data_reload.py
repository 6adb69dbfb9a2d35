"""A running server reloads a changed data file only if it passes the check; a bad edit
is logged as file:line and the previous content keeps serving until it is fixed."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from bot.domain import childcare, data
from tests.engine.city import flow_responder
from tests.engine.conftest import FakeNlu

SHIPPED = Path(__file__).parents[2] / "flows"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    st = path.stat()  # a new mtime even within the file system's timestamp resolution
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(SHIPPED, target)
    return target


def test_bad_edit_keeps_the_old_values_and_a_fix_is_served(flows: Path, caplog) -> None:
    folder = flows / "data"
    path = folder / "nurseries.yaml"
    before = childcare.with_room(0, "2027-01", folder)
    assert [n.name for n, _ in before] == ["さくら保育園", "ひまわり保育園"]

    edit(path, "ひまわり保育園: {0: 2,", "ひまわり保育園: {0: two,")
    with caplog.at_level(logging.ERROR, logger="bot.domain.data"):
        assert childcare.with_room(0, "2027-01", folder) == before
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "{0: two" in text)
    assert f"nurseries.yaml:{line}: " in caplog.text
    assert "still serving the previous nurseries.yaml" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bot.domain.data"):
        assert childcare.with_room(0, "2027-01", folder) == before
    assert caplog.text == ""  # the same bad version is not re-checked or re-logged

    edit(path, "ひまわり保育園: {0: two,", "ひまわり保育園: {0: 0,")
    assert [n.name for n, _ in childcare.with_room(0, "2027-01", folder)] == ["さくら保育園"]


def test_syntax_error_keeps_the_old_values(flows: Path, caplog) -> None:
    folder = flows / "data"
    assert data.load("bulky_rules", folder)["per_booking"]["max_items"] == 10
    edit(folder / "bulky_rules.yaml", "per_booking:\n", "per_booking: [\n")
    with caplog.at_level(logging.ERROR, logger="bot.domain.data"):
        assert data.load("bulky_rules", folder)["per_booking"]["max_items"] == 10
    assert "bulky_rules.yaml:" in caplog.text and "YAML syntax" in caplog.text
    edit(folder / "bulky_rules.yaml", "per_booking: [\n", "per_booking:\n")
    edit(folder / "bulky_rules.yaml", "max_items: 10", "max_items: 12")
    assert data.load("bulky_rules", folder)["per_booking"]["max_items"] == 12


def test_a_file_bad_from_the_start_is_refused(flows: Path) -> None:
    folder = flows / "data"
    edit(folder / "office.yaml", 'open: "08:30"', "open: 8:30")
    with pytest.raises(data.DataInvalid, match=r"office.yaml:\d+: staff_hours.open"):
        data.load("office", folder)


def test_flow_responder_refuses_a_bad_data_edit_and_takes_the_fix(flows: Path, clock) -> None:
    folder = flows / "data"
    responder = flow_responder(flows, FakeNlu(), clock)

    def served() -> tuple[int, int]:
        flow_data = responder.flowset.flows["bulky_waste"].data["rules"]
        return (
            flow_data["per_booking"]["max_items"],
            data.load("bulky_rules", folder)["per_booking"]["max_items"],
        )

    assert served() == (10, 10)
    edit(folder / "bulky_rules.yaml", "max_items: 10", "max_items: ten")
    errors = responder.maybe_reload()
    assert errors and any(
        e.file.endswith("bulky_rules.yaml") and "per_booking.max_items" in e.message for e in errors
    )
    assert served() == (10, 10)
    edit(folder / "bulky_rules.yaml", "max_items: ten", "max_items: 8")
    assert responder.maybe_reload() == []
    assert served() == (8, 8)


def test_flow_responder_refuses_a_broken_nlu_file(flows: Path, clock) -> None:
    responder = flow_responder(flows, FakeNlu(), clock)
    edit(flows / "nlu" / "intents.yaml", "rules:\n", "rules: [\n")
    errors = responder.maybe_reload()
    assert errors and errors[0].file.endswith("intents.yaml")
