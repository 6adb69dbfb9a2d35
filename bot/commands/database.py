"""Commands over the database: `bot migrate` (schema, or a city moved to PostgreSQL),
`bot backup`, `bot handoff list|return`, `bot faq misses`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.commands.common import UsageError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.identity import TextVault


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.store.migrate import move_to_postgres, upgrade

    if bool(args.source) != bool(args.target):
        raise UsageError("--from and --to go together (a SQLite file and a PostgreSQL URL)")
    if args.source:
        moved = move_to_postgres(Path(args.source), args.target, _city_key(Path(args.source)))
        for table, count in moved.rows.items():
            print(f"{table}: {count} rows")
        print(f"moved {sum(moved.rows.values())} rows to PostgreSQL")
        return 0
    settings = load_settings(db_path=args.db)
    applied = upgrade(settings.database)
    for step in applied:
        print(f"applied {step}")
    print("schema up to date" if not applied else f"{len(applied)} migration(s) applied")
    return 0


def _city_key(database: Path) -> TextVault | None:
    """The texts' key of the city in a SQLite file (BOT_SECRET_KEY, or development's key
    file beside it), or None when there is none: never a new one, which could not read
    what the city already holds."""
    from bot.config import load_settings
    from bot.identity import TextVault

    secret = load_settings(db_path=database).secret_key
    return TextVault(secret) if secret else None


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.config import database_settings
    from bot.store import backup

    settings = database_settings(args.db, create=False)
    report = backup(settings.database, args.path)
    if report.check != "ok":
        print(
            f"bot: the copy of {settings.database} failed its check ({report.check}); "
            "nothing was written — see docs/operations.md",
            file=sys.stderr,
        )
        return 1
    print(
        f"backup: {report.path} ({report.pages} pages, {report.bytes / 1e6:.1f} MB, "
        f"quick_check ok) in {report.seconds:.1f} s"
    )
    return 0


def cmd_handoff(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config import database_settings

    settings = database_settings(args.db, create=False)
    return asyncio.run(_handoff(args, settings))


async def _handoff(args: argparse.Namespace, settings: Settings) -> int:
    from bot.handoff import list_handoffs, return_handoff
    from bot.staff.cli import actor, opened, record_views

    async with opened(settings) as store:
        now = Clock().now()
        if args.handoff_command == "list":
            rows = await list_handoffs(store.staff)
            if not rows:
                print("引き継ぎ中の会話はありません。")
            for row in rows:
                print(f"[{row['ref']}] since {row['since']}  ({len(row['notes'])} message(s))")
                for note in row["notes"]:
                    print(f"    {note['created_at']}  {note['kind']}: {note['text']}")
            # Residents' messages were shown: recorded, like in the console.
            if ids := [row["resident_id"] for row in rows]:
                await store.console.write(lambda work: record_views(work, now, ids))
            return 0
        if await return_handoff(store.staff, args.ref, actor(), now) is None:
            raise UsageError(f"no handed-off conversation with reference {args.ref!r}")
        print(f"[{args.ref}] returned to the bot")
        return 0


def cmd_faq(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config import database_settings

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    settings = database_settings(args.db, create=False)
    return asyncio.run(_faq_misses(args, settings.database, settings.secret_key))


async def _faq_misses(args: argparse.Namespace, db: Path | str, secret: bytes) -> int:
    from bot.identity import TextVault
    from bot.store import open_store

    store = open_store(db, TextVault(secret), single_lane=True)
    await store.open()
    try:
        rows = await store.faq.most_frequent(args.limit)
    finally:
        await store.close()
    for row in rows:
        if args.json:
            print(json.dumps(row.as_dict(), ensure_ascii=False))
        else:
            print(f"{row.count:>5}  {row.text}")
    if not rows and not args.json:
        print("答えられなかった質問はありません。")
    return 0
