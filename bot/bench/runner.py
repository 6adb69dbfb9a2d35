"""`bot bench`: the real server under load, against a bare aiohttp ceiling, with 1k and 1M
residents already stored. Prints a Markdown table; writes the full results as JSON."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.bench.backends import markdown_backends, run_backends
from bot.bench.procs import (
    SECRET,
    LoadGenerator,
    Server,
    free_port,
    machine,
    server_cmd,
    server_env,
)
from bot.bench.report import markdown, targets
from bot.bench.seed import seed_database
from bot.cityfolder import CityFolder


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bot bench",
        description="Measure the server end to end: signed Twilio webhooks and simulator "
        "messages in, replies at a fake Twilio API out.",
    )
    p.add_argument("--messages", type=int, help="messages in each measured closed-loop run")
    p.add_argument(
        "--residents", help="comma-separated resident counts to seed (default 1000,1000000)"
    )
    p.add_argument("--concurrency", type=int, help="residents texting at once (closed loop)")
    p.add_argument("--rate", type=float, default=1000.0, help="offered rate for the open-loop run")
    p.add_argument("--rate-seconds", type=float, help="length of the open-loop run")
    p.add_argument(
        "--soak",
        type=int,
        help="messages the first server has handled before its "
        "peak RSS is read (default 100000; 0 skips the soak)",
    )
    p.add_argument(
        "--sim-share",
        type=float,
        default=0.2,
        help="share of residents who text through the simulator",
    )
    p.add_argument("--quick", action="store_true", help="small and fast (under a minute)")
    p.add_argument(
        "--budget",
        type=float,
        help="seconds the whole run may take; the soak "
        "stops early to keep within it (default 165, quick 55; 0: no limit)",
    )
    p.add_argument(
        "--closed-seconds",
        type=float,
        help="time limit of each measured closed-loop run (default 15, quick 5)",
    )
    p.add_argument(
        "--db",
        help="a PostgreSQL server (postgresql://role@host/db, a role that may create "
        "databases): compare SQLite, PostgreSQL and PostgreSQL with --workers processes",
    )
    p.add_argument("--workers", type=int, default=2, help="processes for the last run (--db)")
    p.add_argument(
        "--flows",
        metavar="DIR",
        help="the city's flows folder the server runs (default: $BOT_FLOWS, else ./flows; "
        "the bench's texts are written for the sample city)",
    )
    p.add_argument("--out", type=Path, default=Path("bench-results/latest.json"))
    p.add_argument("--keep", action="store_true", help="keep the databases and logs")
    p.add_argument(
        "--server-prefix",
        default="",
        help="wrap the server command, e.g. 'py-spy record -o prof.svg --'",
    )
    args = p.parse_args(argv)
    args.city = CityFolder.locate(args.flows).require()
    quick = args.quick
    args.messages = args.messages or (1500 if quick else 20000)
    args.residents = [
        int(x)
        for x in (args.residents or ("1000,20000" if quick else "1000,1000000")).split(",")
        if x
    ]
    args.concurrency = args.concurrency or 64
    args.rate_seconds = args.rate_seconds or (2.0 if quick else 4.0)
    args.soak = args.soak if args.soak is not None else (0 if quick else 100_000)
    args.bare_messages = 3000 if quick else 20000
    args.warmup = 300 if quick else 1000
    args.budget = args.budget if args.budget is not None else (55.0 if quick else 165.0)
    args.closed_seconds = args.closed_seconds or (5.0 if quick else 15.0)
    return args


def per_message(before: dict[str, float], after: dict[str, float], messages: int) -> dict:
    """Each thread's CPU per message (ms): which stage uses the core."""
    return {
        name: round(1000 * (seconds - before.get(name, 0.0)) / max(messages, 1), 4)
        for name, seconds in sorted(after.items())
        if seconds - before.get(name, 0.0) > 0
    }


def run_bare(args: argparse.Namespace, gen: LoadGenerator, work: Path) -> dict[str, Any]:
    port = free_port()
    cmd = [sys.executable, "-m", "bot.bench.bare", "--port", str(port)]
    server = Server(cmd, dict(os.environ), port, work / "bare.log")
    cold = server.start()
    try:
        target = {
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "token": "unused",
        }
        gen.command(cmd="run", mode="ack", messages=500, concurrency=args.concurrency, **target)
        cpu0 = server.cpu()
        result = gen.command(
            cmd="run",
            mode="ack",
            messages=args.bare_messages,
            concurrency=args.concurrency,
            **target,
        )
        result["server_cpu_s"] = round(server.cpu() - cpu0, 3)
        result["cold_start_s"] = round(cold, 3)
        result.update(server.memory())
    finally:
        server.stop()
    return result


