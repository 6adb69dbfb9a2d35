"""`python -m bot.bench.process`: the processing stage alone, in this process, no HTTP.

Stores the bench's conversations (bot.bench.texts) as inbound rows for many residents,
then times the store's `process_batch` until nothing is pending — NLU, flows, SQL and
the fsync'd commits, exactly as the server's processing lane runs them. Steadier than the
end-to-end bench for comparing changes to the processing path. Reports; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

from bot.bench import texts
from bot.channels.base import Inbound
from bot.city import build_responder
from bot.clock import FrozenClock, parse_instant
from bot.identity import NumberVault
from bot.pipeline import TurnRunner, prepare_inbound
from bot.store import Store, open_store
from bot.system_texts import SystemTexts

REPO = Path(__file__).resolve().parents[2]


def messages(count: int, residents: int, seed: int = 1) -> list[tuple[str, str]]:
    """(number, text) in arrival order: `residents` texting side by side, each one script
    (one visit) per number, as the load generator does; every seed has numbers of its own."""
    rng = random.Random(seed)
    slots: list[tuple[str, list[str]]] = [("", []) for _ in range(residents)]
    fresh = 0
    out: list[tuple[str, str]] = []
    while len(out) < count:
        for index, (number, queue) in enumerate(slots):
            if not queue:
                fresh += 1
                number, queue = f"+8190{seed % 10}{fresh:07d}", texts.script(rng)
                slots[index] = (number, queue)
            out.append((number, queue.pop(0)))
            if len(out) == count:
                break
    return out


async def _drain(store: Store, runner: TurnRunner) -> int:
    """Batches until nothing is pending, from one long-lived task (as the server's loop)."""
    done = 0
    while batch := (await store.process_batch(runner, 32)).inbox_ids:
        done += len(batch)
    return done


def run(count: int, residents: int, rounds: int, profile: str | None) -> dict[str, float]:
    flows = REPO / "flows"
    clock = FrozenClock(parse_instant("2026-11-24T10:00:00+09:00"))
    vault = NumberVault(b"bench-secret-key-not-for-production-0123456789abcdef")
    responder = build_responder(flows, clock)
    work = Path(tempfile.mkdtemp(prefix="bot-bench-process-"))
    store = open_store(work / "bot.db", vault.texts)
    runner = TurnRunner(responder, clock, SystemTexts.load(flows))
    loop = asyncio.Runner()
    loop.run(store.open(serve=True))
    best = float("inf")
    total_rows = 0
    for round_ in range(rounds):
        rows = [
            prepare_inbound(
                Inbound("twilio", "sms", f"SM{round_:04d}{i:028d}", number, text),
                vault,
                clock.now(),
            )
            for i, (number, text) in enumerate(messages(count, residents, seed=round_ + 1))
        ]
        for start in range(0, len(rows), residents):
            loop.run(store.ingest(rows[start : start + residents], clock.now()))
        profiler = None
        if profile and round_ == rounds - 1:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        started = time.perf_counter()
        done = loop.run(_drain(store, runner))
        elapsed = time.perf_counter() - started
        if profiler is not None and profile:
            profiler.stop()
            Path(profile).write_text(profiler.output_text(unicode=True, show_all=False))
        total_rows = done
        best = min(best, elapsed / max(done, 1))
    loop.run(store.close())
    loop.close()
    return {"messages": total_rows, "ms_per_message": round(best * 1000, 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot.bench.process")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--residents", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--profile", help="write a pyinstrument text profile of the last round here")
    args = p.parse_args(argv)
    result = run(args.messages, args.residents, args.rounds, args.profile)
    print(
        f"processing: {result['ms_per_message']:.3f} ms per message "
        f"(best of {args.rounds} rounds of {result['messages']} messages, "
        f"{args.residents} residents)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
