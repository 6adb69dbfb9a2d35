"""The `bot` command: thin over the library. Exit codes: 0 ok, 1 a check failed, 2 bad usage/input.

The command line's parser, `main` and the dispatch; the commands themselves are
bot/commands/ (serving, authoring, database) and their packages' own cli modules."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from bot.clock import parse_instant
from bot.commands.authoring import cmd_flows, cmd_init, cmd_nlu, cmd_replay
from bot.commands.common import city_of
from bot.commands.database import cmd_backup, cmd_faq, cmd_handoff, cmd_migrate
from bot.commands.serving import cmd_chat, cmd_serve
from bot.errors import BotError

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


def cmd_staff(args: argparse.Namespace) -> int:
    from bot.staff.cli import cmd_staff as run

    return run(args)


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.staff.cli import cmd_audit as run

    return run(args)


def cmd_notices(args: argparse.Namespace) -> int:
    from bot.notices.cli import cmd_notices as run

    return run(args, city_of(args).flows)


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
