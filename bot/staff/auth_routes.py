"""Signing in and out, the first-login password change and the TOTP enrolment.

GET  /staff/api/session            who is signed in (public: the page asks first)
POST /staff/api/session            {"name", "password"}
POST /staff/api/session/totp       {"code"}
POST /staff/api/session/logout
POST /staff/api/password           {"current", "new"}
POST /staff/api/totp/setup         a new secret, its otpauth URI and QR code (shown once)
POST /staff/api/totp/confirm       {"code"} from the app: the second factor is on
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime

import segno
from aiohttp import web

from bot.simulator import json_response
from bot.staff import accounts, login, sessions
from bot.staff.accounts import (
    STAGE_CHANGE_PASSWORD,
    STAGE_ENROL_TOTP,
    STAGE_READY,
    STAGE_TOTP,
)
from bot.staff.guard import (
    ANY_STAGE,
    PUBLIC,
    StaffDeps,
    StaffRouter,
    during,
    problem,
    read_body,
    staff_of,
)
from bot.staff.roles import LABELS, PERMISSIONS, TOTP_REQUIRED, Role
from bot.store.console import ConsoleWork
from bot.store.records import StaffAccount, StaffSession


def describe(account: StaffAccount) -> dict:
    role = Role(account.role)
    return {
        "name": account.name,
        "role": role.value,
        "role_label": LABELS[role],
        "totp_enabled": account.totp_enabled,
        "totp_required": role in TOTP_REQUIRED,
        "permissions": sorted(p.value for p in PERMISSIONS[role]),
    }


def signed_in(
    deps: StaffDeps, session_id: str, stage: str, account: StaffAccount, status: int = 200
) -> web.Response:
    """The answer to a step of signing in: the new session's cookie, stage and CSRF token."""
    id_hash = sessions.hash_id(session_id)
    response = json_response(
        {
            "signed_in": True,
            "stage": stage,
            "account": describe(account),
            "csrf": sessions.csrf_token(deps.config, id_hash),
        },
        status=status,
    )
    sessions.set_cookie(response, deps.config, session_id)
    return response


def too_many(deps: StaffDeps, until: datetime, now: datetime) -> web.Response:
    deps.metrics.refused.labels("locked").inc()
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    response = problem(
        429,
        "too many failed attempts; try again later",
        f"失敗が続いたため、ログインを一時停止しています。{minutes}分後にもう一度お試しください。",
    )
    response.headers["Retry-After"] = str(max(1, math.ceil((until - now).total_seconds())))
    return response


def refused(deps: StaffDeps, outcome: login.Outcome, factor: str) -> web.Response:
    deps.metrics.login_failures.labels(factor).inc()
    for scope in outcome.locked or []:
        deps.metrics.lockouts.labels(scope).inc()
    return problem(401, "sign-in failed", outcome.message)


