"""`bot serve`'s HTTP server: aiohttp, with a guard on every connection.

aiohttp (3.14) has no deadline for a request's headers — its keep-alive timer closes a
connection that has not completed a request only after `keepalive_timeout` — and no cap on
open connections. Slow clients (slowloris) then hold file descriptors until the process runs
out of them, and every real webhook waits behind them. The guard sits on the transport,
below aiohttp's HTTP parser, and wraps the protocol aiohttp makes for each connection:

- **headers deadline**: from a connection's first byte (or its connect) the request's headers
  must be complete within `header_timeout`, or the connection is closed (408 when some bytes
  came). The body's deadline is the edge middleware's (`bot.edge`): it reads every body.
- **connection cap** (`max_connections`, by default what `ulimit -n` allows after a reserve
  for the database, provider connections and logs): at the cap, a new connection evicts the
  one that has waited longest on its client (idle, headers or body not complete); a
  connection whose request is being answered is never evicted. Only when every connection
  is being answered is the new one refused with 503. So 1,000 slow clients cannot starve
  real webhooks: a real request completes in milliseconds and is never the longest waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.edge import ConnectionPhases, EdgeLimits
from bot.errors import ConfigError
from bot.metrics import METRICS, Metrics, Refusal

log = logging.getLogger("bot.server")

# Files the process needs besides the connections it keeps: SQLite files (database, WAL, SHM
# per connection), the provider API connection pool (aiohttp's default: 100), dictionaries,
# logs — and one accept burst: asyncio accepts up to BACKLOG sockets before the guard sees
# the first of them, so evicted connections give their descriptors back only after it.
BACKLOG = 128
RESERVED_FILES = 256
MAX_DEFAULT_CONNECTIONS = 4096


def _canned(status: str, message: str) -> bytes:
    body = f'{{"error": "{message}"}}'.encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    if status.startswith("503"):
        head += "Retry-After: 1\r\n"
    return head.encode() + b"\r\n" + body


SLOW_HEADERS_RESPONSE = _canned("408 Request Timeout", "request headers not received in time")
AT_CAPACITY_RESPONSE = _canned("503 Service Unavailable", "too many connections; try again")


def default_max_connections() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_DEFAULT_CONNECTIONS
    return max(16, min(MAX_DEFAULT_CONNECTIONS, soft - RESERVED_FILES))


class Phase(enum.Enum):
    HEADERS = "headers"  # waiting for a request's headers (deadline running)
    BODY = "body"  # reading its body (the edge's deadline running)
    HANDLING = "handling"  # answering it: never evicted
    IDLE = "idle"  # keep-alive between requests (aiohttp's keepalive_timeout running)


class GuardedConnection(asyncio.Protocol, ConnectionPhases):
    """One client connection: aiohttp's protocol inside, the guard's deadlines around it."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: asyncio.Protocol | None = None  # None: refused at the cap
        self.transport: asyncio.Transport | None = None
        self.phase = Phase.HEADERS
        self.since = guard.loop.time()
        self.received = False  # any byte of the current request yet
        self.early = False  # bytes of a next request came while this one was answered
        self._deadline: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol: delegate to aiohttp's protocol ----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.guard.admit(self):
            transport.write(AT_CAPACITY_RESPONSE)  # type: ignore[attr-defined]
            transport.close()
            return
        self.inner = self.guard.protocol_factory()
        self._await_headers()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.phase is Phase.IDLE:
            self._await_headers()
        if self.phase is Phase.HEADERS:
            self.received = True
        elif self.phase is Phase.HANDLING:
            self.early = True
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self.guard.forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    # --- ConnectionPhases: told by the edge middleware ----------------------------------------

    def reading_body(self) -> None:
        self._enter(Phase.BODY)

    def handling(self) -> None:
        self._enter(Phase.HANDLING)
        self.early = False

    def finished(self) -> None:
        if self.early:  # part of a pipelined request is already here: its deadline runs now
            self._await_headers()
            self.received = True
        else:
            self._enter(Phase.IDLE)

    def close_now(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # --- deadlines and eviction ------------------------------------------------------------

    @property
    def evictable(self) -> bool:
        return self.inner is not None and self.phase is not Phase.HANDLING

    def evict(self) -> None:
        self.guard.count(Refusal.EVICTED)
        log.warning("connection evicted at the cap", extra={"phase": self.phase.value})
        if self.transport is None:
            return
        if self.phase is Phase.IDLE:
            self.transport.close()  # an answer may still be on its way out: let it go
        else:
            self.transport.abort()  # a slow client may not read: free the descriptor now

    def _enter(self, phase: Phase) -> None:
        self._cancel_deadline()
        self.phase = phase
        self.since = self.guard.loop.time()

    def _await_headers(self) -> None:
        self._enter(Phase.HEADERS)
        self.received = False
        self._deadline = self.guard.loop.call_later(self.guard.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self._deadline = None
        if self.phase is not Phase.HEADERS or self.transport is None:
            return
        self.guard.count(Refusal.SLOW_HEADERS)
        log.warning("slow client closed", extra={"phase": "headers", "partial": self.received})
        if self.received:
            self.transport.write(SLOW_HEADERS_RESPONSE)
        self.transport.close()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


class ConnectionGuard:
    """The protocol factory given to loop.create_server: wraps aiohttp's, keeps the cap."""

    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        limits: EdgeLimits,
        metrics: Metrics | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.protocol_factory = protocol_factory
        self.header_timeout = limits.header_timeout
        self.max_connections = limits.max_connections or default_max_connections()
        self.metrics = metrics
        self.loop = loop
        self.open: dict[GuardedConnection, None] = {}  # insertion-ordered set

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)

    def admit(self, connection: GuardedConnection) -> bool:
        if len(self.open) >= self.max_connections:
            waiting = [c for c in self.open if c.evictable]
            if not waiting:
                self.count(Refusal.AT_CAPACITY)
                log.warning("connection refused at the cap", extra={"cap": self.max_connections})
                return False
            victim = min(waiting, key=lambda c: c.since)
            del self.open[victim]  # its connection_lost comes later; its slot is free now
            victim.evict()
        self.open[connection] = None
        return True

    def forget(self, connection: GuardedConnection) -> None:
        self.open.pop(connection, None)

    def count(self, reason: Refusal) -> None:
        if self.metrics is not None:
            self.metrics.refused(reason)


@dataclass
class RunningServer:
    runner: web.AppRunner
    server: asyncio.Server
    guard: ConnectionGuard

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        await self.runner.cleanup()


async def start(
    app: web.Application,
    host: str,
    port: int,
    limits: EdgeLimits,
    backlog: int = BACKLOG,
    reuse_port: bool = False,
) -> RunningServer:
    """Start serving `app` behind the guard (port 0: any free port). `reuse_port`: other
    processes listen on the same port (`bot serve --workers N`, SO_REUSEPORT)."""
    runner = web.AppRunner(
        app, access_log=None, keepalive_timeout=limits.keepalive_timeout, handle_signals=False
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    assert runner.server is not None
    guard = ConnectionGuard(runner.server, limits, app.get(METRICS), loop)
    try:
        server = await loop.create_server(
            guard, host, port, backlog=backlog, reuse_address=True, reuse_port=reuse_port or None
        )
    except OSError as exc:  # in use, no such address, not allowed: one line, exit 2
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
    except BaseException:
        await runner.cleanup()
        raise
    return RunningServer(runner, server, guard)


async def serve(
    app: web.Application,
    host: str,
    port: int,
    limits: EdgeLimits,
    reuse_port: bool = False,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully (in-flight requests finish).
    `ready` runs once the port is bound (the banner: never "listening" before it is true)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    running = await start(app, host, port, limits, reuse_port=reuse_port)
    if ready is not None:
        ready()
    try:
        await stop.wait()
    finally:
        await running.close()
