"""The bench's verdicts against issue 7's targets, and the Markdown table."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "e2e_rate": 3000.0,  # msg/s end to end
    "bare_ratio": 0.20,  # of the bare aiohttp ceiling
    "e2e_p99_ms": 50.0,
    "ack_p99_at_rate_ms": 10.0,  # at 1,000 msg/s offered
    "rss_mb": 300.0,  # peak, after 100,000 messages
    "rss_after": 100_000,
    "cost_ratio": 1.2,  # per-message cost, most residents / fewest
    "cold_start_s": 3.0,
}


def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        if data is None:
            return None
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 3)


def _met(value: float | None, limit: float, higher_is_better: bool = False) -> bool | None:
    if value is None:
        return None
    return value >= limit if higher_is_better else value <= limit


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers and whether each target is met (None: not measured)."""
    scenarios = results.get("scenarios") or []
    first = scenarios[0] if scenarios else {}
    last = scenarios[-1] if scenarios else {}
    e2e_rate = _get(first, "closed", "rate_sustained")
    bare_rate = _get(results, "bare", "rate_sustained")
    ratio = _ratio(e2e_rate, bare_rate)
    p99 = _get(first, "closed", "e2e", "p99_ms")
    ack_rate_p99 = _get(first, "open", "ack", "p99_ms")
    rss = _get(first, "memory", "peak_rss_mb")
    handled = _get(first, "messages_handled") or 0
    cost_first = _get(first, "closed", "cpu_ms_per_message")
    cost_last = _get(last, "closed", "cpu_ms_per_message")
    cost_ratio = _ratio(cost_last, cost_first) if len(scenarios) > 1 else None
    wall_ratio = (
        _ratio(_get(first, "closed", "rate_sustained"), _get(last, "closed", "rate_sustained"))
        if len(scenarios) > 1
        else None
    )
    cold = max((s.get("cold_start_s") or 0.0 for s in scenarios), default=None)
    saturated = [name for name, phase in _phases(results) if _get(phase, "loadgen", "saturated")]
    lagging = [name for name, phase in _phases(results) if _get(phase, "loadgen", "lagging")]
    t = TARGETS
    e2e_ok = None
    if e2e_rate is not None:
        e2e_ok = bool(
            _met(e2e_rate, t["e2e_rate"], True)
            and _met(ratio, t["bare_ratio"], True)
            and _met(p99, t["e2e_p99_ms"])
        )
    return {
        "e2e_msgs_per_s": e2e_rate,
        "bare_msgs_per_s": bare_rate,
        "ratio_to_bare": ratio,
        "e2e_p99_ms": p99,
        "ack_p99_ms_at_rate": ack_rate_p99,
        "peak_rss_mb": rss,
        "rss_after_messages": handled,
        "cost_ratio": cost_ratio,
        "wall_ratio": wall_ratio,
        "cold_start_s": cold,
        "loadgen_saturated_in": saturated,
        "loadgen_lagging_in": lagging,
        "ack_p99_ms_half_capacity": _get(first, "open_half", "ack", "p99_ms"),
        "e2e_p99_ms_half_capacity": _get(first, "open_half", "e2e", "p99_ms"),
        "met": {
            "e2e": e2e_ok,
            "ack_p99_at_rate": _met(ack_rate_p99, t["ack_p99_at_rate_ms"]),
            "rss": _met(rss, t["rss_mb"]) if handled >= t["rss_after"] else None,
            "cost_ratio": _met(cost_ratio, t["cost_ratio"]),
            "cold_start": _met(cold, t["cold_start_s"]),
        },
    }


def _phases(results: dict[str, Any]):
    if results.get("bare"):
        yield "bare", results["bare"]
    for s in results.get("scenarios") or []:
        for key in ("closed", "open_half", "open", "soak"):
            if s.get(key):
                yield f"{s['residents']}:{key}", s[key]


