"""`bot bench --db postgresql://… --workers N`: one run, one machine, one load generator, the
same load on SQLite (one process), PostgreSQL (one process) and PostgreSQL (N processes on
one port); then PostgreSQL with the most residents stored, for the per-message cost of a big
city. CPU per message is split by component: the server's threads by name (all its
processes added up) and the PostgreSQL backends serving the bench's database.

`--db` names a PostgreSQL server and a role that may create databases: each configuration
gets a fresh database (seeded by COPY), dropped afterwards unless --keep."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.bench.procs import (
    SECRET,
    LoadGenerator,
    Server,
    cpu_seconds,
    free_port,
    machine,
    server_cmd,
    server_env,
    thread_cpu_seconds,
)
from bot.bench.report import _get, _lat, _n
from bot.bench.seed import seed_database
from bot.config import is_db_url

COMPONENTS = ("main", "bot-intake", "bot-process", "bot-delivery", "bot-upkeep")
LABELS = {
    "main": "event loop (HTTP, webhooks)",
    "bot-intake": "intake",
    "bot-process": "turns (NLU, flows, store)",
    "bot-delivery": "delivery store",
    "bot-upkeep": "leases",
    "postgres": "PostgreSQL server",
    "other": "other threads",
}


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def family_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name over the process and its children (--workers)."""
    total: dict[str, float] = {}
    for member in [pid, *_children(pid)]:
        try:
            threads = thread_cpu_seconds(member)
        except OSError:
            continue
        for name, seconds in threads.items():
            key = name if name in COMPONENTS else "other"
            total[key] = total.get(key, 0.0) + seconds
    return total


class PgDatabase:
    """A fresh database on the --db server for one configuration."""

    def __init__(self, admin: str) -> None:
        from bot.store.postgres.admin import create_database

        if not is_db_url(admin):
            raise SystemExit("bot bench: --db must be a postgresql:// URL")
        self.admin = admin
        self.name, self.url = create_database(admin, "bot_bench")

    def backend_cpu(self) -> float:
        """CPU seconds of the server processes serving this database (from /proc)."""
        from bot.store.postgres.admin import backend_pids

        total = 0.0
        for pid in backend_pids(self.admin, self.name):
            try:
                total += cpu_seconds(pid)
            except (OSError, IndexError, ValueError):
                continue
        return total

    def drop(self) -> None:
        from bot.store.postgres.admin import drop_database

        if not drop_database(self.admin, self.name):
            print(f"bot bench: database {self.name} could not be dropped; drop it later")


def _cpu(server: Server, pg: PgDatabase | None) -> dict[str, float]:
    cpu = family_cpu(server.pid)
    if pg is not None:
        cpu["postgres"] = pg.backend_cpu()
    return cpu


def measure(
    args: argparse.Namespace,
    gen: LoadGenerator,
    work: Path,
    label: str,
    residents: int,
    workers: int,
    open_loop: bool = True,
) -> dict[str, Any]:
    pg = PgDatabase(args.db) if label.startswith("PostgreSQL") else None
    location: str = pg.url if pg else str(work / f"{label.replace(' ', '-')}-{residents}.db")
    out: dict[str, Any] = {"label": label, "residents": residents, "workers": workers}
    try:
        out["seed"] = seed_database(location, residents, SECRET.encode())
        port = free_port()
        hello = gen.hello
        cmd = server_cmd(port, args.server_prefix)
        if workers > 1:
            cmd += ["--workers", str(workers)]
        env = server_env(location, port, hello["twilio_port"], hello, args.city)
        server = Server(cmd, env, port, work / f"server-{label.replace(' ', '-')}.log")
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
        try:
            gen.command(
                cmd="run", messages=args.warmup, seconds=5, concurrency=args.concurrency, **target
            )
            gen.command(cmd="drain", timeout=20)
            before, t0 = _cpu(server, pg), time.monotonic()
            run = gen.command(
                cmd="run",
                messages=args.messages,
                seconds=args.closed_seconds,
                concurrency=args.concurrency,
                **target,
            )
            after, wall = _cpu(server, pg), time.monotonic() - t0
            done = max(run["completed"], 1)
            parts = {
                name: round(1000 * (after.get(name, 0.0) - before.get(name, 0.0)) / done, 4)
                for name in sorted(set(after) | set(before))
            }
            run["cpu_ms_per_message"] = round(sum(parts.values()), 4)
            run["cpu_ms_by_component"] = parts
            run["cpu_cores"] = round(sum(parts.values()) * done / 1000 / wall, 2)
            out["closed"] = run
            gen.command(cmd="drain", timeout=30)
            if open_loop:
                rate = max(10.0, round(0.8 * (run.get("rate_sustained") or 0.0)))
                out["open80"] = gen.command(
                    cmd="open", rate=rate, seconds=args.rate_seconds, **target
                )
                gen.command(cmd="drain", timeout=30)
        finally:
            out["exit_code"] = server.stop()
            out["log"] = server.log_problems()
    finally:
        if pg is not None and not args.keep:
            pg.drop()
    return out