def scenario_estimate(args: argparse.Namespace, residents: int) -> float:
    """Seconds a scenario without soak is expected to take (its database is already seeded)."""
    drain = min(30.0, args.rate * args.rate_seconds / 250.0)  # the overload run's backlog
    return 12 + args.closed_seconds + args.rate_seconds * 2 + drain


def run_scenario(
    args: argparse.Namespace,
    gen: LoadGenerator,
    work: Path,
    residents: int,
    soak: int,
    soak_until: float | None = None,
    seeded: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"residents": residents}
    db = work / f"bot-{residents}.db"
    out["seed"] = (seeded or {}).get(residents) or seed_database(db, residents, SECRET.encode())
    port = free_port()
    hello = gen.hello
    server = Server(
        server_cmd(port, args.server_prefix),
        server_env(db, port, hello["twilio_port"], hello, args.city),
        port,
        work / f"server-{residents}.log",
    )
    out["cold_start_s"] = round(server.start(), 3)
    target = {
        "host": "127.0.0.1",
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "token": hello["auth_token"],
        "seeded": residents,
        "mode": "e2e",
        "sim_share": args.sim_share,
        "reply_timeout": 20.0,
    }
    sent = 0
    try:
        warm = gen.command(
            cmd="run", messages=args.warmup, seconds=5, concurrency=args.concurrency, **target
        )
        gen.command(cmd="drain", timeout=20)
        sent += warm["messages"]
        cpu0, threads0, t0 = server.cpu(), server.thread_cpu(), time.monotonic()
        run = gen.command(
            cmd="run",
            messages=args.messages,
            seconds=args.closed_seconds,
            concurrency=args.concurrency,
            **target,
        )
        run["server_cpu_s"] = round(server.cpu() - cpu0, 3)
        run["server_cpu_share"] = round(run["server_cpu_s"] / (time.monotonic() - t0), 3)
        run["cpu_ms_per_message"] = round(1000 * run["server_cpu_s"] / max(run["completed"], 1), 4)
        run["thread_cpu_ms_per_message"] = per_message(
            threads0, server.thread_cpu(), run["completed"]
        )
        sent += run["messages"]
        out["closed"] = run
        out["drain_after_closed"] = gen.command(cmd="drain", timeout=20)
        # Latency when not saturated: open loop at half the throughput just measured.
        half = max(10.0, round(0.5 * (run.get("rate_sustained") or 0.0)))
        out["open_half"] = gen.command(cmd="open", rate=half, seconds=args.rate_seconds, **target)
        sent += out["open_half"]["messages"]
        gen.command(cmd="drain", timeout=20)
        openloop = gen.command(cmd="open", rate=args.rate, seconds=args.rate_seconds, **target)
        sent += openloop["messages"]
        out["open"] = openloop
        out["drain_after_open"] = gen.command(cmd="drain", timeout=30)
        left = (soak_until - time.monotonic()) if soak_until is not None else None
        if soak > sent and (left is None or left > 3):
            t0 = time.monotonic()
            out["soak"] = gen.command(
                cmd="run",
                messages=soak - sent,
                seconds=left or 0,
                concurrency=args.concurrency,
                **target,
            )
            out["soak"]["seconds"] = round(time.monotonic() - t0, 1)
            gen.command(cmd="drain", timeout=20)
            sent += out["soak"]["messages"]
        out["messages_handled"] = sent
        out["memory"] = server.memory()
    finally:
        out["exit_code"] = server.stop()
        out["log"] = server.log_problems()
    out["db_mb_after"] = round(db.stat().st_size / 1e6, 1)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "options": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "city"
        },
        "city": {"flows": str(args.city.flows), "dictionaries": str(args.city.dictionaries)},
    }
    work = Path(tempfile.mkdtemp(prefix="bot-bench-"))
    gen = LoadGenerator(work / "loadgen.log")
    try:
        # Every database is seeded first: seeding time (which varies most on a shared machine)
        # is then known before the soak's share of the time budget is worked out.
        seeded = {
            r: seed_database(work / f"bot-{r}.db", r, SECRET.encode())
            for r in dict.fromkeys(args.residents)
        }
        results["bare"] = run_bare(args, gen, work)
        results["scenarios"] = []
        for index, residents in enumerate(args.residents):
            soak = args.soak if index == 0 else 0
            soak_until = None
            if args.budget:
                later = sum(scenario_estimate(args, r) for r in args.residents[index + 1 :])
                soak_until = started + args.budget - later - args.rate_seconds * 2
            results["scenarios"].append(
                run_scenario(args, gen, work, residents, soak, soak_until, seeded)
            )
    finally:
        gen.close()
        if args.keep:
            results["work_dir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = targets(results)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.db:
        results = run_backends(args)
        table = markdown_backends(results)
    else:
        results = run(args)
        table = markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(table)
    print(f"\nfull results: {args.out}")
    return 0
