"""The ceiling: a bare aiohttp app with the Twilio webhook's path that reads the body and
answers the same empty TwiML, nothing else. Started the way `bot serve` starts
(`web.run_app`, no access log) and driven by the same load generator."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def make_app() -> web.Application:
    async def sms(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/webhooks/twilio/sms", sms)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.bare")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
