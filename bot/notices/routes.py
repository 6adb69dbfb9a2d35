"""The console's notice routes (docs/staff-console.md, "お知らせ"), and the card image the
bot serves to +メッセージ providers.

GET  /staff/api/notices                     the newest 500 notices, newest first (notices.report; `bot notices list` has them all)
GET  /staff/api/notices/options             categories, topics, districts, rules (report)
POST /staff/api/notices/preview             the form checked and rendered, not saved (draft)
POST /staff/api/notices                     a draft from the form (draft)
GET  /staff/api/notices/{id}                one notice: content, phone previews, counts (report)
POST /staff/api/notices/{id}                the draft edited (draft)
POST /staff/api/notices/{id}/approve        (approve)
POST /staff/api/notices/{id}/cancel         (approve)
POST /staff/api/notices/{id}/test           {"number"}: to one staff phone (draft)
GET  /staff/api/notices/{id}/report         counts, progress over time, answers (report)
GET  /staff/api/notices/{id}/report.csv     the counts as CSV (report; audited)
GET  /staff/api/notices/{id}/image          the card's image (report)
GET  /notices/{id}/image                    the same for providers, once approved (public)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.audit import Audit
from bot.channels.http import MalformedRequest, parse_json
from bot.clock import TOKYO
from bot.edge import json_response, limit_body
from bot.notices.desk import (
    STATE_LABELS,
    ContentRefused,
    NoticeDesk,
    NoticeRefused,
    UnknownNotice,
)
from bot.notices.form import draft_from_form
from bot.notices.render import cost, render
from bot.notices.report import counts_csv
from bot.numbering import InvalidNumber, parse
from bot.staff.guard import StaffRouter, needs, problem, staff_of
from bot.staff.roles import Permission, may
from bot.store.console import ConsoleWork
from bot.store.records import Notice, Route

log = logging.getLogger("bot.notices")

MAX_FORM_BYTES = 12 * 1024 * 1024  # an image (1 MB as base64) and a list of numbers
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVED = ("approved", "scheduled", "sending", "sent")  # states whose image providers fetch


def add_notice_routes(
    app: web.Application,
    router: StaffRouter,
    desk: NoticeDesk,
    kick: asyncio.Event,
    route: Route,
    local: frozenset[str],
) -> None:
    deps = router.deps
    draft, report, approve = (
        needs(Permission.NOTICES_DRAFT),
        needs(Permission.NOTICES_REPORT),
        needs(Permission.NOTICES_APPROVE),
    )

    def handler(fn: Handler) -> Handler:
        """The desk's refusals → their status and a message staff can read (one place)."""

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except UnknownNotice:
                return problem(404, "no such notice", "お知らせが見つかりません。")
            except ContentRefused as error:
                return json_response(
                    {
                        "error": "content refused",
                        "message": "内容を確認してください。",
                        "problems": [
                            {"field": p.field, "message": p.message} for p in error.problems
                        ],
                    },
                    status=400,
                )
            except NoticeRefused as error:
                return problem(error.status, error.code, error.reason)

        run.__name__ = fn.__name__
        return run

    async def body_of(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = parse_json(raw) if raw.strip() else {}
        except (MalformedRequest, UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise ContentRefused([])
        return body

    async def account(request: web.Request):
        return staff_of(request).account

    @handler
    async def options(request: web.Request) -> web.StreamResponse:
        """What the compose form offers: the city's categories, topics, districts, rules."""
        policy = desk.policy
        seen: dict[str, str] = {}
        for label, name in desk.districts().items():
            if label != name:
                seen[name] = label
        return json_response(
            {
                "categories": [
                    {
                        "id": c.id,
                        "label": c.label,
                        "second_person": c.approval == "second_person",
                        "quiet_hours": c.quiet_hours,
                        "opt_out_line": c.opt_out_line,
                        "weekly_cap": c.weekly_cap,
                    }
                    for c in policy.categories.values()
                ],
                "topics": [{"id": t.id, "label": t.label} for t in policy.topics],
                "districts": [{"name": n, "label": label} for n, label in seen.items()],
                "prefix": policy.prefix,
                "opt_out_line": policy.opt_out_line,
                "max_chars": policy.max_chars,
                "max_buttons": policy.max_buttons,
                "quiet_hours": [
                    policy.quiet_from.strftime("%H:%M"),
                    policy.quiet_until.strftime("%H:%M"),
                ],
            }
        )

    @handler
    async def listing(request: web.Request) -> web.StreamResponse:
        notices = await desk.notices.newest(500)
        return json_response({"notices": [_summary(n) for n in notices]})

    @handler
    async def preview(request: web.Request) -> web.StreamResponse:
        body = await body_of(request)
        policy = desk.policy
        made, _, _ = draft_from_form(body, policy, desk.districts())
        problems = desk.check(made.content, deps.now())
        rendering = render(made.content, policy)
        return json_response(
            {
                "problems": [{"field": p.field, "message": p.message} for p in problems],
                "phone": _phone(made.content, rendering, policy, None),
            }
        )

    @handler
    async def create(request: web.Request) -> web.StreamResponse:
        body = await body_of(request)
        made, _, _ = draft_from_form(body, desk.policy, desk.districts())
        notice_id = await desk.create(made, await account(request), deps.now())
        log.info("notice drafted", extra={"notice": notice_id})
        return json_response({"ok": True, "id": notice_id})

    @handler
    async def detail(request: web.Request) -> web.StreamResponse:
        notice = await desk.get(request.match_info["id"])
        me = await account(request)
        policy = desk.policy
        status = await desk.report(notice, deps.now())
        category = policy.categories.get(notice.content.category)
        second = category is not None and category.approval == "second_person"
        own = me.name in {notice.created_by, notice.updated_by}
        return json_response(
            {
                "notice": _summary(notice),
                "content": notice.content.to_json(),
                "phone": _phone(notice.content, notice.rendering, policy, notice),
                "status": status,
                "cost": {
                    "per_sms_yen": cost(notice.rendering, policy, 1).total_yen,
                    "total_yen": status["estimated_cost_yen"],
                },
                "may": {
                    "edit": notice.state == "draft" and may(me.role, Permission.NOTICES_DRAFT),
                    "approve": notice.state == "draft"
                    and may(me.role, Permission.NOTICES_APPROVE)
                    and not (second and own),
                    "cancel": notice.state in ("draft", "approved", "scheduled", "sending")
                    and may(me.role, Permission.NOTICES_APPROVE),
                    "test": notice.state not in ("cancelled", "expired")
                    and may(me.role, Permission.NOTICES_DRAFT),
                },
                "second_person": second,
            }
        )

    @handler
    async def edit(request: web.Request) -> web.StreamResponse:
        body = await body_of(request)
        made, keep_image, keep_list = draft_from_form(body, desk.policy, desk.districts())
        notice_id = request.match_info["id"]
        await desk.edit(notice_id, made, await account(request), deps.now(), keep_image, keep_list)
        return json_response({"ok": True, "id": notice_id.upper()})

    @handler
    async def approve_it(request: web.Request) -> web.StreamResponse:
        notice = await desk.approve(request.match_info["id"], await account(request), deps.now())
        kick.set()
        return json_response({"ok": True, "notice": _summary(notice)})

    @handler
    async def cancel(request: web.Request) -> web.StreamResponse:
        was = await desk.cancel(request.match_info["id"], await account(request), deps.now())
        kick.set()
        return json_response({"ok": True, "was": was})

    @handler
    async def test(request: web.Request) -> web.StreamResponse:
        body = await body_of(request)
        try:
            number = parse(str(body.get("number", ""))).e164
        except InvalidNumber:
            return problem(
                400, "not a phone number", "電話番号を 090-1234-5678 の形で入力してください。"
            )
        outbox_id = await desk.test_send(
            request.match_info["id"], number, await account(request), deps.now(), route, local
        )
        deps.outbox_wake.set()
        return json_response({"ok": True, "outbox_id": outbox_id})

    @handler
    async def report_json(request: web.Request) -> web.StreamResponse:
        notice = await desk.get(request.match_info["id"])
        status = await desk.report(notice, deps.now())
        points = await desk.notices.progress(notice.id)
        return json_response(
            {
                "status": status,
                "progress": [
                    {
                        "at": p.at.astimezone(TOKYO).isoformat(timespec="seconds"),
                        "queued": p.queued,
                        "sent": p.sent,
                        "delivered": p.delivered,
                        "read": p.read,
                        "failed": p.failed,
                    }
                    for p in points
                ],
            }
        )

    @handler
    async def report_csv(request: web.Request) -> web.StreamResponse:
        notice = await desk.get(request.match_info["id"])
        text = counts_csv(await desk.report(notice, deps.now()))
        me = staff_of(request)

        def record(work: ConsoleWork) -> None:
            Audit(work.audit, deps.now()).record(me.name, "notice.exported", subject=notice.id)

        await deps.in_store(record)
        return web.Response(
            text=text,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="notice-{notice.id}.csv"'},
        )

    async def image(request: web.Request, public: bool) -> web.StreamResponse:
        notice = await desk.notices.get(request.match_info["id"].upper())
        if notice is None or (public and notice.state not in SERVED):
            raise web.HTTPNotFound()
        found = await desk.notices.image(notice.id)
        if found is None:
            raise web.HTTPNotFound()
        content_type, data = found
        return web.Response(
            body=data,
            content_type=content_type,
            headers={"Cache-Control": "public, max-age=86400" if public else "no-store"},
        )

    @handler
    async def staff_image(request: web.Request) -> web.StreamResponse:
        return await image(request, public=False)

    async def public_image(request: web.Request) -> web.StreamResponse:
        return await image(request, public=True)

    base = "/staff/api/notices"
    router.add("GET", base, listing, report)
    router.add("GET", base + "/options", options, report)
    router.add("POST", base + "/preview", preview, draft)
    router.add("POST", base, create, draft)
    router.add("GET", base + "/{id}", detail, report)
    router.add("POST", base + "/{id}", edit, draft)
    router.add("POST", base + "/{id}/approve", approve_it, approve)
    router.add("POST", base + "/{id}/cancel", cancel, approve)
    router.add("POST", base + "/{id}/test", test, draft)
    router.add("GET", base + "/{id}/report", report_json, report)
    router.add("GET", base + "/{id}/report.csv", report_csv, report)
    router.add("GET", base + "/{id}/image", staff_image, report)
    for path in (base, base + "/preview", base + "/{id}"):
        limit_body(app, path, MAX_FORM_BYTES)
    app.router.add_get("/notices/{id}/image", public_image)


def _summary(notice: Notice) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.astimezone(TOKYO).isoformat(timespec="seconds") if value else None

    return {
        "id": notice.id,
        "title": notice.content.title,
        "category": notice.content.category,
        "topic": notice.content.topic,
        "state": notice.state,
        "state_label": STATE_LABELS.get(notice.state, notice.state),
        "created_by": notice.created_by,
        "created_at": when(notice.created_at),
        "updated_by": notice.updated_by,
        "approved_by": notice.approved_by,
        "approved_at": when(notice.approved_at),
        "send_at": when(notice.send_at or notice.content.send_at),
        "expires_at": when(notice.expires_at or notice.content.expires_at),
        "cancelled_by": notice.cancelled_by,
        "recipients": notice.queued_total,
        "list_count": notice.list_count,
    }


def _phone(content: Any, rendering: Any, policy: Any, notice: Notice | None) -> dict[str, Any]:
    """What the phones will show: the SMS exactly, its segments and cost, the card."""
    card = None
    if content.card is not None:
        image = None
        if notice is not None and notice.has_image:
            image = f"/staff/api/notices/{notice.id}/image"
        card = {
            "title": content.card.title,
            "description": content.card.description,
            "text": rendering.rcs_text,
            "image_url": image,
            "buttons": [vars(b) for b in content.card.buttons],
        }
    return {
        "sms": rendering.sms_text,
        "characters": len(rendering.sms_text),
        "max_characters": policy.max_chars,
        "segments": rendering.segments,
        "max_segments": policy.max_segments,
        "per_sms_yen": rendering.segments * policy.segment_cost_yen,
        "rcs_text": rendering.rcs_text,
        "choices": list(rendering.suggestions),
        "card": card,
    }
