"""The HTTP edge: every request body is read here, under its route's size cap and a deadline,
and every refusal is answered as JSON and counted in /metrics — the one place that maps
errors to HTTP.

The connection itself (a deadline for the headers, a cap on connections) is guarded one
level down, on the transport (`bot.server`); this middleware tells that guard what phase its
connection is in, so that at the cap the connection waiting longest on its client can go.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.metrics import METRICS, Metrics, Refusal

log = logging.getLogger("bot.edge")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class EdgeLimits:
    header_timeout: float = 10.0  # a request's headers, from its first byte (or the connect)
    body_timeout: float = 10.0  # a request's whole body, from the end of its headers
    keepalive_timeout: float = 75.0  # an idle connection between two requests
    max_connections: int = 0  # open connections at once; 0: derived from `ulimit -n`
    max_body_bytes: int = 64 * 1024  # routes that declare no cap of their own


EDGE_LIMITS = web.AppKey("edge_limits", EdgeLimits)
BODY_LIMITS = web.AppKey("body_limits", dict[str, int])


def json_response(data: object, status: int = 200) -> web.Response:
    """JSON with Japanese left readable."""
    return web.json_response(
        data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False)
    )


def limit_body(app: web.Application, path: str, max_bytes: int) -> None:
    """Declare the largest body `path` accepts (the edge answers 413 above it)."""
    app[BODY_LIMITS][path] = max_bytes


def refuse(request: web.Request, reason: Refusal, status: int, message: str) -> web.Response:
    """A refusal the client can read ({"error": message}), counted by reason."""
    metrics: Metrics | None = request.config_dict.get(METRICS)
    if metrics is not None:
        metrics.refused(reason)
    return json_response({"error": message}, status=status)


class ConnectionPhases:
    """What the edge tells the connection guard about the request on its connection
    (bot.server implements it; under a test server there is none and nothing is told)."""

    def reading_body(self) -> None:
        """Headers complete; the body is being read (the client can still stall us)."""

    def handling(self) -> None:
        """The whole request is in; we are answering it (never evicted)."""

    def finished(self) -> None:
        """Answered; the connection waits for the next request."""

    def close_now(self) -> None:
        """Close the connection once what was written is sent."""


def _phases(request: web.Request) -> ConnectionPhases | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, ConnectionPhases) else None


def _body_cap(request: web.Request, limits: EdgeLimits) -> int:
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    return request.config_dict[BODY_LIMITS].get(path, limits.max_body_bytes)


async def _slow_body(request: web.Request, phases: ConnectionPhases | None) -> web.StreamResponse:
    """408, then close: a client that has not sent its body in time gets no more of our time."""
    refused = refuse(request, Refusal.SLOW_BODY, 408, "request body not received in time")
    log.warning("slow client closed", extra={"phase": "body", "path": request.path})
    refused.force_close()
    await refused.prepare(request)
    await refused.write_eof()
    if phases is not None:
        phases.close_now()
    elif request.transport is not None:
        request.transport.close()
    return refused


async def _read_body(
    request: web.Request, limits: EdgeLimits, phases: ConnectionPhases | None
) -> web.Request | web.StreamResponse:
    """The request with its body read (request.read() then returns it), or the refusal."""
    cap = _body_cap(request, limits)
    if request.content_length is not None and request.content_length > cap:
        return refuse(request, Refusal.TOO_LARGE, 413, "request body too large")
    capped = request.clone(client_max_size=cap)
    try:
        async with asyncio.timeout(limits.body_timeout):
            await capped.read()
    except TimeoutError:
        return await _slow_body(request, phases)
    except web.HTTPRequestEntityTooLarge:  # no Content-Length, and more than the cap came
        return refuse(request, Refusal.TOO_LARGE, 413, "request body too large")
    except ConnectionError:
        # The client went away (or was evicted) mid-body: nobody reads this answer, and
        # nothing went wrong on our side, so no error line either.
        return json_response({"error": "connection closed before the body arrived"}, 400)
    return capped


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Body policy, then the handler; errors mapped to HTTP: clear 4xx JSON, never a
    traceback, never a bare 500."""
    phases = _phases(request)
    try:
        if request.body_exists:
            if phases is not None:
                phases.reading_body()
            read = await _read_body(request, request.config_dict[EDGE_LIMITS], phases)
            if not isinstance(read, web.Request):
                return read
            request = read
        if phases is not None:
            phases.handling()
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 413:
            return refuse(request, Refusal.TOO_LARGE, 413, "request body too large")
        if exc.status >= 400 and not (exc.text or "").lstrip().startswith("<"):
            return json_response({"error": (exc.reason or "error").lower()}, status=exc.status)
        raise
    except Exception as exc:
        log.error(
            "request failed",
            extra={"path": request.path, "error": type(exc).__name__},
            exc_info=True,
        )
        return json_response({"error": "internal error; the request was not processed"}, status=503)
    finally:
        if phases is not None:
            phases.finished()


def install_edge(app: web.Application, metrics: Metrics, limits: EdgeLimits) -> None:
    """Put the edge in front of every route of `app`: call it first, so that its middleware
    is the outermost one (it maps every error, including other middlewares')."""
    app[METRICS] = metrics
    app[EDGE_LIMITS] = limits
    app[BODY_LIMITS] = {}
    app.middlewares.append(edge_middleware)
    app.on_response_prepare.append(_plain_server_header)


async def _plain_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """No framework or Python version in answers to strangers (it only helps an attacker
    pick an exploit)."""
    response.headers["Server"] = "sakura-bot"
