"""The load generator: its own process, one asyncio loop, hand-written HTTP/1.1 on both sides.

It plays many residents texting through Twilio (signed webhooks) and the simulator, and it
is also the fake Twilio Messages API the bot sends its replies to, so the moment a reply
reaches "the provider" is taken on the same clock as the moment the webhook was sent.

The orchestrator (bot.bench.runner) starts it as `python -m bot.bench.loadgen`, reads
`{"ready": ..., "twilio_port": N}` from its first stdout line, then writes one JSON command
per line on stdin and reads one JSON result per line. Commands: run (closed loop: N
messages, K residents at a time, each waits for its reply before texting again), open
(fixed offered rate, scheduled sends; latencies count from the scheduled instant), drain,
quit. Raw protocols instead of aiohttp's client keep the generator's own cost per message
far below the server's; it reports its CPU use and loop lag so a saturated generator shows.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bot.bench import texts
from bot.bench.stats import summarize, sustained_rate

ACCOUNT_SID = "AC" + "be" * 16
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
CITY_NUMBER = "+815012345678"
SMS_PATH = "/webhooks/twilio/sms"
SIM_PATH = "/sim/messages"
# ob-{inbox_id}-{reply index}-{salt}[-p{part}]: the delivery worker's idempotency key.
_KEY = re.compile(r"ob-(\d+)-(\d+)-[0-9a-f]+(?:-p(\d+))?$")

now_ns = time.monotonic_ns


def seeded_number(index: int) -> str:
    """The phone number of seeded resident `index` (the seeder uses the same)."""
    return f"+8190{index:08d}"


def twilio_signature(url: str, params: dict[str, str], token: str) -> str:
    """Written here from Twilio's documentation, not imported from the adapter, so a
    mistake on either side shows as 403s instead of agreeing with itself."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


# ---- client side ------------------------------------------------------------------------


class ClientConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        status = int(head[9:12])
        length = 0
        i = head.find(b"\r\ncontent-length:")
        if i >= 0:
            j = head.find(b"\r\n", i + 2)
            length = int(head[i + 17 : j if j >= 0 else len(head)])
        elif b"transfer-encoding: chunked" in head:
            raise RuntimeError("chunked responses are not expected from the bot")
        total = end + 4 + length
        if len(self.buf) < total:
            return
        body = bytes(self.buf[end + 4 : total])
        del self.buf[:total]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def connect(host: str, port: int) -> ClientConn:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(ClientConn, host, port)
    return proto


class Pool:
    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.idle: list[ClientConn] = []
        self.count = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def fill(self, n: int) -> None:
        while self.count < min(n, self.size):
            self.count += 1
            self.idle.append(await connect(self.host, self.port))

    async def acquire(self) -> ClientConn:
        while True:
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed:
                    return conn
                self.count -= 1
            if self.count < self.size:
                self.count += 1
                try:
                    return await connect(self.host, self.port)
                except OSError:
                    self.count -= 1
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter

    def release(self, conn: ClientConn) -> None:
        if conn.closed:
            self.count -= 1
        else:
            self.idle.append(conn)
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        self.count = 0


# ---- the fake Twilio Messages API ------------------------------------------------------------


class FakeTwilioProtocol(asyncio.Protocol):
    def __init__(self, gen: LoadGen) -> None:
        self.gen = gen
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            total = end + 4 + length
            if len(self.buf) < total:
                return
            body = bytes(self.buf[end + 4 : total])
            del self.buf[:total]
            status, payload = self.gen.provider_request(lines[0], headers, body)
            raw = json.dumps(payload).encode()
            reason = {201: "Created", 401: "Unauthorized", 404: "Not Found", 400: "Bad Request"}
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (status, reason.get(status, "OK").encode(), len(raw))
                + raw
            )


# ---- the generator ----------------------------------------------------------------------------


