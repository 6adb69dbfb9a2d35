"""`bot staff add|list|disable|enable|reset` and `bot audit verify|export`.

They open the database named by BOT_DB / --db, like `bot serve`, and act as the operating
system user running them (`cli:<user>` in the audit log): whoever can run them can read
the database and its key anyway, so they need no account of their own."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import sqlite_utils

from bot import audit as audit_log
from bot.audit import Audit
from bot.clock import TOKYO, Clock
from bot.config import Settings, load_settings
from bot.errors import BotError
from bot.staff import accounts
from bot.staff.accounts import AccountError, Credentials
from bot.staff.config import StaffConfig
from bot.staff.roles import ROLE_ORDER, parse_role
from bot.store import audit as audit_store
from bot.store import migrate, open_database
from bot.store import staff_accounts as store
from bot.store.database import write_transaction
from bot.store.queries import utc_text


class StaffCommandError(BotError):
    """Bad input to a staff command (exit 2, one line)."""


def add_parsers(sub: argparse._SubParsersAction, parser_class: type) -> None:
    roles = "|".join(role.value for role in ROLE_ORDER)
    staff = sub.add_parser("staff", help="staff accounts of the console")
    staff.add_argument("--db", type=Path)
    commands = staff.add_subparsers(dest="staff_command", required=True, parser_class=parser_class)
    add = commands.add_parser("add", help="create an account; prints a one-time password")
    add.add_argument("name")
    add.add_argument("--role", required=True, metavar=roles, choices=[r.value for r in ROLE_ORDER])
    listing = commands.add_parser("list", help="accounts and their roles")
    listing.add_argument("--json", action="store_true")
    for name, text in (
        ("disable", "switch an account off (its sessions end at once)"),
        ("enable", "switch an account on again"),
        ("reset", "a new one-time password; the second factor is set up again"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")

    audit = sub.add_parser("audit", help="the audit log of staff actions")
    audit.add_argument("--db", type=Path)
    audit_commands = audit.add_subparsers(
        dest="audit_command", required=True, parser_class=parser_class
    )
    audit_commands.add_parser("verify", help="check the chain: exit 1 if anything was changed")
    export = audit_commands.add_parser("export", help="CSV of the log on stdout")
    export.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (JST), inclusive")
    export.add_argument("--until", type=date.fromisoformat, help="YYYY-MM-DD (JST), inclusive")


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[sqlite_utils.Database]:
    db = open_database(settings.db_path)
    try:
        migrate(db)
        yield db
    finally:
        db.close()


def cmd_staff(args: argparse.Namespace) -> int:
    settings = load_settings(db_path=args.db)
    config = StaffConfig.from_settings(settings)
    now = Clock().now()
    with _database(settings) as db:
        try:
            return _staff(args, db, config, now)
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


def _staff(
    args: argparse.Namespace, db: sqlite_utils.Database, config: StaffConfig, now: datetime
) -> int:
    command = args.staff_command
    who = actor()
    if command == "list":
        rows = store.all_accounts(db)
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
        accounts.check_name(args.name) if command == "add" else None
        creds = Credentials(config.totp_key)
        password = accounts.one_time_password()
        password_hash = creds.hash(password)
        with write_transaction(db):
            audit = Audit(db, config.audit_key, now)
            if command == "add":
                made = accounts.create_account(
                    db,
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
            else:
                made = accounts.reset_account(
                    db, config, audit, who, args.name, password, password_hash, now
                )
        _print_password(made, "created" if command == "add" else "new password for")
        return 0
    with write_transaction(db):
        account = accounts.set_disabled(
            db,
            Audit(db, config.audit_key, now),
            who,
            args.name,
            command == "disable",
            now,
            keep_an_admin=False,
        )
    print(f"{account.name}: {'disabled' if account.disabled else 'enabled'}")
    return 0


def _account_json(account: store.Account, now: datetime) -> dict:
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
    settings = load_settings(db_path=args.db)
    config = StaffConfig.from_settings(settings)
    now = Clock().now()
    with _database(settings) as db:
        if args.audit_command == "verify":
            with write_transaction(db):
                result = audit_log.verify(db, config.audit_key)
                Audit(db, config.audit_key, now).record(
                    actor(), "audit.verified", detail={"checked": result.checked, "ok": result.ok}
                )
            if result.ok:
                print(f"audit log OK: {result.checked} entries, chain and head intact")
                return 0
            for problem in result.problems:
                print(problem)
            print(f"audit log NOT intact ({len(result.problems)} problem(s))", file=sys.stderr)
            return 1
        where = audit_store.AuditFilter(
            since=utc_text(datetime.combine(args.since, time(), TOKYO)) if args.since else None,
            until=utc_text(datetime.combine(args.until + timedelta(days=1), time(), TOKYO))
            if args.until
            else None,
        )
        with write_transaction(db):
            rows = audit_store.search(db, where, None, 10**9)
            Audit(db, config.audit_key, now).record(
                actor(), "audit.exported", detail={"entries": len(rows)}
            )
        sys.stdout.write(
            audit_log.to_csv(audit_log.AuditEntry.from_row(row) for row in reversed(rows))
        )
        return 0


def record_cli(
    db: sqlite_utils.Database, settings: Settings, action: str, resident_id: str | None = None
) -> None:
    """An audit entry for a command run on the server (`bot handoff …`)."""
    config = StaffConfig.from_settings(settings)
    with write_transaction(db):
        Audit(db, config.audit_key, Clock().now()).record(
            actor(), action, resident_id, detail={"via": "cli"}
        )


def console_hint(settings: Settings) -> str:
    """For `bot serve`: how to make the first account when there is none yet."""
    path = Path(settings.db_path)
    if str(path) != ":memory:" and path.exists():
        db = open_database(path)
        try:
            if store.has_accounts_table(db) and store.count_accounts(db) > 0:
                return ""
        finally:
            db.close()
    return "  (no staff accounts yet: bot staff add NAME --role admin)"
