"""The `bot` command: thin over the library. Exit codes: 0 ok, 1 a check failed, 2 bad usage/input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bot.clock import Clock, FrozenClock, parse_instant
from bot.errors import BotError

if TYPE_CHECKING:
    from bot.cityfolder import CityFolder
    from bot.config import Settings
    from bot.identity import TextVault


class UsageError(BotError):
    pass


CHAT_NUMBER = "+819000000000"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no traceback
        self.exit(2, f"bot: {message} (see: {self.prog} --help)\n")


def _phone(value: str) -> str:
    """A resident's number as people write it (090-…, +81 90 …), kept in E.164."""
    from bot.numbering import InvalidNumber, parse

    try:
        return parse(value).e164
    except InvalidNumber as exc:
        raise argparse.ArgumentTypeError(f"not a phone number: {value!r} ({exc})") from None


def _instant(value: str):
    try:
        return parse_instant(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sakura-bot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _city_option(parser: argparse.ArgumentParser) -> None:
    """--flows on a command: where the city lives (bot.cityfolder; every command has it)."""
    parser.add_argument(
        "--flows",
        metavar="DIR",
        help="the city's flows folder (default: $BOT_FLOWS, else ./flows); its Sudachi "
        "dictionaries are DIR/../dictionaries (default) or $BOT_DICTIONARIES",
    )


def _db_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--db", help=f"{what} (default: $BOT_DB, else var/bot.db, as `bot serve`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bot", description="さくら市 SMS / +メッセージ chatbot")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the webhook server")
    serve.add_argument("--host", help="listen address (default: $BOT_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: $BOT_PORT, else 8080)")
    _db_option(serve, "the database: a SQLite file or a postgresql:// URL")
    serve.add_argument(
        "--clock",
        type=_instant,
        help="start the clock at this ISO 8601 instant and let it run (default: real time)",
    )
    _city_option(serve)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on the port (default: 1; more need PostgreSQL)",
    )

    chat = sub.add_parser("chat", help="chat with the bot in the terminal")
    chat.add_argument(
        "--channel", choices=["sms", "rcs"], default="sms", help="the channel (default: sms)"
    )
    chat.add_argument(
        "--from",
        dest="sender",
        type=_phone,
        default=CHAT_NUMBER,
        help=f"your number, a simulated resident (default: {CHAT_NUMBER})",
    )
    chat.add_argument(
        "--clock", type=_instant, help="start at this ISO 8601 instant (default: real time)"
    )
    _db_option(chat, "the database; `:memory:` for a throw-away one")
    _city_option(chat)

    replay = sub.add_parser("replay", help="run conversation tests")
    replay.add_argument(
        "paths",
        nargs="*",
        help="files or folders (default: tests/conversations, else the city's own "
        "DIR/../tests/conversations)",
    )
    replay.add_argument(
        "--json", action="store_true", help="one JSON object per file (default: text)"
    )
    replay.add_argument(
        "--coverage",
        action="store_true",
        help="which flow transitions the files took (default: off)",
    )
    _city_option(replay)

    nlu = sub.add_parser("nlu", help="show what the bot understands of each text")
    nlu.add_argument(
        "--now", type=_instant, help="resolve dates against this instant (default: now, JST)"
    )
    nlu.add_argument("--json", action="store_true", help="one JSON object per text (default: text)")
    nlu.add_argument("texts", nargs="+")
    _city_option(nlu)

    flows = sub.add_parser("flows", help="check or draw flows")
    _city_option(flows)
    flows_sub = flows.add_subparsers(dest="flows_command", required=True, parser_class=_Parser)
    check = flows_sub.add_parser("check", help="validate flows, templates and data")
    check.add_argument(
        "path", nargs="?", help="a flows folder or a file in one (default: the --flows folder)"
    )
    graph = flows_sub.add_parser("graph", help="a flow as a Mermaid stateDiagram-v2")
    graph.add_argument("flow_id")

    # `bot bench ...` is handed whole to bot.bench (its own options); listed here for --help.
    sub.add_parser("bench", help="measure the whole path end to end (bot bench --help)")

    backup = sub.add_parser(
        "backup", help="a consistent copy of the database, safe while the server runs"
    )
    backup.add_argument("path", type=Path, help="the backup's file (replaced if it exists)")
    _db_option(backup, "the database to copy")

    migrate = sub.add_parser(
        "migrate",
        help="bring the database's schema up to date, or move a city to PostgreSQL",
    )
    _db_option(migrate, "the database to upgrade")
    migrate.add_argument(
        "--from", dest="source", help="a SQLite file to move (with --to; default: none)"
    )
    migrate.add_argument(
        "--to", dest="target", help="an empty PostgreSQL database's URL (default: none)"
    )

    init = sub.add_parser("init", help="write the sample city into a folder")
    init.add_argument("dir", help="where: DIR/flows, DIR/dictionaries, DIR/tests/conversations")

    handoff = sub.add_parser("handoff", help="conversations handed to staff")
    _db_option(handoff, "the database")
    _city_option(handoff)
    handoff_sub = handoff.add_subparsers(
        dest="handoff_command", required=True, parser_class=_Parser
    )
    handoff_sub.add_parser("list", help="residents waiting for staff and their messages")
    give_back = handoff_sub.add_parser("return", help="hand a conversation back to the bot")
    give_back.add_argument("ref", help="the reference shown by `bot handoff list`")

    faq = sub.add_parser("faq", help="the city FAQ: questions it could not answer")
    _db_option(faq, "the database")
    _city_option(faq)
    faq_sub = faq.add_subparsers(dest="faq_command", required=True, parser_class=_Parser)
    misses = faq_sub.add_parser("misses", help="unanswered questions, most frequent first")
    misses.add_argument(
        "--limit", type=int, default=50, help="at most this many questions (default: 50)"
    )
    misses.add_argument(
        "--json", action="store_true", help="one JSON object per question (default: text)"
    )

    from bot.staff.cli import add_parsers as add_staff_parsers

    add_staff_parsers(sub, _Parser)  # bot staff …, bot audit …
    from bot.notices.cli import add_parsers as add_notice_parsers

    add_notice_parsers(sub, _Parser)  # bot notices …
    for name in ("staff", "audit", "notices"):
        _city_option(sub.choices[name])
    _share_group_options(sub)
    return parser


