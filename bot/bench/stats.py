"""Small statistics for the bench: percentiles, latency summaries, sustained rates."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks
    (numpy's default). None for no values. `values` need not be sorted."""
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def summarize(values_ns: Iterable[int | float]) -> dict[str, float | int | None]:
    """Latencies given in nanoseconds → count, mean, p50/p95/p99/max in milliseconds."""
    ms = sorted(v / 1e6 for v in values_ns)
    if not ms:
        return {
            "n": 0,
            "mean_ms": None,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
            "max_ms": None,
        }
    return {
        "n": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "p50_ms": round(_sorted_pct(ms, 50), 3),
        "p95_ms": round(_sorted_pct(ms, 95), 3),
        "p99_ms": round(_sorted_pct(ms, 99), 3),
        "max_ms": round(ms[-1], 3),
    }


def _sorted_pct(ordered: Sequence[float], q: float) -> float:
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sustained_rate(done_ns: Iterable[int], trim: float = 0.1) -> float | None:
    """Completions per second over the middle of the run: the first and last `trim` of the
    completions (ramp-up, drain) are left out. None when there are too few to tell."""
    times = sorted(done_ns)
    if len(times) < 20:
        if len(times) >= 2 and times[-1] > times[0]:
            return (len(times) - 1) / ((times[-1] - times[0]) / 1e9)
        return None
    first = int(len(times) * trim)
    last = len(times) - 1 - first
    span = (times[last] - times[first]) / 1e9
    if span <= 0:
        return None
    return (last - first) / span
