"""Commands that answer residents: `bot serve` (one process or --workers N) and `bot chat`
(the terminal). Both check the city before anything is written."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import UsageError, city_of
from bot.errors import BotError

if TYPE_CHECKING:
    from bot.config import Settings


def _checked_settings(args: argparse.Namespace, **overrides: object) -> Settings:
    """Settings for a command that answers residents: the city folder, its flows and its
    dictionaries are checked before anything is written (the database, the dev key)."""
    from bot.city import check_city
    from bot.config import ensure_secret, load_settings
    from bot.nlu.userdict import UserDictError, ensure_user_dic

    city = city_of(args)
    settings = load_settings(
        None,
        db_path=args.db,
        flows_dir=city.flows,
        dictionaries_dir=city.dictionaries,
        clock_start=args.clock.isoformat() if args.clock else None,
        **overrides,
    )
    if settings.production:  # refused before anything is written, like every setting
        from bot.channels.settings import channel_settings_from_env, require_public_url

        require_public_url(channel_settings_from_env(settings.env_vars))
    errors = check_city(city.flows)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        raise UsageError(
            f"the city in {city.flows} has {len(errors)} error(s) (above); fix them, "
            f"then `bot flows check --flows {city.flows}` says when it is right"
        )
    try:
        ensure_user_dic(city.dictionaries)  # validated (and built once) before serving
    except UserDictError as exc:
        print(exc, file=sys.stderr)
        raise UsageError(f"the dictionaries in {city.dictionaries} are not valid (above)") from None
    if str(settings.db_path) == ":memory:":
        return settings  # a throw-away database keeps no key either
    return ensure_secret(settings)


WORKER_VARIABLE = "BOT_SERVE_WORKER"  # set by `bot serve --workers N` for its children


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import create_app, edge_limits
    from bot.logs import setup_logging
    from bot.server import serve

    settings = _checked_settings(args, host=args.host, port=args.port)
    setup_logging()
    if args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    if args.workers > 1 and not settings.db_url:
        raise UsageError(
            "--workers needs PostgreSQL (BOT_DB=postgresql://…): "
            "a SQLite database is served by one process"
        )
    limits = edge_limits(settings)
    if os.environ.get(WORKER_VARIABLE) == "1":  # one of --workers N: the parent printed the banner
        asyncio.run(serve(create_app(settings), settings.host, settings.port, limits, True))
        return 0
    base = f"http://{settings.host}:{settings.port}"
    if args.workers > 1:
        from bot.store.migrate import upgrade
        from bot.workers import run_workers

        upgrade(settings.database)  # once, before the children start
        print(_banner(settings, f"{base} ({args.workers} processes)"), flush=True)
        child = ["serve", "--host", settings.host, "--port", str(settings.port)]
        if args.db:
            child += ["--db", str(args.db)]
        if args.clock:
            child += ["--clock", args.clock.isoformat()]
        if args.flows:
            child += ["--flows", str(args.flows)]
        return run_workers(child, args.workers, {WORKER_VARIABLE: "1"})
    app = create_app(settings)
    banner = _banner(settings, base)
    asyncio.run(
        serve(app, settings.host, settings.port, limits, ready=lambda: print(banner, flush=True))
    )
    return 0


def _banner(settings: Settings, where: str) -> str:
    """What `bot serve` prints once it listens (computed before the server's loop runs)."""
    base = f"http://{settings.host}:{settings.port}"
    lines = [f"さくら市ボット listening on {where} (city: {settings.flows_dir})"]
    if settings.simulator:
        lines.append(f"  simulator:     {base}/sim/")
    from bot.staff.cli import console_hint

    lines.append(f"  staff console: {base}/staff/{console_hint(settings)}")
    lines.append(f"  health:        {base}/healthz   metrics: {base}/metrics")
    return "\n".join(lines)


CHAT_HELP = """\
/help        この説明
/now         ボットの時計の今の時刻
/wait 25h    時計を進めて、その間に期限の来たリマインダーなどを届けます（s, m, h, d）
/notice FILE お知らせのファイルを、いまこの番号に届けます（リハーサル。質問への回答を試せます）
/quit        終了（Ctrl-D でも）
空のまま Enter  担当者からの返信など、新しいメッセージを確認します"""


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import Chat

    settings = _checked_settings(args)
    chat = Chat(settings, args.sender, args.channel, args.clock)
    print(
        "さくら市ボットと会話します。コマンド: /help 使い方  /now 時刻  /wait 25h 時計を進める  /quit 終了"
    )
    print(f"データベース: {settings.db_path}  あなたの番号: {args.sender}  時刻: {chat.now()}")
    try:
        while True:
            try:
                line = input("あなた> ")
            except EOFError:
                break
            command = line.strip()
            if command in {"/quit", "/exit"}:
                break
            if command in {"/help", "/?"}:
                print(CHAT_HELP)
                continue
            if command == "/now":
                print(f"時刻: {chat.now()}")
                continue
            if command.startswith("/wait"):
                try:
                    sent = chat.wait(command[5:].strip())
                except BotError as exc:
                    print(exc)
                    continue
                print(f"時刻: {chat.now()}")
            elif command.startswith("/notice"):
                try:
                    sent = chat.notice(Path(command[7:].strip()))
                except BotError as exc:
                    print(exc)
                    continue
            elif command.startswith("/"):
                print(f"{command.split()[0]} は使えません。/help で使い方を表示します。")
                continue
            elif not command:
                sent = chat.check()
                if not sent:
                    continue
            else:
                sent = chat.say(line)
            print(chat.render(sent))
    finally:
        chat.close()
    return 0
