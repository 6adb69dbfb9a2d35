"""Slow HTTP clients over raw loopback sockets (slowloris), and a probe that measures them.

Used by the edge tests, and run by hand to measure a build:

    python -m tests.support.slowclients            # prints before/after figures

It starts `bot serve` in a subprocess with `ulimit -n 1024` (RLIMIT_NOFILE), holds slow
clients open against it and sends real signed Twilio webhooks at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.fakes import twilio as ftw
from tests.support.server import ROOT, free_port, wait_healthy

PUBLIC = "https://bot.city.example.jp"
SMS = "/webhooks/twilio/sms"


def head(path: str = SMS, content_length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    if content_length is not None:
        lines += [
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {content_length}",
            "X-Twilio-Signature: x",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class SlowClient:
    """One connection that sends `first` at once, then one byte of `trickle` every `every` s."""

    host: str
    port: int
    first: bytes
    trickle: bytes
    every: float
    opened: float = 0.0
    closed: float | None = None  # monotonic time the server closed the connection
    refused: bool = False  # could not connect at all
    answer: bytes = b""  # what the server said before closing (e.g. an HTTP 408)
    _task: asyncio.Task | None = field(default=None, repr=False)

    async def run(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self.refused = True
            self.closed = time.monotonic()
            return
        self.opened = time.monotonic()
        reading = asyncio.create_task(self._read(reader))
        try:
            writer.write(self.first)
            for byte in self.trickle:
                if reading.done():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(reading), self.every)
                if reading.done():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
            await reading
        except OSError:  # the server reset the connection while we wrote
            if self.closed is None:
                self.closed = time.monotonic()
        finally:
            reading.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                self.answer += chunk
        except OSError:
            pass
        self.closed = time.monotonic()

    def start(self) -> SlowClient:
        self._task = asyncio.create_task(self.run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    @property
    def held(self) -> float | None:
        return None if self.closed is None or not self.opened else self.closed - self.opened


def slow_headers(host: str, port: int, every: float) -> SlowClient:
    """Sends the request line, then a header one byte at a time, forever."""
    return SlowClient(
        host, port, f"POST {SMS} HTTP/1.1\r\n".encode(), b"X-a: b\r\n" * 10_000, every
    )


def slow_body(host: str, port: int, every: float, length: int = 10_000) -> SlowClient:
    """Complete headers announcing `length` bytes (by default within every route's cap, so
    the body deadline is what closes it), then the body one byte at a time."""
    return SlowClient(host, port, head(content_length=length), b"a" * length, every)


async def signed_webhook(
    session: aiohttp.ClientSession, base: str, sid: str, sender: str, timeout: float
) -> tuple[int | None, float]:
    """(status or None on timeout/error, seconds) for one real signed Twilio webhook.

    Pass a session whose connector does not keep connections alive: a provider opens a new
    connection, which is what slow clients starve."""
    body, sig = ftw.sign_form(PUBLIC + SMS, ftw.inbound_params(sid, sender, "こんにちは"))
    headers = {"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"}
    started = time.monotonic()
    try:
        async with session.post(
            base + SMS, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            await response.read()
            return response.status, time.monotonic() - started
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None, time.monotonic() - started


def server_env(tmp: Path, api_base: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BOT_DB=str(tmp / "bot.db"),
        BOT_SECRET_KEY="k" * 40,
        BOT_PUBLIC_URL=PUBLIC,
        BOT_TWILIO_ACCOUNT_SID=ftw.ACCOUNT_SID,
        BOT_TWILIO_AUTH_TOKEN=ftw.AUTH_TOKEN,
        BOT_TWILIO_FROM=ftw.FROM,
        BOT_TWILIO_API_BASE=api_base,
        BOT_INBOUND_PER_MINUTE="1000",
        BOT_INBOUND_PER_HOUR="10000",
    )
    env.update(extra)
    return env


def limit_files(limit: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec: `ulimit -n limit`
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    return apply


def start_limited(port: int, env: dict[str, str], nofile: int, log_path: Path) -> subprocess.Popen:
    """`bot serve` with at most `nofile` open files; its stderr (the log) goes to log_path."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=limit_files(nofile),
        )


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def raise_own_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


# --- the probe (run by hand) ---------------------------------------------------------------


async def _held(client: SlowClient, cap: float) -> str:
    client.start()
    deadline = time.monotonic() + cap
    while client.closed is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await client.stop()
    held = client.held
    return f"{held:.1f} s" if held is not None else f"still open after {cap:.0f} s"


async def probe(args: argparse.Namespace) -> None:
    from tests.fakes.twilio import FakeTwilio

    raise_own_limit(args.slow + 200)
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    fake = await FakeTwilio().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "serve.log"
    server = start_limited(port, server_env(tmp, fake.url), args.nofile, log_path)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; server ulimit -n {args.nofile}")  # fmt: skip
    try:
        await wait_healthy(base)
        host = "127.0.0.1"
        print(f"slow headers (1 byte / {args.every:g} s): held", await _held(
            slow_headers(host, port, args.every), args.cap))  # fmt: skip
        for length in (10_000, 100_000):
            client = slow_body(host, port, args.every, length)
            held = await _held(client, args.cap)
            status = client.answer.split(b"\r\n", 1)[0].decode() or "nothing"
            print(f"slow body (Content-Length {length}, 1 byte / {args.every:g} s): held {held}, "
                  f"answered {status}")  # fmt: skip
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)
        ) as session:
            baseline = [
                await signed_webhook(session, base, f"SM{i:032x}", f"+8190{i:08d}", 10)
                for i in range(20)
            ]
            ok = [t for s, t in baseline if s == 200]
            print(f"real webhooks alone: {len(ok)}/20 answered 200, "
                  f"p50 {1000 * statistics.median(ok):.1f} ms")  # fmt: skip
            log_before = log_path.stat().st_size
            slow = [slow_body(host, port, args.every).start() for _ in range(args.slow)]
            await asyncio.sleep(2)
            started = time.monotonic()
            results = []
            for i in range(args.real):
                sid, sender = f"SM{1000 + i:032x}", f"+8180{i:08d}"
                results.append(await signed_webhook(session, base, sid, sender, args.timeout))
                await asyncio.sleep(max(0.0, args.spacing - results[-1][1]))
            elapsed = time.monotonic() - started
            log_bytes = log_path.stat().st_size - log_before
            closed = sum(1 for c in slow if c.closed is not None)
            for client in slow:
                await client.stop()
        ok = [t for s, t in results if s == 200]
        statuses: dict[str, int] = {}
        for status, _ in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        print(f"with {args.slow} slow clients: {len(ok)}/{args.real} real webhooks answered 200 "
              f"({statuses}); latency p50 "
              f"{1000 * statistics.median(ok) if ok else float('nan'):.0f} ms, max "
              f"{1000 * max(ok) if ok else float('nan'):.0f} ms; {closed} slow clients closed "
              f"by the server; log written: {log_bytes / 1e6:.2f} MB in {elapsed:.0f} s")  # fmt: skip
    finally:
        stop(server)
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--slow", type=int, default=1100)
    parser.add_argument("--real", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=1.5, help="seconds between webhooks")
    parser.add_argument("--timeout", type=float, default=10.0, help="a webhook's client timeout")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between slow bytes")
    parser.add_argument("--cap", type=float, default=120.0, help="longest a probe waits")
    parser.add_argument("--tmp", default="/tmp/slowclients-probe")
    asyncio.run(probe(parser.parse_args()))


if __name__ == "__main__":
    main()
