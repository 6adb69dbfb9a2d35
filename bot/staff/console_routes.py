"""The console's work routes (permission `conversations`: every role).

GET  /staff/api/conversations                        open cases (no texts)
GET  /staff/api/residents/{rid}                      one resident: transcript, notes,
                                                     bookings (audited view)
GET  /staff/api/residents/{rid}/transcript           ?before=CURSOR (older, audited) or
                                                     ?after=CURSOR (new since)
POST /staff/api/residents/{rid}/reply                {"text"}
POST /staff/api/residents/{rid}/return               {"text"?}: hand back to the bot
POST /staff/api/residents/{rid}/assign               {"to": NAME | null}
POST /staff/api/residents/{rid}/notices              {"enabled": bool}
GET  /staff/api/residents/{rid}/bookings/{receipt}/days      ?override=1
POST /staff/api/residents/{rid}/bookings/{receipt}/change    {"date", "reason"?}
POST /staff/api/residents/{rid}/bookings/{receipt}/cancel    {"reason"?}
POST /staff/api/search                               {"query"}: 受付番号 or phone number
GET  /staff/api/canned                               canned replies (flows/data)
GET  /staff/api/colleagues                           active accounts, for assignment
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from bot.domain import data
from bot.simulator import json_response
from bot.staff import casework
from bot.staff.behalf import Desk, check_reason
from bot.staff.casework import CaseError
from bot.staff.guard import StaffRouter, needs, problem, read_body, staff_of
from bot.staff.roles import Permission
from bot.store.console import ConsoleWork

log = logging.getLogger("bot.staff")

CANNED_FILE = "canned_replies"


def add_console_routes(router: StaffRouter) -> None:
    deps = router.deps
    desk = Desk(deps.flows_dir / "data")
    work = needs(Permission.CONVERSATIONS)

    def handler(
        fn: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """CaseError → its status and messages (one place)."""

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except CaseError as error:
                return problem(error.status, error.error, error.message)

        run.__name__ = fn.__name__
        return run

    async def body_of(request: web.Request) -> dict[str, Any]:
        body = await read_body(request)
        if isinstance(body, web.Response):
            raise CaseError(body.status, "bad body", "送信内容を読み取れませんでした。")
        return body

    @handler
    async def conversations(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rows = await deps.reading(casework.list_cases, staff.account.id)
        return json_response({"conversations": rows})

    @handler
    async def resident(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid = request.match_info["rid"]
        now = deps.now()

        def read(work: ConsoleWork) -> dict[str, Any]:
            audit = deps.audit(work, now)
            detail = casework.open_resident(work, audit, staff.name, staff.account.id, rid, now)
            detail["bookings"] = desk.of_resident(work, rid, now)
            return detail

        return json_response(await deps.in_store(read))

    @handler
    async def transcript(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid = request.match_info["rid"]
        before, after = request.query.get("before"), request.query.get("after")

        def read(work: ConsoleWork) -> dict[str, Any]:
            return casework.transcript(
                work, deps.audit(work, deps.now()), staff.name, staff.account.id, rid, before, after
            )

        return json_response(await deps.in_store(read))

    @handler
    async def reply(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid = request.match_info["rid"]
        text = casework.check_text((await body_of(request)).get("text"), required=True)
        assert text is not None
        now = deps.now()

        def write(work: ConsoleWork) -> int:
            return casework.reply(
                work, deps.audit(work, now), staff.name, staff.account.id, rid, text, now
            )

        outbox_id = await deps.in_store(write)
        deps.outbox_wake.set()
        log.info("staff reply queued", extra={"outbox": outbox_id})
        return json_response({"ok": True, "outbox_id": outbox_id})

    @handler
    async def give_back(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid = request.match_info["rid"]
        closing = casework.check_text((await body_of(request)).get("text"), required=False)
        now = deps.now()
        default = deps.texts.get("handoff_returned")

        def write(work: ConsoleWork) -> int | None:
            return casework.hand_back(
                work,
                deps.audit(work, now),
                staff.name,
                staff.account.id,
                rid,
                closing,
                default,
                now,
            )

        outbox_id = await deps.in_store(write)
        if outbox_id is not None:
            deps.outbox_wake.set()
        log.info("conversation returned to the bot", extra={"outbox": outbox_id})
        return json_response({"ok": True, "outbox_id": outbox_id})

    @handler
    async def assign(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid = request.match_info["rid"]
        to = (await body_of(request)).get("to")
        if to is not None and not isinstance(to, str):
            raise CaseError(400, "'to' must be a name or null", "担当者を選んでください。")
        now = deps.now()

        def write(work: ConsoleWork) -> str | None:
            return casework.assign(work, deps.audit(work, now), staff.name, rid, to or None, now)

        return json_response({"ok": True, "assigned_to": await deps.in_store(write)})

    @handler
    async def notices(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid = request.match_info["rid"]
        enabled = (await body_of(request)).get("enabled")
        if not isinstance(enabled, bool):
            raise CaseError(400, "'enabled' must be true or false", "設定を選んでください。")

        def write(work: ConsoleWork) -> None:
            casework.set_notices(work, deps.audit(work, deps.now()), staff.name, rid, enabled)

        await deps.in_store(write)
        return json_response({"ok": True, "notices_enabled": enabled})

    @handler
    async def change_days(request: web.Request) -> web.StreamResponse:
        rid, receipt = request.match_info["rid"], request.match_info["receipt"]
        override = request.query.get("override") in {"1", "true"}
        days = await deps.reading(desk.days, rid, receipt, deps.now(), override)
        return json_response({"days": days})

    @handler
    async def change(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid, receipt = request.match_info["rid"], request.match_info["receipt"]
        body = await body_of(request)
        try:
            day = date.fromisoformat(str(body.get("date")))
        except ValueError:
            raise CaseError(400, "'date' must be YYYY-MM-DD", "収集日を選んでください。") from None
        reason = check_reason(body.get("reason"))
        now = deps.now()

        def write(work: ConsoleWork) -> dict[str, Any]:
            audit = deps.audit(work, now)
            changed = desk.change(work, audit, staff.name, rid, receipt, day, reason, now)
            return {"booking": changed, "bookings": desk.of_resident(work, rid, now)}

        return json_response({"ok": True, **await deps.in_store(write)})

    @handler
    async def cancel(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        rid, receipt = request.match_info["rid"], request.match_info["receipt"]
        reason = check_reason((await body_of(request)).get("reason"))
        now = deps.now()

        def write(work: ConsoleWork) -> dict[str, Any]:
            audit = deps.audit(work, now)
            cancelled = desk.cancel(work, audit, staff.name, rid, receipt, reason, now)
            return {"booking": cancelled, "bookings": desk.of_resident(work, rid, now)}

        return json_response({"ok": True, **await deps.in_store(write)})

    @handler
    async def search(request: web.Request) -> web.StreamResponse:
        # POST, not GET: a phone number must not sit in a URL (proxy logs, history).
        staff = staff_of(request)
        query = (await body_of(request)).get("query")
        if not isinstance(query, str):
            raise CaseError(400, "'query' is required", "受付番号か電話番号を入力してください。")
        now = deps.now()
        simulator = deps.settings.simulator

        def find(work: ConsoleWork) -> casework.Found:
            audit = deps.audit(work, now)
            return casework.search(work, audit, staff.name, query, deps.vault, simulator, now)

        found = await deps.in_store(find)
        if found.resident_id is None:
            raise CaseError(
                404,
                "no resident found",
                "見つかりませんでした。受付番号や電話番号をご確認ください。",
            )
        return json_response({"resident_id": found.resident_id, "by": found.by})

    @handler
    async def canned(request: web.Request) -> web.StreamResponse:
        try:
            content = data.load(CANNED_FILE, deps.flows_dir / "data")
        except (OSError, data.DataInvalid):
            log.warning("canned replies unavailable", extra={"file": f"{CANNED_FILE}.yaml"})
            return json_response({"replies": []})
        return json_response({"replies": content.get("replies", [])})

    @handler
    async def colleagues(request: web.Request) -> web.StreamResponse:
        def read(work: ConsoleWork) -> list[dict[str, str]]:
            return [{"name": a.name, "role": a.role} for a in work.accounts.all() if not a.disabled]

        return json_response({"colleagues": await deps.reading(read)})

    base = "/staff/api/residents/{rid}"
    router.add("GET", "/staff/api/conversations", conversations, work)
    router.add("GET", base, resident, work)
    router.add("GET", base + "/transcript", transcript, work)
    router.add("POST", base + "/reply", reply, work)
    router.add("POST", base + "/return", give_back, work)
    router.add("POST", base + "/assign", assign, work)
    router.add("POST", base + "/notices", notices, work)
    router.add("GET", base + "/bookings/{receipt}/days", change_days, work)
    router.add("POST", base + "/bookings/{receipt}/change", change, work)
    router.add("POST", base + "/bookings/{receipt}/cancel", cancel, work)
    router.add("POST", "/staff/api/search", search, work)
    router.add("GET", "/staff/api/canned", canned, work)
    router.add("GET", "/staff/api/colleagues", colleagues, work)
