"""Commands over the city's folder, which staff use to write and prove it: `bot init`,
`bot flows check|graph`, `bot replay`, `bot nlu`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import FrozenClock
from bot.commands.common import UsageError, city_of

if TYPE_CHECKING:
    from bot.cityfolder import CityFolder


def cmd_init(args: argparse.Namespace) -> int:
    from bot.sample import write_sample_city

    target = Path(args.dir)
    written = write_sample_city(target)
    print(f"wrote the sample city to {target}/: " + ", ".join(f"{p}/" for p in written))
    print(f"  run it:     bot serve --flows {target / 'flows'}   (or: cd {target} && bot serve)")
    print(f"  check it:   bot flows check --flows {target / 'flows'}")
    print(f"  test it:    cd {target} && bot replay")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.city import build_responder
    from bot.replay.runner import collect_files, run_files

    city = city_of(args)
    flows = city.flows
    paths = args.paths or [_default_conversations(city)]
    files = collect_files(paths)
    if not files:
        print("bot: no conversation files found", file=sys.stderr)
        return 2
    holder: dict = {}

    def factory(clock: FrozenClock):
        holder["responder"] = build_responder(flows, clock, dictionaries=city.dictionaries)
        return holder["responder"]

    results = run_files(files, factory, flows)
    for result in results:
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        elif result.passed:
            print(f"PASS {result.file} — {result.name}")
        else:
            label = "INVALID" if result.broken else "FAIL"
            print(f"{label} {result.file}" + ("" if result.broken else f" — {result.name}"))
            for failure in result.failures:
                where = f"turn {failure.turn}: " if failure.turn else ""
                print(f"  {where}{failure.message}")
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    coverage_ok = True
    if args.coverage:
        coverage_ok = _print_coverage(holder.get("responder"), to_stderr=args.json)
    if not args.json:
        print(f"{passed} passed, {failed} failed")
    if any(r.broken for r in results):
        return 2
    return 0 if failed == 0 and coverage_ok else 1


def _default_conversations(city: CityFolder) -> str:
    """tests/conversations here (the contract's default), else the city's own."""
    here = Path("tests/conversations")
    if here.exists():
        return str(here)
    return str(city.root / "tests" / "conversations")


def _print_coverage(responder, to_stderr: bool) -> bool:
    out = sys.stderr if to_stderr else sys.stdout
    if responder is None or not hasattr(responder, "fired"):
        print("coverage: the flow engine is not active", file=out)
        return True
    from bot.engine.coverage import below_threshold, coverage_report

    text, per_flow = coverage_report(responder.flowset, responder.fired)
    print(text, file=out)
    low = below_threshold(per_flow)
    if low:
        # Reported, not failed: a run over a few files naturally covers little.
        # The test suite holds every shipped flow to the 90% bar.
        print(f"below 90%: {', '.join(low)}", file=out)
    return True


def cmd_nlu(args: argparse.Namespace) -> int:
    try:
        from bot.nlu.cli import run_nlu
    except ImportError as exc:
        raise UsageError(f"the NLU is not installed ({exc})") from None
    city = city_of(args)
    return run_nlu(args.texts, args.now, args.json, city.flows, city.dictionaries)


def cmd_flows(args: argparse.Namespace) -> int:
    from bot.city import city_report, load_city_flows
    from bot.engine import mermaid

    # Not checked here: `flows check` reports what is wrong with the folder itself.
    city = city_of(args, require=False)
    if args.flows_command == "check":
        path = Path(args.path) if args.path else city.flows
        if not path.exists() and args.path:
            raise FileNotFoundError(args.path)
        errors, warnings = city_report(path)
        for problem in [*errors, *warnings]:
            print(problem)
        if errors:
            print(f"{len(errors)} error(s)", file=sys.stderr)
            return 1
        print(f"flows OK ({len(warnings)} warning(s))" if warnings else "flows OK")
        return 0
    flowset = load_city_flows(city.flows)
    try:
        print(mermaid(flowset, args.flow_id))
    except KeyError:
        raise UsageError(f"unknown flow {args.flow_id!r}") from None
    return 0
