"""`bot staff add|list|disable|enable|reset` and `bot audit verify|export`.

They open the database named by BOT_DB / --db, like `bot serve`, and act as the operating
system user running them (`cli:<user>` in the audit log): whoever can run them can read
the database and its key anyway, so they need no account of their own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot import audit as audit_log
from bot.audit import Audit, AuditChain
from bot.clock import TOKYO, Clock
from bot.config import Settings, database_settings
from bot.errors import BotError
from bot.identity import TextVault
from bot.staff import accounts
from bot.staff.accounts import AccountError, Credentials
from bot.staff.config import StaffConfig
from bot.staff.roles import ROLE_ORDER, parse_role
from bot.store import ConsoleWork, Store, open_store
from bot.store.records import AuditFilter, StaffAccount


class StaffCommandError(BotError):
    """Bad input to a staff command (exit 2, one line)."""


DB_HELP = "the database: a file or a postgresql:// URL (default: $BOT_DB, else var/bot.db, as `bot serve`)"


def add_parsers(sub: argparse._SubParsersAction, parser_class: type) -> None:
    roles = "|".join(role.value for role in ROLE_ORDER)
    staff = sub.add_parser("staff", help="staff accounts of the console")
    staff.add_argument("--db", help=DB_HELP)
    commands = staff.add_subparsers(dest="staff_command", required=True, parser_class=parser_class)
    add = commands.add_parser("add", help="create an account; prints a one-time password")
    add.add_argument("name")
    add.add_argument(
        "--role",
        required=True,
        metavar=roles,
        choices=[r.value for r in ROLE_ORDER],
        help="what the account may do (required; no default)",
    )
    listing = commands.add_parser("list", help="accounts and their roles")
    listing.add_argument(
        "--json", action="store_true", help="one JSON object per account (default: a table)"
    )
    for name, text in (
        ("disable", "switch an account off (its sessions end at once)"),
        ("enable", "switch an account on again"),
        ("reset", "a new one-time password; the second factor is set up again"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")

    audit = sub.add_parser("audit", help="the audit log of staff actions")
    audit.add_argument("--db", help=DB_HELP)
    audit_commands = audit.add_subparsers(
        dest="audit_command", required=True, parser_class=parser_class
    )
    audit_commands.add_parser("verify", help="check the chain: exit 1 if anything was changed")
    export = audit_commands.add_parser("export", help="CSV of the log on stdout")
    export.add_argument(
        "--since", type=date.fromisoformat, help="YYYY-MM-DD (JST), inclusive (default: the first)"
    )
    export.add_argument(
        "--until", type=date.fromisoformat, help="YYYY-MM-DD (JST), inclusive (default: today)"
    )


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Store]:
    """The store of BOT_DB / --db, upgraded, with the audit chain of BOT_SECRET_KEY."""
    store = open_store(
        settings.database,
        TextVault(settings.secret_key),
        single_lane=True,
        audit=AuditChain.from_secret(settings.secret_key),
    )
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def cmd_staff(args: argparse.Namespace) -> int:
    # Only `add` may start a database (the first account); the others need the bot's own.
    settings = database_settings(args.db, create=args.staff_command == "add")
    config = StaffConfig.from_settings(settings)
    try:
        return asyncio.run(_staff(args, settings, config, Clock().now()))
    except AccountError as error:
        raise StaffCommandError(error.error) from None


def _print_password(made: accounts.NewPassword, what: str) -> None:
    until = made.expires_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
    # stdout: the password alone, for a script; stderr: what to do with it, for a person.
    print(made.password, flush=True)
    print(
        f"{what} {made.account.name} ({made.account.role}). Give this one-time password to "
        f"the person in a way you trust; it must be changed at the first sign-in and expires "
        f"{until} JST.",
        file=sys.stderr,
    )


async def _staff(
    args: argparse.Namespace, settings: Settings, config: StaffConfig, now: datetime
) -> int:
    command = args.staff_command
    who = actor()
    if command == "list":
        async with opened(settings) as store:
            rows = await store.console.read(lambda work: work.accounts.all())
        if args.json:
            for account in rows:
                print(json.dumps(_account_json(account, now), ensure_ascii=False))
            return 0
        if not rows:
            print("no staff accounts (bot staff add NAME --role admin)")
        for account in rows:
            row = _account_json(account, now)
            print(
                f"{row['name']:<24} {row['role']:<9} {row['status']:<9} "
                f"2FA:{'on' if row['totp'] else 'off':<4} last sign-in: {row['last_login'] or '-'}"
            )
        return 0
    if command in ("add", "reset"):
        if command == "add":
            accounts.check_name(args.name)
        creds = Credentials(config.totp_key)
        password = accounts.one_time_password()
        password_hash = creds.hash(password)  # slow on purpose: before the transaction

        def write(work: ConsoleWork) -> accounts.NewPassword:
            audit = Audit(work.audit, now)
            if command == "add":
                return accounts.create_account(
                    work,
                    creds,
                    config,
                    audit,
                    who,
                    args.name,
                    parse_role(args.role),
                    now,
                    password_hash=password_hash,
                    password=password,
                )
            return accounts.reset_account(
                work, config, audit, who, args.name, password, password_hash, now
            )

        async with opened(settings) as store:
            made = await store.console.write(write)
        _print_password(made, "created" if command == "add" else "new password for")
        return 0

    def switch(work: ConsoleWork) -> StaffAccount:
        return accounts.set_disabled(
            work,
            Audit(work.audit, now),
            who,
            args.name,
            command == "disable",
            now,
            keep_an_admin=False,
        )

    async with opened(settings) as store:
        account = await store.console.write(switch)
    print(f"{account.name}: {'disabled' if account.disabled else 'enabled'}")
    return 0


def _account_json(account: StaffAccount, now: datetime) -> dict:
    if account.disabled:
        status = "disabled"
    elif accounts.lock_state(account, now):
        status = "locked"
    elif account.password_temporary:
        status = "new"
    else:
        status = "active"
    last = account.last_login_at
    return {
        "name": account.name,
        "role": account.role,
        "status": status,
        "totp": account.totp_enabled,
        "last_login": last.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if last else None,
    }


def cmd_audit(args: argparse.Namespace) -> int:
    settings = database_settings(args.db, create=False)
    return asyncio.run(_audit(args, settings, Clock().now()))


async def _audit(args: argparse.Namespace, settings: Settings, now: datetime) -> int:
    chain = AuditChain.from_secret(settings.secret_key)
    if args.audit_command == "verify":

        def check(work: ConsoleWork) -> audit_log.Verification:
            result = audit_log.verify(work.audit, chain)
            Audit(work.audit, now).record(
                actor(), "audit.verified", detail={"checked": result.checked, "ok": result.ok}
            )
            return result

        async with opened(settings) as store:
            result = await store.console.write(check)
        if result.ok:
            print(f"audit log OK: {result.checked} entries, chain and head intact")
            return 0
        for problem in result.problems:
            print(problem)
        print(f"audit log NOT intact ({len(result.problems)} problem(s))", file=sys.stderr)
        return 1
    where = AuditFilter(since=_jst_day(args.since), until=_jst_day(args.until, after=True))

    def export(work: ConsoleWork) -> str:
        rows = work.audit.search(where, None, 10**9)
        Audit(work.audit, now).record(actor(), "audit.exported", detail={"entries": len(rows)})
        return audit_log.to_csv(audit_log.AuditEntry.from_row(row) for row in reversed(rows))

    async with opened(settings) as store:
        sys.stdout.write(await store.console.write(export))
    return 0


def _jst_day(day: date | None, after: bool = False) -> datetime | None:
    """The start of `day` in Japan (`after`: of the day after it, for an inclusive end)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if after else day, time(), TOKYO)


def record_views(work: ConsoleWork, now: datetime, resident_ids: list[str]) -> None:
    """`bot handoff list` showed these residents' messages: recorded, like in the console."""
    audit = Audit(work.audit, now)
    for resident_id in resident_ids:
        audit.record(actor(), "conversation.view", resident_id, detail={"via": "cli"})


def console_hint(settings: Settings) -> str:
    """For `bot serve`: how to make the first account when there is none yet."""
    path = Path(settings.db_path)
    if settings.db_url or (str(path) != ":memory:" and path.exists()):

        async def count() -> int:
            async with opened(settings) as store:
                return await store.console.read(lambda work: work.accounts.count())

        if asyncio.run(count()) > 0:
            return ""
    return "  (no staff accounts yet: bot staff add NAME --role admin)"