class LoadGen:
    def __init__(self) -> None:
        self.reply_waiters: dict[str, asyncio.Future[int]] = {}
        self.auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        self.sid_counter = 0
        self.provider: Counter[str] = Counter()  # requests the fake Twilio answered, by outcome
        self.unmatched = 0  # first replies nobody was waiting for (late, after a timeout)
        self.phase_code = 0
        self.in_use: set[str] = set()
        self.replies_seen = 0
        # When each staff notice reached "the provider" (bot bench --notice): the rate.
        self.notice_arrivals: list[int] = []
        self.notice_to: set[str] = set()
        self.notice_repeats = 0  # the same notice twice to one number (must stay 0)

    # -- the provider side --

    def provider_request(self, request_line: str, headers: dict[str, str], body: bytes):
        at = now_ns()
        if (
            not request_line.startswith("POST /2010-04-01/Accounts/")
            or "Messages.json" not in request_line
        ):
            self.provider["404"] += 1
            return 404, {"code": 20404, "status": 404}
        if headers.get("authorization") != self.auth:
            self.provider["401"] += 1
            return 401, {"code": 20003, "status": 401}
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        to = form.get("To", "")
        if not to or not form.get("Body"):
            self.provider["400"] += 1
            return 400, {"code": 21602, "status": 400}
        self.provider["201"] += 1
        self.replies_seen += 1
        token = headers.get("i-twilio-idempotency-token", "")
        if token.startswith("ob-n:"):  # a staff notice's row (bot.store.sqlite.notices)
            self.notice_arrivals.append(at)
            if to in self.notice_to:
                self.notice_repeats += 1
            self.notice_to.add(to)
        match = _KEY.match(token)
        first = match is not None and match.group(2) == "0" and match.group(3) in (None, "1")
        if first:
            waiter = self.reply_waiters.pop(to, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)
            else:
                self.unmatched += 1
        self.sid_counter += 1
        return 201, {"sid": f"SM{self.sid_counter:032x}", "status": "queued", "to": to}

    # -- requests --

    def twilio_request(self, cfg: dict[str, Any], number: str, text: str) -> bytes:
        sid = "SM" + uuid.uuid4().hex
        params = {
            "ToCountry": "JP", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": text, "FromCountry": "JP", "To": CITY_NUMBER, "ToZip": "",
            "NumSegments": str(max(1, (len(text) + 69) // 70)), "MessageSid": sid,
            "AccountSid": ACCOUNT_SID, "From": number, "ApiVersion": "2010-04-01",
        }  # fmt: skip
        body = urlencode(params).encode()
        signature = twilio_signature(cfg["public_url"] + SMS_PATH, params, cfg["token"])
        head = (
            f"POST {SMS_PATH} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\n"
            "User-Agent: TwilioProxy/1.1\r\nAccept: */*\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\nI-Twilio-Idempotency-Token: {uuid.uuid4()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def sim_request(self, cfg: dict[str, Any], number: str, text: str, channel: str) -> bytes:
        body = json.dumps(
            {"from": number, "text": text, "channel": channel, "id": uuid.uuid4().hex},
            ensure_ascii=False,
        ).encode()
        head = (
            f"POST {SIM_PATH} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    # -- residents --

    def pick_number(self, rng: random.Random, cfg: dict[str, Any], fresh: list[int]) -> str:
        seeded = int(cfg.get("seeded", 0))
        if seeded and rng.random() >= cfg.get("new_share", 0.2):
            for _ in range(50):
                number = seeded_number(rng.randrange(seeded))
                if number not in self.in_use:
                    self.in_use.add(number)
                    return number
        fresh[0] += 1
        number = f"+8170{self.phase_code % 100:02d}{fresh[0] % 1_000_000:06d}"
        self.in_use.add(number)
        return number

    # -- one message --

    async def send_one(
        self,
        conn: ClientConn,
        cfg: dict[str, Any],
        rec: Record,
        number: str,
        text: str,
        channel: str,
        scheduled: int | None = None,
        prebuilt: bytes | None = None,
    ) -> tuple[asyncio.Future[int], int] | None:
        """Send one message and read its acknowledgement. For an end-to-end Twilio message,
        returns the reply to wait for (and the instant it counts from): the caller frees the
        connection first, as a provider does once its webhook is acknowledged."""
        e2e = cfg["mode"] == "e2e"
        if prebuilt is not None:
            data = prebuilt
        elif channel == "sim":
            data = self.sim_request(cfg, number, text, "rcs" if random.random() < 0.3 else "sms")
        else:
            data = self.twilio_request(cfg, number, text)
            if e2e:
                waiter = asyncio.get_running_loop().create_future()
                old = self.reply_waiters.pop(number, None)
                if old is not None and not old.done():
                    old.cancel()
                self.reply_waiters[number] = waiter
        start = now_ns()
        origin = scheduled if scheduled is not None else start
        if scheduled is not None:
            rec.send_lag.append(start - scheduled)
        try:
            status, body = await conn.request(data)
        except ConnectionError:
            rec.status["conn_error"] += 1
            if channel != "sim" and e2e:
                self.reply_waiters.pop(number, None)
            return None
        acked = now_ns()
        rec.status[str(status)] += 1
        if channel == "sim":
            rec.sim.append(acked - origin)
            if status == 200:
                try:
                    replies = json.loads(body).get("replies", [])
                except ValueError:
                    replies = []
                if not replies:
                    rec.silent += 1
                rec.done.append(acked)
            return None
        rec.ack.append(acked - origin)
        if not e2e:
            if status == 200:
                rec.done.append(acked)
            return None
        if status != 200:
            self.reply_waiters.pop(number, None)
            return None
        return waiter, origin

    async def await_reply(
        self,
        cfg: dict[str, Any],
        rec: Record,
        number: str,
        pending: tuple[asyncio.Future[int], int] | None,
    ) -> None:
        if pending is None:
            return
        waiter, origin = pending
        try:
            replied = await asyncio.wait_for(waiter, cfg.get("reply_timeout", 15.0))
        except (TimeoutError, asyncio.CancelledError):
            rec.no_reply += 1
            if self.reply_waiters.get(number) is waiter:
                del self.reply_waiters[number]
            return
        rec.e2e.append(replied - origin)
        rec.done.append(replied)

    # -- commands --

    async def run_closed(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """N messages, K residents at a time; each texts again as soon as it is answered."""
        self.phase_code += 1
        rng = random.Random(cfg.get("seed", 1) * 1000 + self.phase_code)
        rec = Record()
        remaining = [int(cfg["messages"])]
        fresh = [0]
        # An optional time limit: no new message after it (answers still awaited).
        limit = float(cfg.get("seconds") or 0)
        deadline = now_ns() + int(limit * 1e9) if limit > 0 else None

        def more() -> bool:
            return remaining[0] > 0 and (deadline is None or now_ns() < deadline)

        sim_share = float(cfg.get("sim_share", 0.0)) if cfg["mode"] == "e2e" else 0.0

        # Ack-only runs (the bare ceiling) reuse requests built before the clock starts, so
        # the generator spends its time on the wire, not on signing.
        prebuilt: list[bytes] = []
        if cfg["mode"] != "e2e":
            prebuilt = [
                self.twilio_request(cfg, f"+8180{i:08d}", "粗大ごみを出したい") for i in range(2048)
            ]
        sent = [0]

        async def resident_session(index: int) -> None:
            conn: ClientConn | None = None
            srng = random.Random(rng.random())
            while more():
                number = self.pick_number(srng, cfg, fresh)
                channel = "sim" if srng.random() < sim_share else "twilio"
                try:
                    for text in (
                        texts.script(srng) if cfg["mode"] == "e2e" else ["粗大ごみを出したい"]
                    ):
                        if not more():
                            break
                        remaining[0] -= 1
                        if conn is None or conn.closed:
                            conn = await connect(cfg["host"], cfg["port"])
                        sent[0] += 1
                        data = prebuilt[sent[0] % len(prebuilt)] if prebuilt else None
                        pending = await self.send_one(
                            conn, cfg, rec, number, text, channel, prebuilt=data
                        )
                        await self.await_reply(cfg, rec, number, pending)
                finally:
                    self.in_use.discard(number)
            if conn is not None and conn.transport is not None:
                conn.transport.close()

        with Meter() as meter:
            rec.started = now_ns()
            await asyncio.gather(*(resident_session(i) for i in range(int(cfg["concurrency"]))))
            rec.finished = now_ns()
        return rec.result(cfg, meter, self)

    async def run_open(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """A fixed offered rate (open loop): sends go out on schedule whatever the answers."""
        self.phase_code += 1
        rng = random.Random(cfg.get("seed", 1) * 1000 + self.phase_code)
        rec = Record()
        rate = float(cfg["rate"])
        total = int(rate * float(cfg["seconds"]))
        pool = Pool(cfg["host"], cfg["port"], int(cfg.get("connections", 1024)))
        await pool.fill(int(cfg.get("prefill", 128)))
        fresh = [0]
        numbers = [self.pick_number(rng, cfg, fresh) for _ in range(total)]  # distinct
        first_texts = [
            s[0] for scripts in (texts.BULKY, texts.CHILDCARE, texts.HELP) for s in scripts
        ]
        tasks: list[asyncio.Task[None]] = []

        async def one(i: int, scheduled: int) -> None:
            conn = await pool.acquire()
            try:
                pending = await self.send_one(
                    conn, cfg, rec, numbers[i], rng.choice(first_texts), "twilio", scheduled
                )
            finally:
                pool.release(conn)
            await self.await_reply(cfg, rec, numbers[i], pending)

        interval = 1e9 / rate
        with Meter() as meter:
            rec.started = start = now_ns() + 20_000_000
            i = 0
            while i < total:
                now = now_ns()
                while i < total and start + i * interval <= now:
                    tasks.append(asyncio.create_task(one(i, int(start + i * interval))))
                    i += 1
                if i < total:
                    await asyncio.sleep(max(0.0, (start + i * interval - now_ns()) / 1e9))
            await asyncio.gather(*tasks)
            rec.finished = now_ns()
        pool.close()
        for number in numbers:
            self.in_use.discard(number)
        result = rec.result(cfg, meter, self)
        result["offered_rate"] = rate
        result["send_lag"] = summarize(rec.send_lag)
        return result

    async def arrivals(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Staff notices received so far, and the rate over the last `window` seconds."""
        times = self.notice_arrivals
        window = float(cfg.get("window", 10.0)) * 1e9
        now = now_ns()
        recent = [t for t in times[-200_000:] if t >= now - window]
        span = (now - recent[0]) / 1e9 if recent else 0.0
        return {
            "count": len(times),
            "distinct": len(self.notice_to),
            "repeats": self.notice_repeats,
            "recent": len(recent),
            "rate": round(len(recent) / span, 1) if span > 0 else 0.0,
        }

    async def drain(self, cfg: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + float(cfg.get("timeout", 30))
        while self.reply_waiters and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return {
            "waiting": len(self.reply_waiters),
            "provider": dict(self.provider),
            "unmatched": self.unmatched,
        }


class Record:
    def __init__(self) -> None:
        self.ack: list[int] = []
        self.e2e: list[int] = []
        self.sim: list[int] = []
        self.done: list[int] = []
        self.send_lag: list[int] = []
        self.status: Counter[str] = Counter()
        self.no_reply = 0
        self.silent = 0
        self.started = 0
        self.finished = 0

    def result(self, cfg: dict[str, Any], meter: Meter, gen: LoadGen) -> dict[str, Any]:
        wall = max((self.finished - self.started) / 1e9, 1e-9)
        completed = len(self.done)
        return {
            "mode": cfg["mode"],
            "messages": sum(self.status.values()) + 0,
            "completed": completed,
            "wall_s": round(wall, 3),
            "rate_overall": round(completed / wall, 1),
            "rate_sustained": _round(sustained_rate(self.done)),
            "ack": summarize(self.ack),
            "e2e": summarize(self.e2e),
            "sim": summarize(self.sim),
            "status": dict(self.status),
            "no_reply": self.no_reply,
            "sim_silent": self.silent,
            "provider": dict(gen.provider),
            "unmatched_replies": gen.unmatched,
            "loadgen": meter.result(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class Meter:
    """The generator's own CPU use and event-loop lag during a command."""

    def __enter__(self) -> Meter:
        self.cpu0 = time.process_time()
        self.wall0 = time.monotonic()
        self.lags: list[int] = []
        self.task = asyncio.ensure_future(self._watch())
        return self

    async def _watch(self) -> None:
        while True:
            before = now_ns()
            await asyncio.sleep(0.01)
            self.lags.append(max(0, now_ns() - before - 10_000_000))

    def __exit__(self, *exc: object) -> None:
        self.task.cancel()
        self.cpu = time.process_time() - self.cpu0
        self.wall = time.monotonic() - self.wall0

    def result(self) -> dict[str, Any]:
        share = self.cpu / self.wall if self.wall > 0 else 0.0
        lag = summarize(self.lags)
        return {
            "cpu_s": round(self.cpu, 3),
            "cpu_share": round(share, 3),  # of one core: the loop runs on one
            "loop_lag_p99_ms": lag["p99_ms"],
            # Saturated: the generator's loop was busy nearly all the time (its numbers are
            # then a floor). Lagging: its timer fired late although it was not busy — the
            # machine was oversubscribed (other processes), so every number is noisier.
            "saturated": share > 0.85,
            "lagging": (lag["p99_ms"] or 0) > 20,
        }


async def main_async() -> None:
    gen = LoadGen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FakeTwilioProtocol(gen), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout

    def say(data: dict[str, Any]) -> None:
        out.write(json.dumps(data) + "\n")
        out.flush()

    say(
        {
            "ready": True,
            "twilio_port": port,
            "pid": os.getpid(),
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from": CITY_NUMBER,
        }
    )
    commands = {
        "run": gen.run_closed,
        "open": gen.run_open,
        "drain": gen.drain,
        "arrivals": gen.arrivals,
    }
    while True:
        line = await reader.readline()
        if not line:
            break
        cfg = json.loads(line)
        if cfg.get("cmd") == "quit":
            say({"bye": True})
            break
        try:
            say(await commands[cfg["cmd"]](cfg))
        except Exception as exc:
            say({"error": f"{type(exc).__name__}: {exc}"})
    server.close()


def main() -> int:
    asyncio.run(main_async())
    return 0


if __name__ == "__main__":
    sys.exit(main())