def run_backends(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "options": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "city"
        },
        "runs": [],
    }
    work = Path(tempfile.mkdtemp(prefix="bot-bench-db-"))
    gen = LoadGenerator(work / "loadgen.log")
    small, big = args.residents[0], args.residents[-1]
    try:
        for label, workers in (
            ("SQLite", 1),
            ("PostgreSQL", 1),
            (f"PostgreSQL ×{args.workers}", args.workers),
        ):
            results["runs"].append(measure(args, gen, work, label, small, workers))
        if big != small:
            results["runs"].append(measure(args, gen, work, "PostgreSQL", big, 1, open_loop=False))
    finally:
        gen.close()
        if args.keep:
            results["work_dir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.monotonic() - started, 1)
    return results


def markdown_backends(results: dict[str, Any]) -> str:
    runs = results["runs"]
    m = results["machine"]
    head = ["measure"] + [f"{r['label']}, {r['residents']:,} residents" for r in runs]
    rows: list[list[str]] = []

    def row(name: str, fn) -> None:
        rows.append([name] + [fn(r) for r in runs])

    row("end to end, sustained (msg/s)", lambda r: _n(_get(r, "closed", "rate_sustained"), 0))
    row("webhook ack p50 / p95 / p99 (ms), closed loop", lambda r: _lat(_get(r, "closed", "ack")))
    row(
        "ack p50 / p95 / p99 at 80% of capacity (ms)",
        lambda r: (
            f"{_lat(_get(r, 'open80', 'ack'))} at {_n(_get(r, 'open80', 'offered_rate'), 0)}/s"
            if r.get("open80")
            else "—"
        ),
    )
    row("inbound → provider p50 / p95 / p99 (ms)", lambda r: _lat(_get(r, "closed", "e2e")))
    row("CPU per message, all (ms)", lambda r: _n(_get(r, "closed", "cpu_ms_per_message"), 3))
    for key, label in LABELS.items():
        row(
            f"  {label} (ms)",
            lambda r, key=key: _n(_get(r, "closed", "cpu_ms_by_component", key), 3),
        )
    row("CPU in use during the run (cores)", lambda r: _n(_get(r, "closed", "cpu_cores"), 2))
    row("seed (s)", lambda r: _n(_get(r, "seed", "seconds"), 1))
    row(
        "errors: no reply / log errors",
        lambda r: f"{_n(_get(r, 'closed', 'no_reply'))} / {_n(_get(r, 'log', 'error'))}",
    )
    lines = [
        f"**Machine:** {m.get('cpu')}, {m.get('cores')} cores, Python {m.get('python')}; "
        f"load average at start {m.get('loadavg_at_start')}, at end {m.get('loadavg_at_end')}; "
        f"run took {results.get('seconds')} s",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    rate = [_get(r, "closed", "rate_sustained") for r in runs]
    cost = [_get(r, "closed", "cpu_ms_per_message") for r in runs]
    if len(runs) >= 3 and rate[1] and rate[2]:
        lines += ["", f"PostgreSQL ×{runs[2]['workers']} / ×1 throughput: {rate[2] / rate[1]:.2f}"]
    if len(runs) >= 4 and cost[1] and cost[3]:
        lines += [
            f"PostgreSQL cost per message, {runs[3]['residents']:,} / {runs[1]['residents']:,} "
            f"residents: {cost[3] / cost[1]:.2f}"
        ]
    return "\n".join(lines)
