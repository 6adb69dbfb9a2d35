"""Admins only: staff accounts and the audit log.

GET  /staff/api/accounts                    every account
POST /staff/api/accounts                    {"name", "role"}: prints a one-time password
POST /staff/api/accounts/{name}/disable     switch off (sessions end at once)
POST /staff/api/accounts/{name}/enable
POST /staff/api/accounts/{name}/reset       a new one-time password, second factor removed
POST /staff/api/accounts/{name}/role        {"role"}
GET  /staff/api/audit                       ?actor&action&resident&since&until&before
GET  /staff/api/audit/export.csv            the same filters, every matching entry
POST /staff/api/audit/verify                check the whole chain
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot import audit as audit_log
from bot.clock import TOKYO
from bot.simulator import json_response
from bot.staff import accounts
from bot.staff.accounts import AccountError
from bot.staff.guard import StaffRouter, needs, problem, read_body, staff_of
from bot.staff.roles import LABELS, Permission, Role, parse_role
from bot.store.console import ConsoleWork
from bot.store.records import AuditFilter, StaffAccount

AUDIT_PAGE = 100
EXPORT_LIMIT = 100_000


def account_json(account: StaffAccount, now: datetime) -> dict[str, Any]:
    def jst(when: datetime | None) -> str | None:
        return when.astimezone(TOKYO).isoformat(timespec="seconds") if when else None

    return {
        "name": account.name,
        "role": account.role,
        "role_label": LABELS[Role(account.role)],
        "disabled": account.disabled,
        "locked": accounts.lock_state(account, now) is not None,
        "totp_enabled": account.totp_enabled,
        "password_temporary": account.password_temporary,
        "created_at": jst(account.created_at),
        "last_login_at": jst(account.last_login_at),
    }


def audit_filter(query: Any) -> AuditFilter:
    """?actor, ?action (a prefix), ?resident, ?since and ?until (JST dates, inclusive)."""

    def day(name: str) -> date | None:
        raw = query.get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise AccountError(
                f"{name} must be YYYY-MM-DD", "日付は YYYY-MM-DD の形で入力してください。"
            ) from None

    since, until = day("since"), day("until")
    return AuditFilter(
        actor=query.get("actor") or None,
        action=query.get("action") or None,
        resident_id=query.get("resident") or None,
        since=jst_day(since),
        until=jst_day(until + timedelta(days=1)) if until else None,
    )


def jst_day(day: date | None) -> datetime | None:
    """The start of a day in Japan."""
    return datetime.combine(day, time(), TOKYO) if day else None


def add_admin_routes(router: StaffRouter) -> None:
    deps = router.deps
    manage = needs(Permission.ACCOUNTS)
    read_audit = needs(Permission.AUDIT)

    def refused(error: AccountError) -> web.Response:
        return problem(400, error.error, error.message)

    async def list_accounts(request: web.Request) -> web.StreamResponse:
        now = deps.now()
        rows = await deps.reading(lambda work: work.accounts.all())
        return json_response({"accounts": [account_json(a, now) for a in rows]})

    async def create(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        name, role_text = body.get("name"), body.get("role")
        try:
            if not isinstance(name, str) or not isinstance(role_text, str):
                raise AccountError(
                    "'name' and 'role' are required", "名前と権限を入力してください。"
                )
            accounts.check_name(name)
            role = parse_role(role_text)
        except AccountError as error:
            return refused(error)
        except ValueError as error:
            return refused(AccountError(str(error), "権限を選んでください。"))
        password = accounts.one_time_password()
        password_hash = await asyncio.to_thread(deps.creds.hash, password)
        now = deps.now()

        def write(work: ConsoleWork) -> accounts.NewPassword:
            return accounts.create_account(
                work,
                deps.creds,
                deps.config,
                deps.audit(work, now),
                staff.name,
                name,
                role,
                now,
                password_hash=password_hash,
                password=password,
            )

        try:
            made = await deps.in_store(write)
        except AccountError as error:
            return refused(error)
        return json_response(
            {
                "account": account_json(made.account, now),
                "password": made.password,
                "expires_at": made.expires_at.astimezone(TOKYO).isoformat(timespec="minutes"),
            },
            status=201,
        )

    def switch(disabled: bool):
        async def handle(request: web.Request) -> web.StreamResponse:
            staff = staff_of(request)
            name = request.match_info["name"]
            now = deps.now()

            def write(work: ConsoleWork) -> StaffAccount:
                audit = deps.audit(work, now)
                return accounts.set_disabled(work, audit, staff.name, name, disabled, now)

            try:
                account = await deps.in_store(write)
            except AccountError as error:
                return refused(error)
            return json_response({"account": account_json(account, now)})

        handle.__name__ = "disable" if disabled else "enable"
        return handle

    async def reset(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        name = request.match_info["name"]
        password = accounts.one_time_password()
        password_hash = await asyncio.to_thread(deps.creds.hash, password)
        now = deps.now()

        def write(work: ConsoleWork) -> accounts.NewPassword:
            return accounts.reset_account(
                work,
                deps.config,
                deps.audit(work, now),
                staff.name,
                name,
                password,
                password_hash,
                now,
            )

        try:
            made = await deps.in_store(write)
        except AccountError as error:
            return refused(error)
        return json_response(
            {
                "account": account_json(made.account, now),
                "password": made.password,
                "expires_at": made.expires_at.astimezone(TOKYO).isoformat(timespec="minutes"),
            }
        )

    async def set_role(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        name = request.match_info["name"]
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            role = parse_role(str(body.get("role")))
        except ValueError as error:
            return refused(AccountError(str(error), "権限を選んでください。"))
        now = deps.now()

        def write(work: ConsoleWork) -> StaffAccount:
            return accounts.change_role(work, deps.audit(work, now), staff.name, name, role, now)

        try:
            account = await deps.in_store(write)
        except AccountError as error:
            return refused(error)
        return json_response({"account": account_json(account, now)})

    async def audit_entries(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        try:
            where = audit_filter(request.query)
            before = int(request.query.get("before") or 0) or None
        except AccountError as error:
            return refused(error)
        except ValueError:
            return refused(
                AccountError("'before' must be a number", "ページの指定が正しくありません。")
            )
        now = deps.now()

        def read(work: ConsoleWork) -> list[audit_log.AuditEntry]:
            rows = work.audit.search(where, before, AUDIT_PAGE + 1)
            # Reading the log is itself recorded (after the page is read: not in it).
            deps.audit(work, now).record(staff.name, "audit.viewed", detail=_filters(where))
            return [audit_log.AuditEntry.from_row(row) for row in rows]

        entries = await deps.in_store(read)
        more = len(entries) > AUDIT_PAGE
        entries = entries[:AUDIT_PAGE]
        return json_response(
            {
                "entries": [entry.to_json() for entry in entries],
                "before": entries[-1].seq if more else None,
                "labels": audit_log.ACTION_LABELS,
            }
        )

    async def export(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        try:
            where = audit_filter(request.query)
        except AccountError as error:
            return refused(error)
        now = deps.now()

        def read(work: ConsoleWork) -> str:
            rows = work.audit.search(where, None, EXPORT_LIMIT)
            deps.audit(work, now).record(
                staff.name, "audit.exported", detail={**_filters(where), "entries": len(rows)}
            )
            return audit_log.to_csv(audit_log.AuditEntry.from_row(r) for r in reversed(rows))

        text = await deps.in_store(read)
        stamp = now.astimezone(TOKYO).strftime("%Y%m%d-%H%M")
        return web.Response(
            text=text,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )

    async def verify(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        now = deps.now()

        def check(work: ConsoleWork) -> audit_log.Verification:
            result = audit_log.verify(work.audit, deps.chain)
            deps.audit(work, now).record(
                staff.name,
                "audit.verified",
                detail={"checked": result.checked, "ok": result.ok},
            )
            return result

        result = await deps.in_store(check)
        return json_response(
            {"ok": result.ok, "checked": result.checked, "problems": result.problems}
        )

    router.add("GET", "/staff/api/accounts", list_accounts, manage)
    router.add("POST", "/staff/api/accounts", create, manage)
    router.add("POST", "/staff/api/accounts/{name}/disable", switch(True), manage)
    router.add("POST", "/staff/api/accounts/{name}/enable", switch(False), manage)
    router.add("POST", "/staff/api/accounts/{name}/reset", reset, manage)
    router.add("POST", "/staff/api/accounts/{name}/role", set_role, manage)
    router.add("GET", "/staff/api/audit", audit_entries, read_audit)
    router.add("GET", "/staff/api/audit/export.csv", export, read_audit)
    router.add("POST", "/staff/api/audit/verify", verify, read_audit)


def _filters(where: AuditFilter) -> dict[str, str]:
    """The filter as the audit entry of reading the log keeps it (times in UTC)."""
    return {
        k: v.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(v, datetime) else v
        for k, v in vars(where).items()
        if v
    }