def add_auth_routes(router: StaffRouter) -> None:
    deps = router.deps
    config = deps.config

    async def session_info(request: web.Request) -> web.StreamResponse:
        session_id = sessions.session_id_of(request, config)

        def read(work: ConsoleWork) -> tuple[sessions.Loaded, int]:
            loaded = sessions.load(work, config, session_id, deps.now())
            return loaded, work.accounts.count()

        loaded, active_accounts = await deps.in_store(read)
        if loaded.session is None:
            return json_response(
                {
                    "signed_in": False,
                    "setup_needed": active_accounts == 0,
                    "expired": loaded.expired,
                }
            )
        session = loaded.session
        return json_response(
            {
                "signed_in": True,
                "stage": session.stage,
                "account": describe(session.account),
                "csrf": sessions.csrf_token(config, session.id_hash),
            }
        )

    async def sign_in(request: web.Request) -> web.StreamResponse:
        # JSON only: a form another site posts (no preflight) is not even read.
        if request.content_type != "application/json":
            return problem(415, "send JSON", "送信内容を読み取れませんでした。")
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not password:
            return problem(
                400,
                "'name' and 'password' are required",
                "アカウント名とパスワードを入力してください。",
            )
        client = sessions.client_address(request, config)
        now = deps.now()
        gate = await deps.in_store(login.begin_attempt, config, client, name.strip(), now)
        if gate.locked_until is not None:
            return too_many(deps, gate.locked_until, now)
        if gate.account is None:  # answered exactly as an account's name would be
            unknown = deps.unknown_names
            if (until := unknown.locked_until(name.strip(), now)) is not None:
                return too_many(deps, until, now)
            unknown.count_failure(name.strip(), config.lock_account_after, now + config.lock_for)
        known = gate.account.password_hash if gate.account is not None else None
        ok = await asyncio.to_thread(deps.creds.verify, known, password)

        def finish(work: ConsoleWork) -> login.Outcome:
            return login.finish_password(work, config, deps.audit(work, now), client, gate, ok, now)

        outcome = await deps.in_store(finish)
        if not outcome.ok:
            return refused(deps, outcome, "password")
        assert outcome.session_id and outcome.stage and outcome.account
        return signed_in(deps, outcome.session_id, outcome.stage, outcome.account)

    async def second_factor(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        code = body.get("code")
        if not isinstance(code, str):
            return problem(400, "'code' is required", "確認コードを入力してください。")
        client = sessions.client_address(request, config)
        now = deps.now()
        gate = await deps.in_store(login.begin_attempt, config, client, staff.name, now)
        if gate.locked_until is not None:
            return too_many(deps, gate.locked_until, now)

        def finish(work: ConsoleWork) -> login.Outcome:
            return login.finish_totp(
                work, config, deps.creds, deps.audit(work, now), client, staff.session, code, now
            )

        outcome = await deps.in_store(finish)
        if not outcome.ok:
            return refused(deps, outcome, "totp")
        assert outcome.session_id and outcome.stage and outcome.account
        return signed_in(deps, outcome.session_id, outcome.stage, outcome.account)

    async def sign_out(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)

        def end(work: ConsoleWork) -> None:
            work.sessions.end(staff.session.id_hash)
            deps.audit(work, deps.now()).record(staff.name, "logout.ok", subject=staff.name)

        await deps.in_store(end)
        response = json_response({"signed_in": False})
        sessions.clear_cookie(response, config)
        return response

    async def change_password(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        current, new = body.get("current"), body.get("new")
        if not isinstance(current, str) or not isinstance(new, str):
            return problem(
                400,
                "'current' and 'new' are required",
                "今のパスワードと新しいパスワードを入力してください。",
            )
        reason = accounts.password_problem(staff.name, new, current)
        if reason:
            return problem(400, "the new password is not acceptable", reason)
        client = sessions.client_address(request, config)
        now = deps.now()
        gate = await deps.in_store(login.begin_attempt, config, client, staff.name, now)
        if gate.locked_until is not None:
            return too_many(deps, gate.locked_until, now)
        account = gate.account or staff.account
        ok = await asyncio.to_thread(deps.creds.verify, account.password_hash, current)
        new_hash = await asyncio.to_thread(deps.creds.hash, new) if ok else ""

        def write(work: ConsoleWork) -> login.Outcome:
            audit = deps.audit(work, now)
            if not ok:
                return login.failed(
                    work,
                    config,
                    audit,
                    client,
                    account,
                    "password",
                    now,
                    "wrong",
                    "今のパスワードが違います。",
                )
            work.accounts.signed_in(account.id, now)
            work.sign_ins.forgive(client, config.lock_client_after)
            work.accounts.set_password(account.id, new_hash, False, None, now)
            work.sessions.end_all(account.id)  # everywhere else is signed out
            fresh = work.accounts.by_id(account.id)
            assert fresh is not None
            stage = accounts.next_stage(fresh, STAGE_CHANGE_PASSWORD)
            session_id = sessions.start(work, fresh, stage, now)
            audit.record(staff.name, "password.changed", subject=staff.name)
            return login.Outcome(True, session_id=session_id, stage=stage, account=fresh)

        outcome = await deps.in_store(write)
        if not outcome.ok:
            return refused(deps, outcome, "password")
        assert outcome.session_id and outcome.stage and outcome.account
        return signed_in(deps, outcome.session_id, outcome.stage, outcome.account)

    async def totp_setup(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        secret = accounts.new_totp_secret()
        sealed = deps.creds.seal_totp(secret)

        def write(work: ConsoleWork) -> bool:
            account = work.accounts.by_id(staff.account.id)
            if account is None or account.totp_enabled:
                return False
            work.accounts.set_totp(account.id, sealed, False, deps.now())
            return True

        if not await deps.in_store(write):
            return problem(
                409, "two-step verification is already on", "2段階認証はすでに設定されています。"
            )
        uri = accounts.provisioning_uri(secret, staff.name)
        qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
        # Shown once: the secret is stored only encrypted and never sent again.
        return json_response({"secret": secret, "uri": uri, "qr": qr})

    async def totp_confirm(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        code = body.get("code")
        if not isinstance(code, str):
            return problem(400, "'code' is required", "確認コードを入力してください。")
        now = deps.now()

        def write(work: ConsoleWork) -> tuple[str, str | None, StaffAccount | None]:
            account = work.accounts.by_id(staff.account.id)
            assert account is not None
            if account.totp_enabled:
                return "already", None, None
            step = deps.creds.totp_step(account.totp_secret, code, now)
            if step is None:
                return "wrong", None, None
            work.accounts.set_totp(account.id, account.totp_secret, True, now)
            work.accounts.use_totp_step(account.id, step)
            fresh = work.accounts.by_id(account.id)
            assert fresh is not None
            deps.audit(work, now).record(staff.name, "totp.enrolled", subject=staff.name)
            session: StaffSession = staff.session
            stage = STAGE_READY if session.stage == STAGE_ENROL_TOTP else session.stage
            return "ok", sessions.advance(work, session, fresh, stage, now), fresh

        result, session_id, fresh = await deps.in_store(write)
        if result == "already":
            return problem(
                409, "two-step verification is already on", "2段階認証はすでに設定されています。"
            )
        if result == "wrong" or session_id is None or fresh is None:
            return problem(
                400,
                "wrong code",
                "確認コードが違います。アプリに表示されている6桁の数字を入力してください。",
            )
        stage = STAGE_READY if staff.session.stage == STAGE_ENROL_TOTP else staff.session.stage
        return signed_in(deps, session_id, stage, fresh)

    router.add("GET", "/staff/api/session", session_info, PUBLIC)
    router.add("POST", "/staff/api/session", sign_in, PUBLIC)
    router.add("POST", "/staff/api/session/totp", second_factor, during(STAGE_TOTP))
    router.add("POST", "/staff/api/session/logout", sign_out, ANY_STAGE)
    router.add(
        "POST",
        "/staff/api/password",
        change_password,
        during(STAGE_CHANGE_PASSWORD, STAGE_READY),
    )
    router.add("POST", "/staff/api/totp/setup", totp_setup, during(STAGE_ENROL_TOTP, STAGE_READY))
    router.add(
        "POST", "/staff/api/totp/confirm", totp_confirm, during(STAGE_ENROL_TOTP, STAGE_READY)
    )
