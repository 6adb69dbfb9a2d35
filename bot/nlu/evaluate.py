"""`python -m bot.nlu.evaluate [FILE ...]`: accuracy of the understanding, per set.

Without FILE: every set the repository has — the field sets (tests/nlu/eval_set.yaml,
holdout*.yaml: per-field accuracy), the FAQ questions (tests/nlu/eval/faq.yaml), the ごみ
questions (tests/nlu/eval/garbage.yaml) and the mid-flow conversations
(tests/conversations/understanding/) — one line per set (bot/nlu/evaluate_sets.py).

A field set holds `now` and `cases`; each case has `text` and optionally `context`,
`intent`, `dates`, `items` ({name: quantity}), `yes_no`, `numbers`, `district`. A field
left out is expected to be empty/null. A FAQ set's cases have `topic`; a ごみ set's have
`category`; a folder is a set of conversation files.
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
FAQ_SET = Path("tests/nlu/eval/faq.yaml")
GARBAGE_SET = Path("tests/nlu/eval/garbage.yaml")
CONVERSATIONS = Path("tests/conversations/understanding")
TARGET = 0.95


def _kind(path: Path) -> str:
    if path.is_dir():
        return "conversations"
    cases = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("cases") or [{}]
    first = cases[0] if isinstance(cases[0], dict) else {}
    if "topic" in first:
        return "faq"
    if "category" in first:
        return "garbage"
    return "fields"


def _field_report(path: Path, nlu: Nlu, quiet: bool) -> bool:
    report = evaluate(path, nlu)
    if not quiet:
        for text, name, expected, actual in report.failures:
            print(f"FAIL {name}: {text!r}: expected {expected!r}, got {actual!r}")
    print(f"{path}: {report.total} texts")
    for name in FIELDS:
        print(f"{name:<9} {report.accuracy(name):7.1%}  ({report.correct[name]}/{report.total})")
    return min(report.accuracy(name) for name in FIELDS) >= TARGET


def main(argv: list[str] | None = None) -> int:
    from bot.nlu import evaluate_sets

    parser = argparse.ArgumentParser(prog="python -m bot.nlu.evaluate")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--flows", default="flows")
    parser.add_argument("--quiet", action="store_true", help="do not list the misses")
    args = parser.parse_args(argv)
    nlu = load_nlu(args.flows)
    paths = list(args.files) or [
        p for p in [*map(Path, FIELD_SETS), FAQ_SET, GARBAGE_SET, CONVERSATIONS] if p.exists()
    ]
    ok = True
    for path in paths:
        if not path.exists():
            print(f"python -m bot.nlu.evaluate: no such set: {path}", file=sys.stderr)
            return 2
        kind = _kind(path)
        if kind == "fields":
            ok &= _field_report(path, nlu, args.quiet)
            continue
        if kind == "faq":
            report = evaluate_sets.faq_set(path, nlu)
        elif kind == "garbage":
            report = evaluate_sets.garbage_set(path, nlu)
        else:
            report = evaluate_sets.conversation_set(path, Path(args.flows))
        if not args.quiet:
            for miss in report.misses:
                print(f"MISS {miss}")
        extra = "".join(f"; {name} {a}/{b}" for name, (a, b) in report.extra.items())
        print(f"{report.name}: {report.accuracy:.1%} ({report.correct}/{report.total}{extra})")
        ok &= report.accuracy >= TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
