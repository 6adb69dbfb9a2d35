"""`python -m bot.nlu.bench`: time `understand(text)` per message against tokenising alone.

A benchmark, not a test: it prints median and p95 microseconds and the machine it ran on.
Two figures for understand(): a text seen for the first time (the whole analysis, FAQ
retrieval included) and a text the NLU has seen today (its remembered result).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime
from importlib import metadata

from bot.clock import TOKYO
from bot.nlu import load_nlu

MESSAGES = [
    "来週の火曜にソファー2つと椅子を3脚出したいです、お願いします",  # ~30 characters each
    "そだいごみでたんすとふとんを捨てたいんですけど、どうすれば",
    "保育園の空きはありますか？1歳の子どもがいますがお願いします",
    "粗大ごみの予約をキャンセルしたいのですがお願いしますすみません",
    "さくら市桜台3丁目5-2に住んでいます、はいお願いします",
    "ｿﾌｧｰ2ｺとﾍﾞｯﾄﾞ1ｺすてたい！12月3日でお願いします",
    "住民票の写しをコンビニで取りたいのですが、いくらかかりますか",  # the city FAQ
    "ペットボトルのキャップは何ごみになりますか、教えてください",  # ごみの分け方
]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _measure(function, rounds: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (this thread) microseconds per call."""
    wall, cpu = [], []
    for _ in range(rounds):
        for text in MESSAGES:
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            function(text)
            cpu.append((time.thread_time_ns() - start_cpu) / 1000)
            wall.append((time.perf_counter_ns() - start) / 1000)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.bench")
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args(argv)
    nlu = load_nlu("flows")
    now = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)
    for text in MESSAGES:  # warm up caches
        nlu.understand(text, now)
    baseline = _measure(nlu.tokenize, args.rounds)
    fresh = _measure(lambda text: nlu._understand(text, now, None), args.rounds)
    full = _measure(lambda text: nlu.understand(text, now), args.rounds)
    length = statistics.mean(len(text) for text in MESSAGES)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"cpus={os.cpu_count()} python={platform.python_version()} "
        f"sudachipy={metadata.version('sudachipy')} "
        f"sudachidict-core={metadata.version('sudachidict-core')}"
    )
    print(f"messages: {len(MESSAGES)} x {args.rounds} rounds, mean {length:.0f} characters")
    print(
        f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other processes inflate wall-clock times; CPU time is this thread's own)"
    )
    rows = (("tokenize only", baseline), ("understand new", fresh), ("understand seen", full))
    for name, (wall, cpu) in rows:
        print(
            f"{name:<15} wall median {statistics.median(wall):7.1f} µs  "
            f"p95 {_percentile(wall, 0.95):7.1f} µs   |  CPU median "
            f"{statistics.median(cpu):7.1f} µs  p95 {_percentile(cpu, 0.95):7.1f} µs"
        )
    overhead = statistics.median(fresh[0]) - statistics.median(baseline[0])
    print(f"NLU overhead over tokenising, new text (wall median): {overhead:.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