def _n(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _lat(summary: dict[str, Any] | None) -> str:
    if not summary or not summary.get("n"):
        return "—"
    return " / ".join(_n(summary.get(k), 1) for k in ("p50_ms", "p95_ms", "p99_ms"))


def _verdict(value: bool | None) -> str:
    return {True: "✅ met", False: "❌ not met", None: "not measured"}[value]


THREADS = ("main", "bot-intake", "bot-process", "bot-delivery")


def _threads(per_thread: dict[str, float] | None) -> str:
    if not per_thread:
        return "—"
    return " / ".join(_n(per_thread.get(name), 3) for name in THREADS)


def markdown(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    s = results.get("summary") or targets(results)
    scenarios = results.get("scenarios") or []
    bare = results.get("bare") or {}
    head = ["measure"] + [f"{sc['residents']:,} residents" for sc in scenarios]
    rows: list[list[str]] = []

    def row(name: str, fn) -> None:
        rows.append([name] + [fn(sc) for sc in scenarios])

    row(
        "seeded (rows per table / seconds)",
        lambda sc: f"{_n(sc['seed']['residents'])} / {_n(sc['seed']['seconds'], 1)} s",
    )
    row("cold start → /healthz 200 (s)", lambda sc: _n(sc.get("cold_start_s"), 2))
    row("end to end, sustained (msg/s)", lambda sc: _n(_get(sc, "closed", "rate_sustained"), 0))
    row(
        "  ratio to bare aiohttp",
        lambda sc: _n(_ratio(_get(sc, "closed", "rate_sustained"), bare.get("rate_sustained")), 3),
    )
    row("webhook ack p50 / p95 / p99 (ms)", lambda sc: _lat(_get(sc, "closed", "ack")))
    row("inbound → provider p50 / p95 / p99 (ms)", lambda sc: _lat(_get(sc, "closed", "e2e")))
    row("simulator request p50 / p95 / p99 (ms)", lambda sc: _lat(_get(sc, "closed", "sim")))
    row(
        f"ack p50 / p95 / p99 at {_n(_get(scenarios, 0, 'open', 'offered_rate'), 0)} msg/s "
        "offered (ms)",
        lambda sc: _lat(_get(sc, "open", "ack")),
    )
    row("  inbound → provider at that rate (ms)", lambda sc: _lat(_get(sc, "open", "e2e")))
    row(
        "ack p50 / p95 / p99 at half capacity (ms)",
        lambda sc: (
            f"{_lat(_get(sc, 'open_half', 'ack'))} at {_n(_get(sc, 'open_half', 'offered_rate'), 0)}/s"
        ),
    )
    row("  inbound → provider at half capacity (ms)", lambda sc: _lat(_get(sc, "open_half", "e2e")))
    row("server CPU per message (ms)", lambda sc: _n(_get(sc, "closed", "cpu_ms_per_message"), 3))
    row(
        "  by thread: event loop / intake / processing / delivery store (ms)",
        lambda sc: _threads(_get(sc, "closed", "thread_cpu_ms_per_message")),
    )
    row(
        "server CPU use during the run (cores)",
        lambda sc: _n(_get(sc, "closed", "server_cpu_share"), 2),
    )
    row(
        "peak RSS (MB) after N messages",
        lambda sc: (
            f"{_n(_get(sc, 'memory', 'peak_rss_mb'), 1)} after {_n(sc.get('messages_handled'))}"
        ),
    )
    row(
        "errors: HTTP non-200 / no reply / log errors",
        lambda sc: (
            f"{_non200(sc)} / {_n((_get(sc, 'closed', 'no_reply') or 0) + (_get(sc, 'open', 'no_reply') or 0))}"
            f" / {_n(_get(sc, 'log', 'error'))}"
        ),
    )
    row(
        "load generator CPU (of one core), saturated? loop lag p99",
        lambda sc: (
            f"{_n(_get(sc, 'closed', 'loadgen', 'cpu_share'), 2)}, "
            f"{_n(bool(_get(sc, 'closed', 'loadgen', 'saturated')))}, "
            f"{_n(_get(sc, 'closed', 'loadgen', 'loop_lag_p99_ms'), 1)} ms"
        ),
    )

    machine_line = (
        f"**Machine:** {m.get('cpu')}, {m.get('cores')} cores, Python {m.get('python')} "
        f"(load average at start {m.get('loadavg_at_start')}); run took {results.get('seconds')} s"
    )
    lines = [machine_line, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    saturated = " (saturated)" if _get(bare, "loadgen", "saturated") else ""
    bare_line = (
        f"**Bare aiohttp ceiling** (same load generator, ack only): "
        f"{_n(bare.get('rate_sustained'), 0)} req/s, ack p50/p95/p99 {_lat(bare.get('ack'))} ms, "
        f"load generator {_n(_get(bare, 'loadgen', 'cpu_share'), 2)} of a core{saturated}."
    )
    met = s["met"]
    verdicts = [
        (
            "end to end ≥ 3,000 msg/s, ≥ 0.20 of bare, p99 ≤ 50 ms",
            (
                f"{_n(s['e2e_msgs_per_s'], 0)} msg/s, {_n(s['ratio_to_bare'], 3)}, "
                f"p99 {_n(s['e2e_p99_ms'], 1)} ms"
            ),
            met["e2e"],
        ),
        (
            "ack p99 ≤ 10 ms at 1,000 msg/s",
            f"{_n(s['ack_p99_ms_at_rate'], 2)} ms",
            met["ack_p99_at_rate"],
        ),
        (
            "peak RSS ≤ 300 MB after 100,000 messages",
            f"{_n(s['peak_rss_mb'], 1)} MB after {_n(s['rss_after_messages'])}",
            met["rss"],
        ),
        (
            "per-message cost, most / fewest residents ≤ 1.2",
            f"CPU {_n(s['cost_ratio'], 3)}, wall {_n(s['wall_ratio'], 3)}",
            met["cost_ratio"],
        ),
        ("cold start ≤ 3 s", f"{_n(s['cold_start_s'], 2)} s", met["cold_start"]),
    ]
    lines += ["", bare_line, "", "| target | value | verdict |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {_verdict(ok)} |" for name, value, ok in verdicts]
    if s.get("loadgen_lagging_in"):
        lines += [
            "",
            "⚠ the machine was oversubscribed (the load generator's 10 ms timer fired "
            "> 20 ms late at p99, though it was not busy) in: "
            + ", ".join(s["loadgen_lagging_in"])
            + " — other processes share the cores.",
        ]
    if s.get("loadgen_saturated_in"):
        lines += [
            "",
            "⚠ the load generator was saturated in: "
            + ", ".join(s["loadgen_saturated_in"])
            + " (those numbers are a floor).",
        ]
    return "\n".join(lines)


def _non200(sc: dict[str, Any]) -> str:
    bad = 0
    for key in ("closed", "open"):
        for status, count in (_get(sc, key, "status") or {}).items():
            if status != "200":
                bad += count
    return _n(bad)
