"""`bot bench --notice N`: one emergency notice to N residents, measured end to end.

N residents are seeded (numbers hashed and encrypted as the bot does, each subscribed to one
to three topics), the real server starts on that database with a fake Twilio at the send
rate given (500/s), and an approver sends one emergency notice to everyone through the real
CLI (`bot notices create/approve`). Measured in the same run:

- fan-out: approval → every resident's outbox row queued (the server logs it);
- delivery: notices per second arriving at the fake provider, against the configured rate;
- the server's peak RSS;
- residents texting the city during the send: the webhook acknowledgement and the reply's
  latency (webhook → the reply at the provider), against the same load with no notice
  before it (idle), and whether every reply went out although notices were still queued;
- cancel: how long after `bot notices cancel` notices stop arriving.

It does not wait for a million notices at 500/s (33 minutes): it measures the rate over a
window, then cancels the rest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.bench.procs import REPO, LoadGenerator, Server, free_port

SECRET = "bench-secret-key-not-for-production-0123456789abcdef"
NOTICE = """\
title: bench 緊急のお知らせ
category: emergency
topic: bousai
text: |
  【さくら市】大雨警報が発表されました。避難所の情報は https://www.city.sakura.example.jp/bousai/ をご覧ください。
expires_at: "2099-12-31T00:00:00+09:00"
"""


def _cli(env: dict[str, str], *args: str) -> str:
    """The real `bot` command on the bench's database (BOT_DB in `env`)."""
    script = Path(sys.executable).parent / "bot"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    done = subprocess.run(
        [*base, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bot {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _logged_fanout(log: Path, notice_id: str) -> float | None:
    """Seconds the server logged for queueing everyone (bot.notices.dispatch)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        if "notice queued for everyone" in line and notice_id in line:
            try:
                return float(json.loads(line).get("seconds"))
            except (ValueError, TypeError):
                return None
    return None


def _probe(gen: LoadGenerator, target: dict[str, Any], rate: float, seconds: float) -> dict:
    """Residents texting at `rate` for `seconds` (open loop): acks and replies."""
    result = gen.command(cmd="open", rate=rate, seconds=seconds, **target)
    gen.command(cmd="drain", timeout=30)
    return {
        "messages": result["messages"],
        "ack": result["ack"],
        "reply": result["e2e"],
        "no_reply": result["no_reply"],
    }


def run_notice_bench(args: argparse.Namespace) -> dict[str, Any]:
    from bot.bench.runner import machine, server_cmd, server_env
    from bot.bench.seed import seed_database
    from bot.notices.setup import fanout_rate

    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "recipients": args.notice}
    work = Path(args.work or REPO / "var" / "bench-notice")
    work.mkdir(parents=True, exist_ok=True)
    db = work / "notice.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    results["seed"] = seed_database(db, args.notice, SECRET.encode(), subscribed=True)
    gen = LoadGenerator(work / "loadgen.log")
    try:
        port = free_port()
        env = server_env(db, port, gen.hello["twilio_port"], gen.hello)
        env["BOT_SEND_RATE"] = str(args.send_rate)
        if args.fanout_rate is not None:
            env["BOT_NOTICE_FANOUT_RATE"] = str(args.fanout_rate)
        results["fanout_rate_limit"] = fanout_rate(env)
        cli_env = dict(env)
        _cli(cli_env, "staff", "add", "bench-approver", "--role", "approver")
        log = work / "server.log"
        log.unlink(missing_ok=True)
        server = Server(server_cmd(port, ""), env, port, log)
        results["cold_start_s"] = round(server.start(timeout=300), 2)
        target = {
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "token": gen.hello["auth_token"],
            "seeded": args.notice,
            "mode": "e2e",
            "reply_timeout": 30.0,
        }
        try:
            gen.command(cmd="open", rate=args.probe_rate, seconds=2, **target)  # warm up
            gen.command(cmd="drain", timeout=20)
            results["idle"] = _probe(gen, target, args.probe_rate, args.probe_seconds)
            notice_file = work / "notice.yaml"
            notice_file.write_text(NOTICE, encoding="utf-8")
            notice_id = _cli(
                cli_env, "notices", "create", str(notice_file), "--by", "bench-approver"
            ).strip()
            approved = time.monotonic()
            threads0 = server.thread_cpu()
            _cli(cli_env, "notices", "approve", notice_id, "--by", "bench-approver")
            results["during_send"] = _probe(gen, target, args.probe_rate, args.probe_seconds)
            spent = time.monotonic() - approved
            # Which thread used the core during the send (share of one core each).
            results["thread_cpu_share"] = {
                name: round((seconds - threads0.get(name, 0.0)) / spent, 3)
                for name, seconds in sorted(server.thread_cpu().items())
                if seconds - threads0.get(name, 0.0) > 0.01 * spent
            }
            while (fanout := _logged_fanout(log, notice_id)) is None:
                if time.monotonic() - approved > args.timeout:
                    raise RuntimeError("the fan-out did not finish in time")
                time.sleep(0.5)
            results["fanout_s"] = round(fanout, 2)
            results["fanout_rows_per_s"] = round(args.notice / max(fanout, 1e-9))
            # Residents texting again once every row is queued: sending only.
            results["after_fanout"] = _probe(gen, target, args.probe_rate, args.probe_seconds)
            # The delivery rate, over a window once sending is under way.
            gen.command(cmd="arrivals", window=1)
            time.sleep(args.rate_window)
            arrivals = gen.command(cmd="arrivals", window=args.rate_window)
            results["delivery"] = {
                "configured_per_s": args.send_rate,
                "achieved_per_s": arrivals["rate"],
                "ratio": round(arrivals["rate"] / args.send_rate, 3),
                "delivered_so_far": arrivals["count"],
                "repeats": arrivals["repeats"],
            }
            results["memory"] = server.memory()
            status = json.loads(_cli(cli_env, "notices", "status", notice_id, "--json"))
            results["status_before_cancel"] = status
            if status["state"] == "sending":  # the rest is cancelled: how soon sends stop
                try:
                    _cli(cli_env, "notices", "cancel", notice_id, "--by", "bench-approver")
                except RuntimeError:  # it finished meanwhile
                    pass
                else:
                    before = gen.command(cmd="arrivals", window=1)["count"]
                    time.sleep(3)
                    after = gen.command(cmd="arrivals", window=1)
                    results["cancel"] = {
                        "sent_after_cancel_returned": after["count"] - before,
                        "still_arriving_3s_later": after["recent"],
                    }
            results["memory"] = server.memory()
        finally:
            results["exit_code"] = server.stop()
            results["log"] = server.log_problems()
    finally:
        gen.close()
    results["seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = verdicts(results)
    return results


def verdicts(r: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets (None: not measured)."""
    idle = (r.get("idle") or {}).get("ack", {}).get("p99_ms")
    busy = max(
        (r.get(k) or {}).get("ack", {}).get("p99_ms") or 0 for k in ("during_send", "after_fanout")
    )
    ratio = r.get("delivery", {}).get("ratio")
    return {
        "fanout_within_60s_per_million": None
        if "fanout_s" not in r
        else r["fanout_s"] * 1_000_000 / r["recipients"] <= 60,
        "delivery_within_5pct": None if ratio is None else abs(1 - ratio) <= 0.05,
        "rss_within_400mb": r.get("memory", {}).get("peak_rss_mb", 1e9) <= 400,
        "ack_p99_within_2x_idle": None if not idle or not busy else busy <= 2 * idle,
        "replies_all_answered": all(
            (r.get(k) or {}).get("no_reply") == 0 for k in ("during_send", "after_fanout")
        ),
    }


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    idle, busy, after = r.get("idle", {}), r.get("during_send", {}), r.get("after_fanout", {})

    def lat(block: dict, key: str) -> str:
        s = block.get(key) or {}
        return f"{s.get('p50_ms')} / {s.get('p95_ms')} / {s.get('p99_ms')}"

    d = r.get("delivery", {})
    rows = [
        ("recipients", f"{r['recipients']:,}"),
        ("seed (s)", r["seed"]["seconds"]),
        ("fan-out: approval → every row queued (s)", r.get("fanout_s")),
        (
            "fan-out rows per second (limit: BOT_NOTICE_FANOUT_RATE)",
            f"{r.get('fanout_rows_per_s', 0):,} ({r.get('fanout_rate_limit', 0):,.0f})",
        ),
        (
            "delivery achieved / configured (msg/s)",
            f"{d.get('achieved_per_s')} / {d.get('configured_per_s')}",
        ),
        ("the same notice twice to one number", d.get("repeats")),
        ("server peak RSS (MB)", r.get("memory", {}).get("peak_rss_mb")),
        ("webhook ack p50 / p95 / p99 idle (ms)", lat(idle, "ack")),
        ("webhook ack p50 / p95 / p99 during the send (ms)", lat(busy, "ack")),
        ("reply latency p50 / p95 / p99 idle (ms)", lat(idle, "reply")),
        ("reply latency p50 / p95 / p99 during the send (ms)", lat(busy, "reply")),
        ("webhook ack p50 / p95 / p99 sending, after the fan-out (ms)", lat(after, "ack")),
        ("reply latency p50 / p95 / p99 sending, after the fan-out (ms)", lat(after, "reply")),
        ("replies not answered during the send", busy.get("no_reply")),
        (
            "server CPU during the send (share of a core, by thread)",
            ", ".join(f"{k} {v}" for k, v in r.get("thread_cpu_share", {}).items()),
        ),
        ("notices still queued when measured", r.get("status_before_cancel", {}).get("queued")),
        (
            "sends after `bot notices cancel` returned",
            r.get("cancel", {}).get("sent_after_cancel_returned"),
        ),
    ]
    lines = [
        f"`bot bench --notice {r['recipients']}` — {m['cpu']}, {m['cores']} cores, Python "
        f"{m['python']}, load average at start {m['loadavg_at_start']} ({r['seconds']} s)",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "targets: " + ", ".join(f"{k}: {v}" for k, v in r["summary"].items()),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bot bench --notice",
        description="One emergency notice to N seeded residents through a fake provider: "
        "fan-out time, delivery rate, RSS, and residents' acks and replies during the send.",
    )
    p.add_argument("--notice", type=int, required=True, metavar="N", help="residents")
    p.add_argument("--send-rate", type=float, default=500.0, help="BOT_SEND_RATE (500)")
    p.add_argument(
        "--fanout-rate",
        type=float,
        help="BOT_NOTICE_FANOUT_RATE, residents queued per second at most (the server's default)",
    )
    p.add_argument("--probe-rate", type=float, default=20.0, help="residents texting/s (20)")
    p.add_argument("--probe-seconds", type=float, default=10.0, help="each probe's length (10)")
    p.add_argument("--rate-window", type=float, default=20.0, help="delivery measured over (20 s)")
    p.add_argument("--timeout", type=float, default=900.0, help="for the fan-out (900 s)")
    p.add_argument("--work", type=Path, help="its database and logs (var/bench-notice)")
    p.add_argument("--out", type=Path, default=Path("bench-results/notice.json"))
    args = p.parse_args(argv)
    if args.notice < 1:
        p.error("--notice must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    results = run_notice_bench(args)
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(markdown(results))
    print(f"\nfull results: {out}")
    return 0
