"""`bot notices create|approve|cancel|status|list|test|export` (contract: "Notices").

They open the database of BOT_DB / --db like `bot serve`, and act as the staff account
`--by NAME` names (its role decides what it may do; the audit log names it). Exit codes: 0
done, 1 refused (with the reason), 2 bad input (a bad file as `file:line: message`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.channels.settings import channel_settings_from_env
from bot.clock import TOKYO, Clock
from bot.config import Settings, database_settings
from bot.identity import NumberVault
from bot.notices.desk import (
    STATE_LABELS,
    ContentRefused,
    NoticeDesk,
    NoticeRefused,
    draft_from_file,
)
from bot.notices.policy import load_policy
from bot.notices.report import counts_csv
from bot.notices.routing import default_route
from bot.notices.spec import NoticeFileError, city_districts, parse_notice_file
from bot.numbering import InvalidNumber, parse
from bot.pipeline.turns import LOCAL_PROVIDERS
from bot.staff.cli import DB_HELP, opened
from bot.store import Store
from bot.store.records import Notice

READS = ("status", "list", "export")
LIST_PAGE = 500  # notices read at a time by `list`
BY_HELP = "the staff account acting (required; no default)"


def add_parsers(sub: argparse._SubParsersAction, parser_class: type) -> None:
    notices = sub.add_parser("notices", help="staff notices: draft, approve, cancel, report")
    notices.add_argument("--db", help=DB_HELP)
    commands = notices.add_subparsers(
        dest="notices_command", required=True, parser_class=parser_class
    )
    create = commands.add_parser("create", help="a draft from a notice file; prints its id")
    create.add_argument("file", type=Path)
    create.add_argument(
        "--by",
        required=True,
        metavar="NAME",
        help="the staff account acting (required; no default)",
    )
    for name, text in (("approve", "approve a draft"), ("cancel", "stop a notice")):
        command = commands.add_parser(name, help=text)
        command.add_argument("id")
        command.add_argument(
            "--by",
            required=True,
            metavar="NAME",
            help="the staff account acting (required; no default)",
        )
    status = commands.add_parser("status", help="a notice's state and counts")
    status.add_argument("id")
    status.add_argument(
        "--json", action="store_true", help="one JSON object, the contract's (default: text)"
    )
    listing = commands.add_parser("list", help="all notices, newest first")
    listing.add_argument(
        "--json", action="store_true", help="one JSON object per line (default: text)"
    )
    test = commands.add_parser("test", help="send a notice to one staff phone first")
    test.add_argument("id")
    test.add_argument(
        "--to", required=True, metavar="NUMBER", help="a staff phone, 090-… or +8190… (no default)"
    )
    test.add_argument(
        "--by",
        required=True,
        metavar="NAME",
        help="the staff account acting (required; no default)",
    )
    export = commands.add_parser("export", help="the counts as CSV (never numbers)")
    export.add_argument("id")


def cmd_notices(args: argparse.Namespace, flows_dir: Path) -> int:
    # Reading needs an existing database; a draft may be the first thing written to one.
    settings = database_settings(args.db, create=args.notices_command not in READS)
    try:
        return asyncio.run(_run(args, settings, flows_dir, Clock().now()))
    except NoticeFileError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    except ContentRefused as error:
        print("\n".join(f"bot: {p}" for p in error.problems), file=sys.stderr)
        return 2
    except NoticeRefused as error:
        print(f"refused: {error.reason}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings, flows: Path, now: datetime) -> int:
    command = args.notices_command
    vault = NumberVault(settings.secret_key)
    if command == "create":  # the file is read and checked before the database is opened
        parsed = parse_notice_file(args.file, load_policy(flows), city_districts(flows), now)
        for warning in parsed.warnings:
            print(warning, file=sys.stderr)
    async with opened(settings) as store:
        desk = NoticeDesk(store, flows, vault)
        if command == "create":
            account = await desk.account(args.by)
            notice_id = await desk.create(draft_from_file(parsed), account, now)
            print(notice_id)  # stdout: the id alone (scripts); stderr: what staff check
            report = await desk.status(notice_id, now)
            notice = await desk.get(notice_id)
            print(_preview(notice, report), file=sys.stderr)
            return 0
        if command == "approve":
            notice = await desk.approve(args.id, await desk.account(args.by), now)
            assert notice.send_at and notice.expires_at
            print(
                f"{notice.id}: approved by {notice.approved_by}; sends from "
                f"{_local(notice.send_at)}, expires {_local(notice.expires_at)}"
            )
            return 0
        if command == "cancel":
            was = await desk.cancel(args.id, await desk.account(args.by), now)
            print(f"{args.id.upper()}: cancelled (was {was})")
            return 0
        if command == "test":
            try:
                number = parse(args.to).e164
            except InvalidNumber as exc:
                print(f"bot: --to: {exc}", file=sys.stderr)
                return 2
            route = default_route(channel_settings_from_env(settings.env_vars), settings.simulator)
            account = await desk.account(args.by)
            await desk.test_send(args.id, number, account, now, route, LOCAL_PROVIDERS)
            print(f"{args.id.upper()}: test send queued (the server sends it)")
            return 0
        if command == "status":
            report = await desk.status(args.id, now)
            if args.json:
                print(json.dumps(report, ensure_ascii=False))
            else:
                _print_status(report)
                print(_preview(await desk.get(args.id), report))
            return 0
        if command == "export":
            notice = await desk.get(args.id)
            sys.stdout.write(counts_csv(await desk.report(notice, now)))
            return 0
        listed = 0
        async for notice in _every_notice(store):
            listed += 1
            row = _summary(notice)
            if args.json:
                print(json.dumps(row, ensure_ascii=False))
            else:
                print(
                    f"{row['id']}  {row['state']:<9} {row['category']:<9} {row['topic']:<8} "
                    f"{row['created_at'][:16]}  {row['title']}"
                )
        if not listed and not args.json:
            print("no notices yet (bot notices create FILE --by NAME)")
        return 0


async def _every_notice(store: Store) -> AsyncIterator[Notice]:
    """All notices, newest first (the contract's `list`), a page at a time: however many
    there are, none is left out and memory stays one page."""
    after: tuple[datetime, str] | None = None
    while True:
        page = await store.notices.newest(LIST_PAGE, after)
        for notice in page:
            yield notice
        if len(page) < LIST_PAGE:
            return
        after = (page[-1].created_at, page[-1].id)


def _preview(notice: Any, report: dict[str, Any]) -> str:
    """The SMS exactly as phones will show it, with what it costs."""
    sms = notice.rendering.sms_text
    return (
        f"--- SMS ({len(sms)} characters, {report['segments_per_sms']} segment(s); "
        f"{report['recipients']} recipient(s) now, about {report['estimated_cost_yen']:,} yen)\n"
        f"{sms}\n---"
    )


def _local(instant: datetime) -> str:
    return instant.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M JST")


def _summary(notice: Any) -> dict[str, Any]:
    return {
        "id": notice.id,
        "title": notice.content.title,
        "state": notice.state,
        "category": notice.content.category,
        "topic": notice.content.topic,
        "created_by": notice.created_by,
        "created_at": notice.created_at.astimezone(TOKYO).isoformat(timespec="seconds"),
        "approved_by": notice.approved_by,
        "send_at": notice.send_at.astimezone(TOKYO).isoformat(timespec="seconds")
        if notice.send_at
        else None,
        "recipients": notice.queued_total,
    }


def _print_status(report: dict[str, Any]) -> None:
    skipped = report["skipped"]
    print(
        f"{report['id']}  {STATE_LABELS.get(report['state'], report['state'])} ({report['state']})"
    )
    print(f"  {report['category']} / {report['topic']}")
    print(
        f"  recipients {report['recipients']}  queued {report['queued']}  sent {report['sent']}"
        f"  delivered {report['delivered']}  read {report['read']}  failed {report['failed']}"
    )
    print(
        f"  held for quiet hours {report['held_quiet_hours']}  skipped: stopped "
        f"{skipped['stopped']}, weekly cap {skipped['weekly_cap']}, expired {skipped['expired']}"
        f"  stopped within 24 h {report['stopped_after']}"
    )
    for choice, count in report["answers"].items():
        print(f"  answer {choice}: {count}")
    print(
        f"  {report['segments_per_sms']} segment(s) per SMS, estimated "
        f"{report['estimated_cost_yen']:,} yen"
    )
