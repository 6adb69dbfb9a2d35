"""The `bot` command: thin over the library. Exit codes: 0 ok, 1 a check failed, 2 bad usage/input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bot.clock import Clock, FrozenClock, parse_instant
from bot.errors import BotError

if TYPE_CHECKING:
    from bot.config import Settings


class UsageError(BotError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no traceback
        self.exit(2, f"bot: {message} (see: {self.prog} --help)\n")


def _instant(value: str):
    try:
        return parse_instant(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bot", description="さくら市 SMS / +メッセージ chatbot")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the webhook server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--db", type=Path)
    serve.add_argument("--clock", type=_instant, help="start the clock at this instant")

    chat = sub.add_parser("chat", help="chat with the bot in the terminal")
    chat.add_argument("--channel", choices=["sms", "rcs"], default="sms")
    chat.add_argument("--from", dest="sender", default="+819000000000")
    chat.add_argument("--clock", type=_instant)

    replay = sub.add_parser("replay", help="run conversation tests")
    replay.add_argument("paths", nargs="*", default=["tests/conversations"])
    replay.add_argument("--json", action="store_true")
    replay.add_argument("--coverage", action="store_true")

    nlu = sub.add_parser("nlu", help="show what the bot understands of each text")
    nlu.add_argument("--now", type=_instant)
    nlu.add_argument("--json", action="store_true")
    nlu.add_argument("texts", nargs="+")

    flows = sub.add_parser("flows", help="check or draw flows")
    flows_sub = flows.add_subparsers(dest="flows_command", required=True, parser_class=_Parser)
    check = flows_sub.add_parser("check", help="validate flows, templates and data")
    check.add_argument("path", nargs="?", default="flows")
    graph = flows_sub.add_parser("graph", help="a flow as a Mermaid stateDiagram-v2")
    graph.add_argument("flow_id")
    graph.add_argument("--flows", default="flows")

    # `bot bench ...` is handed whole to bot.bench (its own options); listed here for --help.
    sub.add_parser("bench", help="measure the whole path end to end (bot bench --help)")

    handoff = sub.add_parser("handoff", help="conversations handed to staff")
    handoff.add_argument("--db", type=Path)
    handoff_sub = handoff.add_subparsers(
        dest="handoff_command", required=True, parser_class=_Parser
    )
    handoff_sub.add_parser("list", help="residents waiting for staff and their messages")
    give_back = handoff_sub.add_parser("return", help="hand a conversation back to the bot")
    give_back.add_argument("ref", help="the reference shown by `bot handoff list`")

    faq = sub.add_parser("faq", help="the city FAQ: questions it could not answer")
    faq.add_argument("--db", type=Path)
    faq_sub = faq.add_subparsers(dest="faq_command", required=True, parser_class=_Parser)
    misses = faq_sub.add_parser("misses", help="unanswered questions, most frequent first")
    misses.add_argument("--limit", type=int, default=50)
    misses.add_argument("--json", action="store_true")
    from bot.staff.cli import add_parsers as add_staff_parsers

    add_staff_parsers(sub, _Parser)  # bot staff …, bot audit …
    from bot.notices.cli import add_parsers as add_notice_parsers

    add_notice_parsers(sub, _Parser)  # bot notices …
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from bot.bench import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
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


def flows_folder() -> Path:
    """The flows folder staff edit: BOT_FLOWS, else ./flows (as `bot serve` uses)."""
    return Path(os.environ.get("BOT_FLOWS", "flows"))


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import create_app, edge_limits
    from bot.config import load_settings
    from bot.logs import setup_logging
    from bot.server import serve

    settings = load_settings(
        host=args.host,
        port=args.port,
        db_path=args.db,
        clock_start=args.clock.isoformat() if args.clock else None,
    )
    setup_logging()
    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    print(f"さくら市ボット listening on {base}", flush=True)
    if settings.simulator:
        print(f"  simulator:     {base}/sim/", flush=True)
    from bot.staff.cli import console_hint

    print(f"  staff console: {base}/staff/{console_hint(settings)}", flush=True)
    print(f"  health:        {base}/healthz   metrics: {base}/metrics", flush=True)
    asyncio.run(serve(app, settings.host, settings.port, edge_limits(settings)))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.city import build_responder
    from bot.local import LocalBot
    from bot.replay.runner import render_sent
    from bot.replay.spec import parse_wait

    real = Clock()
    offset = (args.clock - real.now()) if args.clock else timedelta()
    clock = FrozenClock(real.now() + offset)
    flows = flows_folder()
    bot = LocalBot(build_responder(flows, clock), clock, flows, provider="chat")
    print(
        "さくら市ボットと会話します。/wait 25h で時間を進め、/notice FILE でお知らせを受け取り、"
        "/quit で終了します。"
    )
    try:
        while True:
            try:
                line = input("あなた> ")
            except EOFError:
                break
            if line.strip() in {"/quit", "/exit"}:
                break
            if line.startswith("/wait"):
                try:
                    delta = parse_wait("chat", 1, line[5:].strip())
                except BotError as exc:
                    print(exc)
                    continue
                offset += delta
                sent = bot.advance(args.sender, delta)
            elif line.startswith("/notice"):  # rehearse a staff notice on this resident
                clock.set(real.now() + offset)
                try:
                    sent = bot.notice(args.sender, Path(line[7:].strip()), args.channel)
                except BotError as exc:
                    print(exc)
                    continue
            else:
                clock.set(real.now() + offset)
                if not line.strip():
                    continue
                sent = bot.send(args.sender, line, args.channel)
            text = render_sent(sent, args.channel)
            print(f"さくら市> {text}" if text else "（返信なし）")
            if args.channel == "rcs":
                chips = [s for m in sent for s in m.get("suggestions", [])]
                if chips:
                    print("  [" + "] [".join(chips) + "]")
    finally:
        bot.close()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.city import build_responder
    from bot.replay.runner import collect_files, run_files

    flows = flows_folder()
    files = collect_files(args.paths)
    if not files:
        print("bot: no conversation files found", file=sys.stderr)
        return 2
    holder: dict = {}

    def factory(clock: FrozenClock):
        holder["responder"] = build_responder(flows, clock)
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
    return run_nlu(args.texts, args.now, args.json, flows_folder())


def cmd_flows(args: argparse.Namespace) -> int:
    from bot.city import city_report, load_city_flows
    from bot.engine import mermaid

    if args.flows_command == "check":
        path = Path(args.path)
        if not path.exists():
            raise FileNotFoundError(args.path)
        errors, warnings = city_report(path)
        for problem in [*errors, *warnings]:
            print(problem)
        if errors:
            print(f"{len(errors)} error(s)", file=sys.stderr)
            return 1
        print(f"flows OK ({len(warnings)} warning(s))" if warnings else "flows OK")
        return 0
    flowset = load_city_flows(Path(args.flows))
    try:
        print(mermaid(flowset, args.flow_id))
    except KeyError:
        raise UsageError(f"unknown flow {args.flow_id!r}") from None
    return 0


def cmd_handoff(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config import load_settings

    settings = load_settings(db_path=args.db)
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

    return run(args, flows_folder())


def cmd_faq(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config import load_settings

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    settings = load_settings(db_path=args.db)
    return asyncio.run(_faq_misses(args, settings.db_path))


async def _faq_misses(args: argparse.Namespace, db: Path) -> int:
    from bot.store import open_store

    store = open_store(db, single_lane=True)
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
    "staff": cmd_staff,
    "audit": cmd_audit,
    "serve": cmd_serve,
    "chat": cmd_chat,
    "replay": cmd_replay,
    "nlu": cmd_nlu,
    "flows": cmd_flows,
    "handoff": cmd_handoff,
    "faq": cmd_faq,
}

if __name__ == "__main__":
    sys.exit(main())
