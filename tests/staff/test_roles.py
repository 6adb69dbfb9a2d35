"""Every /staff route against every kind of caller: nobody, a login still in progress,
and each role. A route answers only those its registration allows (the domain spec's
"Staff roles"); a /staff route registered any other way does not answer at all."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp import web

from bot.app import PIPELINE
from bot.staff import sessions
from bot.staff.accounts import STAGE_CHANGE_PASSWORD, STAGE_READY, STAGE_TOTP
from bot.staff.roles import ROLE_ORDER, Permission, Role, may
from tests.staff.helpers import make_account, on_db, router_of, staff_app

NUMBER = "+819012340099"

# Who calls: (label, role of the account or None, stage of its session).
CALLERS = [
    ("anonymous", None, None),
    ("operator signing in (password to change)", Role.OPERATOR, STAGE_CHANGE_PASSWORD),
    ("admin signing in (code still needed)", Role.ADMIN, STAGE_TOTP),
    *[(f"{role.value}", role, STAGE_READY) for role in ROLE_ORDER],
]


async def resident_with_booking(client) -> tuple[str, str]:
    """A resident in staff's hands (an open case) with a booking: ids for the URLs."""
    await client.post("/sim/messages", json={"from": NUMBER, "text": "こんにちは"})

    def seed(db):
        rid = db.execute("SELECT id FROM residents").fetchone()[0]
        db.execute(
            "INSERT INTO bookings (receipt, resident_id, district, town, collection_date, items,"
            " item_count, fee_total, status, created_at, updated_at) VALUES ('ABCD2345', ?, '北',"
            " '北町', '2026-03-23', '[]', 1, 500, 'booked', 'x', 'x')",
            [rid],
        )
        return rid

    rid = await on_db(client.app, seed)
    now = client.app[PIPELINE].clock.now()
    await router_of(client.app).deps.console.write(lambda work: work.cases.open(rid, now, "lookup"))
    return rid, "ABCD2345"


def concrete(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def open_session(client, name: str, stage: str) -> dict[str, str]:
    """A session straight in the store (signing in is tested elsewhere): its headers."""
    deps = router_of(client.app).deps

    def write(work):
        account = work.accounts.by_name(name)
        return sessions.start(work, account, stage, deps.now())

    session_id = await deps.console.write(write)
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"sakura_staff": session_id})
    return {"X-CSRF-Token": sessions.csrf_token(deps.config, sessions.hash_id(session_id))}


def allowed(access, role: Role | None, stage: str | None) -> bool:
    if access.public:
        return True
    if role is None or stage not in access.stages:
        return False
    return access.permission is None or may(role.value, access.permission)


async def test_every_staff_route_is_registered_with_its_access(client):
    table = router_of(client.app).routes
    registered = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and (route.resource.canonical == "/staff" or route.resource.canonical.startswith("/staff/"))
        and route.method != "HEAD"
    }
    assert registered == set(table)
    assert len(table) >= 30


async def test_each_route_answers_only_the_callers_it_allows(client):
    table = router_of(client.app).routes
    rid, receipt = await resident_with_booking(client)
    for label, role, _ in CALLERS:
        if role is not None:
            await make_account(client.app, f"who-{role.value}-{len(label)}", role, totp=False)
    await make_account(client.app, "target", Role.OPERATOR)
    values = {"rid": rid, "receipt": receipt, "name": "target", "id": "NAAAAAAA"}
    checked, refused = 0, 0
    for (method, path), access in sorted(table.items()):
        for label, role, stage in CALLERS:
            client.session.cookie_jar.clear()
            headers = {}
            if role is not None:
                headers = await open_session(client, f"who-{role.value}-{len(label)}", stage)
            response = await client.request(
                method,
                concrete(path, values),
                json={} if method == "POST" else None,
                headers=headers,
                allow_redirects=False,
            )
            expected = allowed(access, role, stage)
            if expected:
                assert response.status not in (401, 403), (method, path, label, response.status)
            else:
                refused += 1
                want = 401 if role is None else 403
                assert response.status == want, (method, path, label, response.status)
            checked += 1
    assert checked == len(table) * len(CALLERS)
    print(
        f"route x caller matrix: {len(table)} routes x {len(CALLERS)} callers = {checked}"
        f" checks, {refused} refusals"
    )


@pytest.mark.parametrize(
    "role,permission,expected",
    [
        (Role.OPERATOR, Permission.CONVERSATIONS, True),
        (Role.OPERATOR, Permission.NOTICES_DRAFT, False),
        (Role.OPERATOR, Permission.AUDIT, False),
        (Role.EDITOR, Permission.NOTICES_DRAFT, True),
        (Role.EDITOR, Permission.NOTICES_REPORT, True),
        (Role.EDITOR, Permission.NOTICES_APPROVE, False),
        (Role.APPROVER, Permission.NOTICES_APPROVE, True),
        (Role.APPROVER, Permission.CONVERSATIONS, True),
        (Role.APPROVER, Permission.ACCOUNTS, False),
        (Role.ADMIN, Permission.ACCOUNTS, True),
        (Role.ADMIN, Permission.AUDIT, True),
        (Role.ADMIN, Permission.NOTICES_APPROVE, True),
    ],
)
def test_roles_are_the_domain_specs(role, permission, expected):
    """operator < editor < approver < admin, each with what the one before may do."""
    assert may(role.value, permission) is expected


async def test_a_staff_route_added_behind_the_routers_back_does_not_answer(
    aiohttp_client, tmp_path, monkeypatch, clock
):
    app = staff_app(tmp_path, monkeypatch, clock)

    async def sneaky(request: web.Request) -> web.Response:
        return web.json_response({"residents": "everything"})

    app.router.add_get("/staff/api/sneaky", sneaky)
    client = await aiohttp_client(app)
    assert (await client.get("/staff/api/sneaky")).status == 404


async def test_a_refused_action_is_audited(client, clock):
    await make_account(client.app, "op", Role.OPERATOR)
    headers = await open_session(client, "op", STAGE_READY)
    response = await client.get("/staff/api/audit", headers=headers)
    assert response.status == 403
    assert "権限" in (await response.json())["message"]

    def read(db):
        return db.execute(
            "SELECT actor, action, detail FROM audit_log ORDER BY seq DESC"
        ).fetchone()

    actor, action, detail = await on_db(client.app, read)
    assert (actor, action) == ("op", "access.denied") and "/staff/api/audit" in detail
    clock.advance(timedelta(seconds=1))