SHARED_OPTIONS = ("--db", "--flows")


def _share_group_options(sub: argparse._SubParsersAction) -> None:
    """`bot staff add X --db F` as well as `bot staff --db F add X`: a command group's --db
    and --flows are taken after its subcommand too. The subcommand's copy has no default
    (SUPPRESS), so the value given before the subcommand stands unless repeated after it."""
    for group in sub.choices.values():
        leaves = [
            action for action in group._actions if isinstance(action, argparse._SubParsersAction)
        ]
        shared = [
            action
            for action in group._actions
            if any(flag in SHARED_OPTIONS for flag in action.option_strings)
        ]
        for leaf_action in leaves:
            for leaf in leaf_action.choices.values():
                taken = set(leaf._option_string_actions)
                for action in shared:
                    if taken.intersection(action.option_strings):
                        continue
                    leaf.add_argument(
                        *action.option_strings,
                        dest=action.dest,
                        metavar=action.metavar,
                        default=argparse.SUPPRESS,
                        help=f"{action.help}; may also come before the subcommand",
                    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for position, value in enumerate(argv, 1):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # bytes the terminal sent that are not UTF-8 (surrogateescape)
            shown = value.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            print(f"bot: argument {position} is not valid UTF-8: {shown}", file=sys.stderr)
            return 2
    try:
        if argv[:1] == ["bench"]:
            from bot.bench import main as bench_main

            return bench_main(argv[1:])
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BotError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"bot: no such file or folder: {exc.filename or exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `bot flows graph X | head`: the reader left; stop quietly like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def city_of(args: argparse.Namespace, require: bool = True) -> CityFolder:
    """The city a command works on (--flows, BOT_FLOWS, ./flows); checked unless asked not
    to, so a wrong folder is one line saying how to fix it, before anything is written."""
    from bot.cityfolder import CityFolder

    city = CityFolder.locate(getattr(args, "flows", None))
    return city.require() if require else city


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


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.city import build_responder
    from bot.replay.runner import collect_files, run_files

    city = city_of(args)
    flows = city.flows
    paths = args.paths or [_default_conversations(city)]
    files = collect_files(paths)
    if not files:
        print("bot: no conversation files found", file=sys.stderr)
        return 2
    holder: dict = {}

    def factory(clock: FrozenClock):
        holder["responder"] = build_responder(flows, clock, dictionaries=city.dictionaries)
        return holder["responder"]

    results = run_files(files, factory, flows)
    for result in results:
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        elif result.passed:
            print(f"PASS {result.file} — {result.name}")
        else:
            label = "INVALID" if result.broken else "FAIL"
            print(f"{label} {result.file}" + ("" if result.broken else f" — {result.name}"))
            for failure in result.failures:
                where = f"turn {failure.turn}: " if failure.turn else ""
                print(f"  {where}{failure.message}")
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    coverage_ok = True
    if args.coverage:
        coverage_ok = _print_coverage(holder.get("responder"), to_stderr=args.json)
    if not args.json:
        print(f"{passed} passed, {failed} failed")
    if any(r.broken for r in results):
        return 2
    return 0 if failed == 0 and coverage_ok else 1


def _default_conversations(city: CityFolder) -> str:
    """tests/conversations here (the contract's default), else the city's own."""
    here = Path("tests/conversations")
    if here.exists():
        return str(here)
    return str(city.root / "tests" / "conversations")


def _print_coverage(responder, to_stderr: bool) -> bool:
    out = sys.stderr if to_stderr else sys.stdout
    if responder is None or not hasattr(responder, "fired"):
        print("coverage: the flow engine is not active", file=out)
        return True
    from bot.engine.coverage import below_threshold, coverage_report

    text, per_flow = coverage_report(responder.flowset, responder.fired)
    print(text, file=out)
    low = below_threshold(per_flow)
    if low:
        # Reported, not failed: a run over a few files naturally covers little.
        # The test suite holds every shipped flow to the 90% bar.
        print(f"below 90%: {', '.join(low)}", file=out)
    return True


def cmd_nlu(args: argparse.Namespace) -> int:
    try:
        from bot.nlu.cli import run_nlu
    except ImportError as exc:
        raise UsageError(f"the NLU is not installed ({exc})") from None
    city = city_of(args)
    return run_nlu(args.texts, args.now, args.json, city.flows, city.dictionaries)


def cmd_flows(args: argparse.Namespace) -> int:
    from bot.city import city_report, load_city_flows
    from bot.engine import mermaid

    # Not checked here: `flows check` reports what is wrong with the folder itself.
    city = city_of(args, require=False)
    if args.flows_command == "check":
        path = Path(args.path) if args.path else city.flows
        if not path.exists() and args.path:
            raise FileNotFoundError(args.path)
        errors, warnings = city_report(path)
        for problem in [*errors, *warnings]:
            print(problem)
        if errors:
            print(f"{len(errors)} error(s)", file=sys.stderr)
            return 1
        print(f"flows OK ({len(warnings)} warning(s))" if warnings else "flows OK")
        return 0
    flowset = load_city_flows(city.flows)
    try:
        print(mermaid(flowset, args.flow_id))
    except KeyError:
        raise UsageError(f"unknown flow {args.flow_id!r}") from None
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


def cmd_staff(args: argparse.Namespace) -> int:
    from bot.staff.cli import cmd_staff as run

    return run(args)


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.staff.cli import cmd_audit as run

    return run(args)


def cmd_notices(args: argparse.Namespace) -> int:
    from bot.notices.cli import cmd_notices as run

    return run(args, city_of(args).flows)


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


def cmd_init(args: argparse.Namespace) -> int:
    from bot.sample import write_sample_city

    target = Path(args.dir)
    written = write_sample_city(target)
    print(f"wrote the sample city to {target}/: " + ", ".join(f"{p}/" for p in written))
    print(f"  run it:     bot serve --flows {target / 'flows'}   (or: cd {target} && bot serve)")
    print(f"  check it:   bot flows check --flows {target / 'flows'}")
    print(f"  test it:    cd {target} && bot replay")
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


COMMANDS = {
    "notices": cmd_notices,
    "migrate": cmd_migrate,
    "staff": cmd_staff,
    "audit": cmd_audit,
    "serve": cmd_serve,
    "chat": cmd_chat,
    "replay": cmd_replay,
    "nlu": cmd_nlu,
    "flows": cmd_flows,
    "handoff": cmd_handoff,
    "backup": cmd_backup,
    "init": cmd_init,
    "faq": cmd_faq,
}

if __name__ == "__main__":
    sys.exit(main())
