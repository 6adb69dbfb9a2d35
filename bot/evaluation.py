"""`python -m bot.evaluation [SET ...]`: the accuracy of the city's understanding, one line
per set — what a resident is told, not what the NLU computed. Without SET: every set the
repository has (FIELD_SETS, FAQ_SETS, GARBAGE_SETS, CONVERSATIONS); exit 1 when a set is
below the target (95%), 2 on a set that does not exist.

- Field sets (`cases: [{text, intent?, dates?, …}]`): per-field accuracy (bot.nlu.evaluate).

- FAQ questions (`cases: [{text, topic}]`, topic null when the city FAQ has no answer):
  right when the bot answers that topic (intent `faq`, a confident match), or, for null,
  when it answers no topic (close entries offered as choices or an honest miss are fine).
- ごみ questions (`cases: [{text, item, category, district?, category_asked?}]`, category
  a kind of flows/data/garbage.yaml or `calendar` for when things are collected): right
  when the kind the resident is told is that category, or for `calendar` when collection
  days are the answer (a day's, a kind's — `category_asked` — or the whole week's), and
  the district, when given, is the one understood. The item named is a second figure.
- Conversations (tests/nlu/eval/conversations/*.yaml, mid-flow answers): right per
  turn that has checks; whole files are reported too.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.city import build_responder
from bot.clock import TOKYO
from bot.domain import reading
from bot.domain.catalogue import Catalogue
from bot.domain.garbage import GarbageGuide
from bot.nlu import load_nlu
from bot.nlu.engine import Nlu
from bot.nlu.evaluate import FIELD_SETS, TARGET, field_report
from bot.nlu.textkey import fold
from bot.nlu.understanding import Understanding
from bot.replay.runner import collect_files, run_files
from bot.replay.spec import parse_conversation
from bot.yamlsource import load_yaml

CALENDAR = "calendar"


@dataclass
class SetReport:
    name: str
    total: int = 0
    correct: int = 0
    extra: dict[str, tuple[int, int]] = field(default_factory=dict)  # figure -> (ok, of)
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def _read(path: Path) -> dict[str, Any]:
    data = load_yaml(path)
    return data if isinstance(data, dict) else {}


def _cases(path: Path) -> list[dict[str, Any]]:
    return list(_read(path).get("cases") or [])


def _now(path: Path) -> datetime:
    data = _read(path)
    if data.get("now"):
        return datetime.fromisoformat(str(data["now"])).astimezone(TOKYO)
    return datetime(2026, 12, 3, 10, 0, tzinfo=TOKYO)


def _answered_topic(und: Understanding) -> str | None:
    return und.faq[0].topic if und.intent == "faq" and und.faq_confident and und.faq else None


def faq_set(path: Path, nlu: Nlu) -> SetReport:
    report = SetReport(f"FAQ questions ({path})")
    now = _now(path)
    offered = [0, 0]
    for case in _cases(path):
        text, expected = str(case["text"]), case.get("topic")
        und = nlu.understand(text, now)
        got = _answered_topic(und)
        report.total += 1
        if got == expected:
            report.correct += 1
        else:
            close = [hit.topic for hit in und.faq]
            report.misses.append(
                f"{text!r}: expected {expected!r}, answered {got!r} "
                f"(intent {und.intent}, rule {und.rule}, close {close})"
            )
        if expected is not None and got != expected:
            offered[1] += 1
            offered[0] += expected in [hit.topic for hit in und.faq] and und.intent == "faq"
    report.extra["missed topic offered among choices"] = (offered[0], offered[1])
    return report


def _told(und: Understanding) -> tuple[str | None, str | None]:
    """(kind, item) the resident is told: the ごみの分け方 answer, or what the booking flow
    says of a catalogue item (粗大ごみ, refused, or small = 燃やさないごみ)."""
    guide, catalogue = GarbageGuide.load(), Catalogue.load()
    if und.intent == "garbage_sorting":
        names = [*und.garbage, *(item.name for item in und.items)]
        things = [t for t in (guide.thing(n, catalogue) for n in names) if t is not None]
        if things:
            return things[0].kind, things[0].name
        kinds = [k for k in und.garbage_kinds if k in guide.kinds]
        if kinds:  # a kind named alone: the answer is its collection days
            return CALENDAR, kinds[0]
        if und.dates or und.rule == "garbage.collection_day":  # a day, or the whole week
            return CALENDAR, None
        return None, None
    if und.intent == "bulky_waste" and und.items:
        thing = guide.thing(und.items[0].name, catalogue)
        return (thing.kind, thing.name) if thing else (None, None)
    return None, None


def _same_item(expected: Any, got: str | None) -> bool:
    if expected is None:
        return got is None
    if got is None:
        return False
    return fold(str(expected)) == fold(got) or fold(got) in fold(str(expected))


def garbage_set(path: Path, nlu: Nlu) -> SetReport:
    report = SetReport(f"ごみ questions ({path})")
    now = _now(path)
    items = [0, 0]
    for case in _cases(path):
        text = str(case["text"])
        und = nlu.understand(text, now)
        kind, item = _told(und)
        district_ok = case.get("district") is None or und.district == case.get("district")
        # A schedule question may name the kind asked about: the answer must be its days.
        asked = case.get("category_asked")
        kind_ok = kind == case.get("category") and (asked is None or item == asked)
        report.total += 1
        if kind_ok and district_ok:
            report.correct += 1
        else:
            report.misses.append(
                f"{text!r}: expected {case.get('category')!r}"
                f"{' in ' + str(case['district']) if case.get('district') else ''}, "
                f"told {kind!r} (item {item!r}, intent {und.intent}, rule {und.rule}, "
                f"district {und.district})"
            )
        if case.get("category") != CALENDAR:
            items[1] += 1
            items[0] += _same_item(case.get("item"), item)
    report.extra["item named"] = (items[0], items[1])
    return report


def conversation_set(folder: Path, flows: Path) -> SetReport:
    report = SetReport(f"mid-flow answers ({folder})")
    files = collect_files([str(folder)])
    results = run_files(files, lambda clock: build_responder(flows, clock), flows)
    passed = 0
    for path, result in zip(files, results, strict=True):
        passed += result.passed
        try:
            checked = [t.number for t in parse_conversation(path).turns if t.reply or t.expect]
        except Exception:  # a broken file: every turn counts as missed
            checked = []
        failed = {f.turn for f in result.failures}
        report.total += len(checked) or 1
        report.correct += sum(1 for n in checked if n not in failed)
        for failure in result.failures:
            report.misses.append(f"{path.name} turn {failure.turn}: {failure.message}")
    report.extra["conversations passed"] = (passed, len(files))
    return report


FAQ_SETS = ("tests/nlu/eval/faq.yaml", "tests/nlu/eval/faq_holdout.yaml")
GARBAGE_SETS = ("tests/nlu/eval/garbage.yaml", "tests/nlu/eval/garbage_holdout.yaml")
CONVERSATIONS = ("tests/nlu/eval/conversations",)


def _kind(path: Path) -> str:
    if path.is_dir():
        return "conversations"
    cases = _cases(path) or [{}]
    first = cases[0] if isinstance(cases[0], dict) else {}
    if "topic" in first:
        return "faq"
    if "category" in first:
        return "garbage"
    return "fields"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluation")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--flows", default="flows")
    parser.add_argument("--quiet", action="store_true", help="do not list the misses")
    args = parser.parse_args(argv)
    flows = Path(args.flows)
    nlu = load_nlu(flows)
    every = [*FIELD_SETS, *FAQ_SETS, *GARBAGE_SETS, *CONVERSATIONS]
    paths = list(args.files) or [p for p in map(Path, every) if p.exists()]
    ok = True
    for path in paths:
        if not path.exists():
            print(f"python -m bot.evaluation: no such set: {path}", file=sys.stderr)
            return 2
        kind = _kind(path)
        if kind == "fields":
            ok &= field_report(path, nlu, args.quiet)
            continue
        with reading(flows):  # the ごみ answers read this city's data
            if kind == "faq":
                report = faq_set(path, nlu)
            elif kind == "garbage":
                report = garbage_set(path, nlu)
            else:
                report = conversation_set(path, flows)
        if not args.quiet:
            for miss in report.misses:
                print(f"MISS {miss}")
        extra = "".join(f"; {name} {a}/{b}" for name, (a, b) in report.extra.items())
        print(f"{report.name}: {report.accuracy:.1%} ({report.correct}/{report.total}{extra})")
        ok &= report.accuracy >= TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
