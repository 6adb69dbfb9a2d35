"""`bot bench` code paths: statistics, the report, the seeder, and a tiny real run.

Timings never decide anything here: the tiny run only checks that every field is present
and that the messages went through (no 403s, replies arrived)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from bot.bench import main
from bot.bench.loadgen import seeded_number, twilio_signature
from bot.bench.report import markdown, targets
from bot.bench.seed import seed_database
from bot.bench.stats import percentile, summarize, sustained_rate
from bot.bench.texts import all_texts, script
from bot.channels import twilio
from bot.identity import NumberVault
from bot.store import open_store


def test_percentile_interpolates_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 100) == 50
    assert percentile(values, 50) == 35
    assert percentile(values, 40) == pytest.approx(29.0)
    assert percentile(list(reversed(values)), 90) == pytest.approx(46.0)
    assert percentile([], 50) is None
    assert percentile([7], 99) == 7
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summarize_reports_milliseconds():
    out = summarize([1_000_000, 2_000_000, 3_000_000, 4_000_000])
    assert out["n"] == 4
    assert out["p50_ms"] == pytest.approx(2.5)
    assert out["max_ms"] == pytest.approx(4.0)
    assert summarize([])["p99_ms"] is None


def test_sustained_rate_leaves_out_ramp_and_drain():
    steady = [int(i * 1e6) for i in range(1000)]  # one per millisecond → 1000/s
    assert sustained_rate(steady) == pytest.approx(1000, rel=0.01)
    assert sustained_rate([]) is None
    assert sustained_rate([0, int(1e9)]) == pytest.approx(1.0)


def test_bench_signature_agrees_with_the_adapter():
    params = {"From": "+819012345678", "Body": "粗大ごみを出したい", "MessageSid": "SM" + "a" * 32}
    url = "http://127.0.0.1:8080/webhooks/twilio/sms"
    assert twilio_signature(url, params, "tok") == twilio.signature(url, params.items(), "tok")


def test_texts_are_japanese_and_varied():
    import random

    rng = random.Random(3)
    visits = [script(rng) for _ in range(3000)]
    flat = [text for visit in visits for text in visit]
    assert any(len(text) > 2000 for text in flat)  # now and then longer than the cap
    assert any(any(ord(ch) > 0x1F000 for ch in text) for text in flat)  # emoji
    assert "はい" in flat and "いいえ" in flat
    assert all(text.strip() for text in all_texts())


def test_seed_matches_the_vault(tmp_path: Path):
    secret = b"bench-test-secret-0123456789abcdef-xyz"
    info = seed_database(tmp_path / "bot.db", 500, secret)
    assert info["residents"] == info["inbox"] == info["outbox"] == 500
    assert info["conversations"] == 50
    vault = NumberVault(secret)
    conn = sqlite3.connect(tmp_path / "bot.db")
    rid = vault.resident_id(seeded_number(123))
    (enc,) = conn.execute("SELECT phone_enc FROM residents WHERE id = ?", [rid]).fetchone()
    assert vault.decrypt(enc) == seeded_number(123)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[0] == 0
    conn.close()
    assert "さくら市です".encode() not in (tmp_path / "bot.db").read_bytes()  # sealed

    async def read_back() -> tuple:
        store = open_store(tmp_path / "bot.db", vault.texts)
        await store.open()
        try:
            return await store.conversation(rid0), await store.sent_to(rid0)
        finally:
            await store.close()

    rid0 = vault.resident_id(seeded_number(0))
    conversation, sent = asyncio.run(read_back())
    assert conversation is not None and conversation["flow"] == "bulky_waste"
    assert sent[0].text.startswith("さくら市です")


def test_report_handles_missing_numbers():
    results = {"machine": {"cpu": "x", "cores": 2, "python": "3.11"}, "bare": {}, "scenarios": []}
    summary = targets(results)
    assert summary["met"]["e2e"] is None
    assert "measure" in markdown({**results, "summary": summary})


SCENARIO_FIELDS = [
    "residents",
    "seed",
    "cold_start_s",
    "closed",
    "open",
    "open_half",
    "memory",
    "messages_handled",
    "log",
    "exit_code",
]
RUN_FIELDS = [
    "messages",
    "completed",
    "rate_sustained",
    "ack",
    "e2e",
    "sim",
    "status",
    "no_reply",
    "loadgen",
]


@pytest.mark.slow
def test_tiny_run_writes_every_field(tmp_path: Path, capsys):
    out = tmp_path / "bench.json"
    code = main([
        "--quick", "--messages", "200", "--residents", "300,600", "--concurrency", "16",
        "--rate", "100", "--rate-seconds", "1", "--closed-seconds", "20", "--budget", "0",
        "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| measure |" in printed and "end to end" in printed
    data = json.loads(out.read_text())
    for key in ("machine", "options", "bare", "scenarios", "summary", "seconds"):
        assert key in data
    for key in ("cpu", "cores", "python"):
        assert data["machine"][key]
    assert data["bare"]["completed"] > 0
    assert [s["residents"] for s in data["scenarios"]] == [300, 600]
    for scenario in data["scenarios"]:
        for key in SCENARIO_FIELDS:
            assert key in scenario, key
        closed = scenario["closed"]
        for key in RUN_FIELDS:
            assert key in closed, key
        assert closed["messages"] == 200
        assert closed["status"] == {"200": 200}  # signatures accepted, nothing refused
        assert closed["completed"] == 200 and closed["no_reply"] == 0
        assert closed["e2e"]["n"] > 0 and closed["ack"]["p99_ms"] is not None
        assert scenario["open"]["ack"]["n"] == 100
        assert scenario["memory"]["peak_rss_mb"] > 0
        assert scenario["exit_code"] == 0
        assert scenario["log"]["error"] == 0 and scenario["log"]["traceback"] == 0
        # Which stage uses the core: the event loop and the pipeline's named threads.
        per_thread = closed["thread_cpu_ms_per_message"]
        assert {"main", "bot-intake", "bot-process", "bot-delivery"} <= set(per_thread)
        assert all(ms > 0 for ms in per_thread.values())
    summary = data["summary"]
    for key in (
        "e2e_msgs_per_s",
        "bare_msgs_per_s",
        "ratio_to_bare",
        "e2e_p99_ms",
        "ack_p99_ms_at_rate",
        "peak_rss_mb",
        "cost_ratio",
        "cold_start_s",
        "met",
    ):
        assert key in summary, key
    assert summary["cost_ratio"] is not None


@pytest.mark.slow
def test_a_tiny_notice_bench_runs_end_to_end(tmp_path: Path, capsys) -> None:
    """`bot bench --notice N` (small): every resident's row is queued, notices reach the fake
    provider with no number twice, residents texting during the send are all answered."""
    out = tmp_path / "notice.json"
    code = main(
        ["--notice", "400", "--send-rate", "200", "--probe-rate", "5", "--probe-seconds", "1",
         "--rate-window", "1", "--fanout-rate", "1000", "--work", str(tmp_path / "work"),
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    results = json.loads(out.read_text())
    assert results["fanout_s"] is not None and results["fanout_s"] >= 0
    assert results["delivery"]["delivered_so_far"] > 0
    assert results["delivery"]["repeats"] == 0
    assert results["during_send"]["no_reply"] == 0 and results["idle"]["no_reply"] == 0
    assert results["during_send"]["messages"] > 0
    # everyone seeded, and residents who texted the bot for the first time in the idle probe
    assert results["status_before_cancel"]["recipients"] >= 400
    assert results["log"]["traceback"] == 0
    printed = capsys.readouterr().out
    assert "| recipients | 400 |" in printed and "delivery achieved / configured" in printed
    assert results["fanout_rate_limit"] == 1000.0 and "(1,000) |" in printed
