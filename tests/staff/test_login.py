"""Signing in over real loopback HTTP: one-time passwords changed at first login, TOTP for
approvers and admins, sessions in hardened cookies with idle and absolute timeouts,
CSRF on every change, Host/Origin checks, lockout and 429 after failures."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

import pyotp
import pytest

from bot.app import PIPELINE
from bot.staff.roles import Role
from tests.staff.helpers import (
    FIRST_PASSWORD,
    PASSWORD,
    fresh_clock,
    make_account,
    on_db,
    router_of,
    sign_in,
    staff_app,
    totp_code,
)

SESSION = "/staff/api/session"
NEW_PASSWORD = "a-brand-new-passphrase-42"


async def rows(client, sql: str, params=()) -> list[tuple]:
    def read(db):
        return db.execute(sql, list(params)).fetchall()

    return await on_db(client.app, read)


async def audit_actions(client) -> list[tuple]:
    return [
        (r[0], r[1]) for r in await rows(client, "SELECT actor, action FROM audit_log ORDER BY seq")
    ]


async def metric(client, name: str, **labels) -> float:
    value = client.app[PIPELINE].metrics.registry.get_sample_value(name, labels)
    return value or 0.0


# ---- first sign-in ---------------------------------------------------------------------------


async def test_first_sign_in_changes_the_one_time_password_then_sets_up_totp(client, clock):
    member = await make_account(
        client.app, "sato", Role.ADMIN, password=FIRST_PASSWORD, ready=False
    )
    response = await client.post(SESSION, json={"name": "sato", "password": FIRST_PASSWORD})
    body = await response.json()
    assert response.status == 200 and body["stage"] == "change_password"
    csrf = body["csrf"]

    # Nothing else is open until the password is changed.
    assert (await client.get("/staff/api/conversations")).status == 403
    weak = await client.post(
        "/staff/api/password",
        json={"current": FIRST_PASSWORD, "new": "short"},
        headers={"X-CSRF-Token": csrf},
    )
    assert weak.status == 400 and "12文字以上" in (await weak.json())["message"]
    response = await client.post(
        "/staff/api/password",
        json={"current": FIRST_PASSWORD, "new": NEW_PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    body = await response.json()
    assert response.status == 200 and body["stage"] == "enrol_totp"  # an admin needs TOTP
    assert body["csrf"] != csrf  # a new session at every step
    csrf = body["csrf"]
    assert (await client.get("/staff/api/conversations")).status == 403

    setup = await client.post("/staff/api/totp/setup", headers={"X-CSRF-Token": csrf})
    enrol = await setup.json()
    assert setup.status == 200
    assert enrol["uri"].startswith("otpauth://totp/") and enrol["secret"] in enrol["uri"]
    assert enrol["qr"].startswith("data:image/svg+xml")
    wrong = await client.post(
        "/staff/api/totp/confirm", json={"code": "000000"}, headers={"X-CSRF-Token": csrf}
    )
    assert wrong.status == 400
    response = await client.post(
        "/staff/api/totp/confirm",
        json={"code": totp_code(enrol["secret"], clock)},
        headers={"X-CSRF-Token": csrf},
    )
    body = await response.json()
    assert response.status == 200 and body["stage"] == "ready"
    assert (await client.get("/staff/api/conversations")).status == 200

    # The secret was shown once: it is stored only encrypted.
    [(sealed,)] = await rows(client, "SELECT totp_secret FROM staff_accounts WHERE name='sato'")
    assert enrol["secret"].encode() not in sealed
    # The next sign-in asks for the code, and the old one-time password is gone.
    member.password, member.totp_secret = NEW_PASSWORD, enrol["secret"]
    await sign_in(client, member, clock)
    assert [a for _, a in await audit_actions(client)] == [
        "account.created",
        "login.ok",
        "password.changed",
        "totp.enrolled",
        "login.ok",
        "login.ok",
    ]


async def test_an_operator_may_skip_totp_and_set_it_up_later(client, clock):
    await make_account(client.app, "ito", Role.OPERATOR, password=FIRST_PASSWORD, ready=False)
    body = await (
        await client.post(SESSION, json={"name": "ito", "password": FIRST_PASSWORD})
    ).json()
    response = await client.post(
        "/staff/api/password",
        json={"current": FIRST_PASSWORD, "new": NEW_PASSWORD},
        headers={"X-CSRF-Token": body["csrf"]},
    )
    body = await response.json()
    assert body["stage"] == "ready" and body["account"]["totp_required"] is False
    setup = await (
        await client.post("/staff/api/totp/setup", headers={"X-CSRF-Token": body["csrf"]})
    ).json()
    response = await client.post(
        "/staff/api/totp/confirm",
        json={"code": totp_code(setup["secret"], clock)},
        headers={"X-CSRF-Token": body["csrf"]},
    )
    assert response.status == 200 and (await response.json())["account"]["totp_enabled"]
    again = await client.post(SESSION, json={"name": "ito", "password": NEW_PASSWORD})
    assert (await again.json())["stage"] == "totp"


async def test_a_one_time_password_expires(client, clock):
    await make_account(client.app, "late", Role.OPERATOR, password=FIRST_PASSWORD, ready=False)
    clock.advance(timedelta(hours=73))
    response = await client.post(SESSION, json={"name": "late", "password": FIRST_PASSWORD})
    assert response.status == 401
    assert "有効期限" in (await response.json())["message"]


# ---- TOTP ------------------------------------------------------------------------------------


async def test_totp_codes_are_checked_and_never_accepted_twice(client, clock):
    member = await make_account(client.app, "kato", Role.APPROVER)
    body = await (await client.post(SESSION, json={"name": "kato", "password": PASSWORD})).json()
    assert body["stage"] == "totp"
    csrf = body["csrf"]
    assert (await client.get("/staff/api/conversations")).status == 403  # not yet
    code = totp_code(member.totp_secret, clock)
    ok = await client.post(
        "/staff/api/session/totp", json={"code": code}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status == 200
    # The same code again, from another sign-in within its 30 seconds: refused.
    body = await (await client.post(SESSION, json={"name": "kato", "password": PASSWORD})).json()
    replay = await client.post(
        "/staff/api/session/totp", json={"code": code}, headers={"X-CSRF-Token": body["csrf"]}
    )
    assert replay.status == 401
    # A code a step early or late (phones drift) is accepted; two steps off is not.
    totp = pyotp.TOTP(member.totp_secret)
    clock.advance(timedelta(minutes=5))
    stale = totp.at(clock.now() - timedelta(seconds=60))
    r = await client.post(
        "/staff/api/session/totp", json={"code": stale}, headers={"X-CSRF-Token": body["csrf"]}
    )
    assert r.status == 401
    drifted = totp.at(clock.now() - timedelta(seconds=30))
    r = await client.post(
        "/staff/api/session/totp", json={"code": drifted}, headers={"X-CSRF-Token": body["csrf"]}
    )
    assert r.status == 200


# ---- sessions --------------------------------------------------------------------------------


async def test_the_session_cookie_is_hardened_and_stored_only_hashed(client, clock):
    member = await make_account(client.app, "suzuki", Role.OPERATOR)
    response = await client.post(SESSION, json={"name": member.name, "password": PASSWORD})
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Secure" not in header  # plain http on loopback (development)
    value = response.cookies["sakura_staff"].value
    stored = [r[0] for r in await rows(client, "SELECT id_hash FROM staff_sessions")]
    assert stored == [hashlib.sha256(value.encode()).hexdigest()]
    assert value not in json.dumps(await rows(client, "SELECT * FROM staff_sessions"))


async def test_over_https_the_cookie_is_secure_with_the_host_prefix(
    aiohttp_client, tmp_path, monkeypatch
):
    clock = fresh_clock()
    app = staff_app(tmp_path, monkeypatch, clock, public_url="https://bot.city.sakura.example.jp")
    client = await aiohttp_client(app)
    await make_account(app, "suzuki", Role.OPERATOR)
    response = await client.post(SESSION, json={"name": "suzuki", "password": PASSWORD})
    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-sakura_staff=") and "Secure" in header
    csrf = (await response.json())["csrf"]
    session = response.cookies["__Host-sakura_staff"].value  # the jar keeps Secure off http
    out = await client.post(
        "/staff/api/session/logout",
        headers={
            "X-CSRF-Token": csrf,
            "Origin": "https://bot.city.sakura.example.jp",
            "Cookie": f"__Host-sakura_staff={session}",
        },
    )
    assert out.status == 200
    cleared = out.headers["Set-Cookie"]  # a browser drops a __Host- deletion without Secure
    assert cleared.startswith("__Host-sakura_staff=") and "Max-Age=0" in cleared
    assert "Secure" in cleared


async def test_idle_and_absolute_timeouts_end_a_session(client, clock):
    member = await make_account(client.app, "abe", Role.OPERATOR)
    await sign_in(client, member, clock)
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/staff/api/conversations")).status == 200
    clock.advance(timedelta(minutes=31))  # 31 minutes without a request
    response = await client.get("/staff/api/conversations")
    assert response.status == 401 and "一定時間" in (await response.json())["message"]

    await sign_in(client, member, clock)
    for _ in range(25):  # busy all day: every 29 minutes for 12 hours and more
        clock.advance(timedelta(minutes=29))
        status = (await client.get("/staff/api/conversations")).status
        if status == 401:
            break
    assert status == 401
    assert not await rows(client, "SELECT 1 FROM staff_sessions")  # deleted, not just refused


async def test_logout_ends_the_session_and_a_disabled_account_is_out_at_once(
    client, clock, browsers
):
    admin = await make_account(client.app, "admin1", Role.ADMIN)
    operator = await make_account(client.app, "mori", Role.OPERATOR)
    signed = await sign_in(client, operator, clock)
    response = await signed.post("/staff/api/session/logout")
    assert response.status == 200
    assert (await client.get("/staff/api/conversations")).status == 401

    signed = await sign_in(client, operator, clock)
    boss = await sign_in(await browsers(), admin, clock)
    assert (await boss.post("/staff/api/accounts/mori/disable")).status == 200
    assert (await client.get("/staff/api/conversations")).status == 401
    login = await client.post(SESSION, json={"name": "mori", "password": PASSWORD})
    assert login.status == 401 and "停止" in (await login.json())["message"]


# ---- CSRF, Host and Origin -------------------------------------------------------------------


async def test_every_change_needs_the_csrf_token(client, clock):
    member = await make_account(client.app, "csrf", Role.OPERATOR)
    signed = await sign_in(client, member, clock)
    response = await client.post("/staff/api/session/logout")  # no header
    assert response.status == 403
    response = await client.post("/staff/api/session/logout", headers={"X-CSRF-Token": "x" * 64})
    assert response.status == 403
    assert (await client.get("/staff/api/conversations")).status == 200  # still signed in
    assert (await signed.post("/staff/api/session/logout")).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:8080"},  # DNS rebinding: the attacker's name, our address
        {"Host": "127.0.0.1.nip.io"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_forged_host_or_origin_is_refused_even_from_loopback(client, clock, headers):
    member = await make_account(client.app, "host", Role.OPERATOR)
    await sign_in(client, member, clock)
    for method, path in (
        ("GET", "/staff/"),
        ("GET", "/staff/api/conversations"),
        ("POST", SESSION),
    ):
        response = await client.request(method, path, headers=headers, json={})
        assert response.status in (403, 421), (path, headers, response.status)
    refused = await metric(client, "bot_staff_refused_total", reason="host") + await metric(
        client, "bot_staff_refused_total", reason="origin"
    )
    assert refused >= 3


async def test_the_configured_public_address_is_accepted(aiohttp_client, tmp_path, monkeypatch):
    clock = fresh_clock()
    public = "https://bot.city.sakura.example.jp"
    client = await aiohttp_client(staff_app(tmp_path, monkeypatch, clock, public_url=public))
    await make_account(client.app, "pub", Role.OPERATOR)
    response = await client.post(
        SESSION,
        json={"name": "pub", "password": PASSWORD},
        headers={"Host": "bot.city.sakura.example.jp", "Origin": public},
    )
    assert response.status == 200


async def test_without_accounts_the_console_says_how_to_make_the_first(client):
    body = await (await client.get(SESSION)).json()
    assert body == {"signed_in": False, "setup_needed": True, "expired": False}
    assert (await client.get("/staff/api/conversations")).status == 401


# ---- guessing --------------------------------------------------------------------------------


async def test_password_guessing_on_one_account_is_stopped_after_five(client, clock, caplog):
    caplog.set_level(logging.INFO)
    await make_account(client.app, "target", Role.ADMIN)
    statuses = []
    for attempt in range(10):
        response = await client.post(
            SESSION, json={"name": "target", "password": f"guess-{attempt}"}
        )
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429] * 5
    assert (await client.post(SESSION, json={"name": "target", "password": "guess-0"})).headers[
        "Retry-After"
    ] == str(15 * 60)
    # Locked means locked: even the right password waits.
    right = await client.post(SESSION, json={"name": "target", "password": PASSWORD})
    assert right.status == 429
    clock.advance(timedelta(minutes=16))
    right = await client.post(SESSION, json={"name": "target", "password": PASSWORD})
    assert right.status == 200

    actions = [a for _, a in await audit_actions(client)]
    assert actions.count("login.failed") == 5 and actions.count("login.locked") == 1
    assert await metric(client, "bot_staff_login_failures_total", factor="password") == 5
    assert await metric(client, "bot_staff_lockouts_total", scope="account") == 1
    assert await metric(client, "bot_staff_refused_total", reason="locked") == 7
    logged = " ".join(
        json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in caplog.records
    )
    assert "staff sign-in failed" in logged
    for secret in ("guess-", PASSWORD):
        assert secret not in logged


async def test_guessing_across_many_names_from_one_address_is_stopped_after_ten(client, clock):
    for index in range(3):
        await make_account(client.app, f"staff{index}", Role.OPERATOR)
    statuses = []
    for attempt in range(14):
        name = f"staff{attempt % 3}" if attempt % 2 else f"nobody{attempt}"
        response = await client.post(SESSION, json={"name": name, "password": "wrong-password-x"})
        statuses.append(response.status)
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    # Unknown names are audited as "unknown": a password typed into the name field stays out.
    actors = {actor for actor, action in await audit_actions(client) if action == "login.failed"}
    assert "unknown" in actors and not any(a.startswith("nobody") for a in actors)


async def test_totp_guessing_is_stopped_too(client, clock):
    await make_account(client.app, "chief", Role.ADMIN)
    body = await (await client.post(SESSION, json={"name": "chief", "password": PASSWORD})).json()
    statuses = []
    for guess in range(8):
        response = await client.post(
            "/staff/api/session/totp",
            json={"code": f"{guess:06d}"},
            headers={"X-CSRF-Token": body["csrf"]},
        )
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429] * 3
    assert await metric(client, "bot_staff_login_failures_total", factor="totp") == 5


async def test_a_right_password_does_not_count_against_the_address(client, clock):
    member = await make_account(client.app, "daily", Role.OPERATOR)
    for _ in range(12):  # a busy morning of sign-ins from the office's one address
        await sign_in(client, member, clock)
    [(failures,)] = await rows(client, "SELECT failures FROM staff_client_failures")
    assert failures == 0


async def test_hashes_are_argon2id(client):
    await make_account(client.app, "hash", Role.OPERATOR)
    [(stored,)] = await rows(client, "SELECT password_hash FROM staff_accounts")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert router_of(client.app).deps.creds.verify(stored, PASSWORD)


async def test_a_form_posted_from_elsewhere_is_not_read(client):
    """Another site can post a plain form without a preflight: sign-in takes JSON only."""
    await make_account(client.app, "formed", Role.OPERATOR)
    response = await client.post(SESSION, data={"name": "formed", "password": PASSWORD})
    assert response.status == 415


async def test_a_right_password_between_guessed_codes_does_not_reset_the_count(client, clock):
    """Password, four wrong codes, password again, … : the codes still add up to a lock."""
    await make_account(client.app, "chief", Role.APPROVER)
    statuses = []
    for _ in range(3):
        login = await client.post(SESSION, json={"name": "chief", "password": PASSWORD})
        if login.status != 200:
            statuses.append(login.status)
            break
        csrf = (await login.json())["csrf"]
        for guess in range(2):
            response = await client.post(
                "/staff/api/session/totp",
                json={"code": f"{guess:06d}"},
                headers={"X-CSRF-Token": csrf},
            )
            statuses.append(response.status)
    assert statuses[:5] == [401] * 5  # five wrong codes in all
    assert statuses[5] == 429  # locked, though the password was right three times
    [(failures,)] = await rows(client, "SELECT failed_logins FROM staff_accounts")
    assert failures >= 5


async def test_a_name_that_is_no_account_answers_as_an_account_would(client, clock):
    """401 five times then 429, whether the name exists or not: the answers tell nobody
    which names are accounts."""
    await make_account(client.app, "target", Role.ADMIN)
    answers = {}
    for name in ("target", "no-such-person"):
        statuses = []
        for attempt in range(7):
            response = await client.post(SESSION, json={"name": name, "password": f"g{attempt}"})
            statuses.append(response.status)
        answers[name] = statuses
        clock.advance(timedelta(minutes=16))  # the address's own window starts again
    assert answers["target"] == [401] * 5 + [429] * 2
    assert answers["no-such-person"] == answers["target"]


@pytest.mark.parametrize(
    "guessable",
    ["password1234", "qwertyuiop12", "123456789012", "sakurasakura2026", "sato12345678"],
)
def test_a_guessable_new_password_is_refused_with_the_reason(guessable):
    from bot.staff.accounts import password_problem

    reason = password_problem("sato", guessable)
    assert reason is not None and "パスワード" in reason


@pytest.mark.parametrize(
    "good", [NEW_PASSWORD, PASSWORD, "correct horse battery staple", "桜並木の朝に走る2026"]
)
def test_a_long_unguessable_password_is_accepted(good):
    from bot.staff.accounts import password_problem

    assert password_problem("sato", good) is None
