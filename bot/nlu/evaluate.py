"""`python -m bot.nlu.evaluate [FILE ...]`: per-field accuracy of the NLU on field sets
(without FILE: tests/nlu/eval_set.yaml and the holdouts). Every set of the city at once,
FAQ, ごみ and mid-flow conversations included: `python -m bot.evaluation`.

A field set holds `now` and `cases`; each case has `text` and optionally `context`,
`intent`, `dates`, `items` ({name: quantity}), `yes_no`, `numbers`, `district`. A field
left out is expected to be empty/null.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.clock import parse_instant
from bot.nlu import Nlu, load_nlu

FIELDS = ("intent", "dates", "items", "yes_no", "numbers", "district")
DEFAULT_FILE = Path("tests/nlu/eval_set.yaml")


@dataclass
class Report:
    total: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    failures: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    def accuracy(self, name: str) -> float:
        return self.correct[name] / self.total if self.total else 0.0


def _expected(case: dict[str, Any]) -> dict[str, Any]:
    dates = [
        day if isinstance(day, date) else date.fromisoformat(str(day))
        for day in case.get("dates") or []
    ]
    return {
        "intent": case.get("intent"),
        "dates": dates,
        "items": {str(name): int(qty) for name, qty in (case.get("items") or {}).items()},
        "yes_no": case.get("yes_no"),
        "numbers": [int(n) for n in case.get("numbers") or []],
        "district": None if case.get("district") is None else str(case["district"]),
    }


def evaluate(path: Path, nlu: Nlu) -> Report:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    now = parse_instant(str(data["now"]))
    report = Report()
    for case in data["cases"]:
        text = str(case["text"])
        got = nlu.understand(text, now, case.get("context"))
        actual = {
            "intent": got.intent,
            "dates": list(got.dates),
            "items": {item.name: item.quantity for item in got.items},
            "yes_no": got.yes_no,
            "numbers": list(got.numbers),
            "district": got.district,
        }
        report.total += 1
        for name, expected in _expected(case).items():
            if actual[name] == expected:
                report.correct[name] += 1
            else:
                report.failures.append((text, name, expected, actual[name]))
    return report


FIELD_SETS = ("tests/nlu/eval_set.yaml", "tests/nlu/holdout.yaml", "tests/nlu/holdout2.yaml")
TARGET = 0.95


def field_report(path: Path, nlu: Nlu, quiet: bool) -> bool:
    report = evaluate(path, nlu)
    if not quiet:
        for text, name, expected, actual in report.failures:
            print(f"FAIL {name}: {text!r}: expected {expected!r}, got {actual!r}")
    print(f"{path}: {report.total} texts")
    for name in FIELDS:
        print(f"{name:<9} {report.accuracy(name):7.1%}  ({report.correct[name]}/{report.total})")
    return min(report.accuracy(name) for name in FIELDS) >= TARGET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.evaluate")
    parser.add_argument("files", nargs="*", type=Path, help="field sets (default: the three)")
    parser.add_argument("--flows", default="flows")
    parser.add_argument("--quiet", action="store_true", help="do not list the misses")
    args = parser.parse_args(argv)
    nlu = load_nlu(args.flows)
    ok = True
    for path in list(args.files) or [p for p in map(Path, FIELD_SETS) if p.exists()]:
        if not path.exists():
            print(f"python -m bot.nlu.evaluate: no such set: {path}", file=sys.stderr)
            return 2
        ok &= field_report(path, nlu, args.quiet)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
