"""Transition coverage of the conversation tests (for `bot replay --coverage`)."""

from __future__ import annotations

from bot.engine.model import FlowSet

THRESHOLD = 0.9


def coverage_report(
    flowset: FlowSet, fired: set[tuple[str, str]]
) -> tuple[str, dict[str, tuple[int, int, list[str]]]]:
    """Text for people, and per flow (hit, total, untested transition ids)."""
    per_flow: dict[str, tuple[int, int, list[str]]] = {}
    lines = []
    for fid in sorted(flowset.flows):
        ids = flowset.transition_ids(fid)
        untested = [t for t in ids if (fid, t) not in fired]
        hit, total = len(ids) - len(untested), len(ids)
        per_flow[fid] = (hit, total, untested)
        pct = 100.0 if total == 0 else 100.0 * hit / total
        mark = "" if total == 0 or hit / total >= THRESHOLD else "  (below 90%)"
        lines.append(f"{fid}: {hit}/{total} transitions ({pct:.0f}%){mark}")
        lines.extend(f"    untested: {t}" for t in untested)
    return "\n".join(lines) + "\n", per_flow


def below_threshold(per_flow: dict[str, tuple[int, int, list[str]]]) -> list[str]:
    return [f for f, (hit, total, _) in per_flow.items() if total and hit / total < THRESHOLD]
