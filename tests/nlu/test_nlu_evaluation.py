"""The labelled evaluation sets: at least 300 texts, ≥ 95% per field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.nlu import Nlu
from bot.nlu.evaluate import FIELDS, evaluate, main

HERE = Path(__file__).resolve().parent


def test_eval_set_is_large_enough() -> None:
    data = yaml.safe_load((HERE / "eval_set.yaml").read_text(encoding="utf-8"))
    texts = [case["text"] for case in data["cases"]]
    assert len(texts) >= 300
    assert len(set(texts)) >= len(texts) - 10  # a few reappear under a flow context


@pytest.mark.parametrize("name", ["eval_set.yaml", "holdout.yaml", "holdout2.yaml"])
def test_accuracy_per_field(nlu: Nlu, name: str) -> None:
    report = evaluate(HERE / name, nlu)
    below = {
        field: f"{report.accuracy(field):.1%}" for field in FIELDS if report.accuracy(field) < 0.95
    }
    assert not below, (below, report.failures)


def test_evaluate_command_prints_per_field_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(HERE / "holdout.yaml"), "--quiet"]) == 0
    out = capsys.readouterr().out
    for field in FIELDS:
        assert any(line.startswith(field) and "%" in line for line in out.splitlines())
