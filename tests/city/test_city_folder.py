"""The city folder (issue 16): every command finds the city by --flows, BOT_FLOWS or ./flows;
dictionaries beside it or BOT_DICTIONARIES; a folder that is not a city is one line that says
how to fix it, and nothing is written before the configuration is known to be good."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import argon2
import pytest

from bot.cityfolder import CityFolder
from bot.cli import build_parser, main
from bot.errors import ConfigError
from bot.nlu.userdict import UserDictError, ensure_user_dic
from tests.foundation.helpers import ROOT


def run(capsys, *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


@pytest.fixture
def city(empty: Path) -> Path:
    """A city written by `bot init` into ./town (flows, dictionaries, tests/conversations)."""
    assert main(["init", "town"]) == 0
    return empty / "town"


# ---- locating -----------------------------------------------------------------------------


def test_flows_come_from_the_option_then_the_variable_then_the_default(tmp_path: Path) -> None:
    assert CityFolder.locate(None, {}).flows == Path("flows")
    assert CityFolder.locate(None, {}).dictionaries == Path("dictionaries")
    env = {"BOT_FLOWS": "/srv/a/flows"}
    assert CityFolder.locate(None, env).flows == Path("/srv/a/flows")
    assert CityFolder.locate(None, env).dictionaries == Path("/srv/a/dictionaries")
    assert CityFolder.locate("b/flows", env).flows == Path("b/flows")
    words = {"BOT_FLOWS": "/srv/a/flows", "BOT_DICTIONARIES": "/opt/words"}
    assert CityFolder.locate(None, words).dictionaries == Path("/opt/words")
    here = CityFolder.locate(".", {})  # the flows folder itself as the working folder
    assert here.dictionaries == Path.cwd().parent / "dictionaries"


def test_what_is_missing_is_said_in_one_line_with_the_fix(empty: Path) -> None:
    problem = CityFolder.locate(None, {}).missing()
    assert problem is not None and "\n" not in problem
    assert "no city at ./flows" in problem and "bot init city" in problem
    assert "BOT_FLOWS" in problem
    (empty / "flows").mkdir()
    problem = CityFolder.locate(None, {}).missing()
    assert problem is not None and "no _global.yaml" in problem
    (empty / "flows" / "_global.yaml").write_text("{}\n", encoding="utf-8")
    problem = CityFolder.locate(None, {"BOT_FLOWS": "flows"}).missing()
    assert problem is not None and "no dictionaries folder at ./dictionaries" in problem
    assert "BOT_DICTIONARIES" in problem
    (empty / "dictionaries").mkdir()
    assert CityFolder.locate(None, {}).missing() is None
    with pytest.raises(ConfigError):
        CityFolder.locate("elsewhere", {}).require()


def test_missing_dictionaries_are_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(UserDictError, match=r"no dictionaries folder at .*BOT_DICTIONARIES"):
        ensure_user_dic(tmp_path / "dictionaries")
    (tmp_path / "dictionaries").mkdir()
    assert ensure_user_dic(tmp_path / "dictionaries") is None  # emptied on purpose


# ---- serve and read commands outside a city -----------------------------------------------


def test_serve_outside_a_city_says_what_is_missing_and_writes_nothing(empty, capsys) -> None:
    code, out, err = run(capsys, "serve")
    assert code == 2 and out == ""
    assert len(err) == 1 and err[0].startswith("bot: no city at ./flows")
    assert "bot init city" in err[0]
    assert list(empty.iterdir()) == []  # no var/, no bot.db, no secret.key


def test_serve_on_a_broken_city_lists_the_errors_and_writes_nothing(city, capsys) -> None:
    (city / "flows" / "data" / "catalogue.yaml").unlink()
    code, out, err = run(capsys, "serve", "--flows", str(city / "flows"))
    assert code == 2 and out == ""
    assert any("catalogue.yaml" in line for line in err[:-1])
    assert err[-1].startswith(f"bot: the city in {city / 'flows'} has") and "flows check" in err[-1]
    assert not (city.parent / "var").exists()


def test_serve_without_dictionaries_names_the_folder_and_writes_nothing(city, capsys) -> None:
    shutil.rmtree(city / "dictionaries")
    code, _, err = run(capsys, "serve", "--flows", str(city / "flows"))
    assert code == 2 and len(err) == 1
    assert f"no dictionaries folder at {city / 'dictionaries'}" in err[0]
    assert not (city.parent / "var").exists()


def test_serve_refuses_an_invalid_setting_before_writing(city, capsys, monkeypatch) -> None:
    monkeypatch.setenv("BOT_PORT", "eighty")
    code, _, err = run(capsys, "serve", "--flows", str(city / "flows"))
    assert code == 2 and err == ["bot: BOT_PORT must be a number"]
    assert not (city.parent / "var").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["handoff", "list"],
        ["handoff", "return", "abcdef12"],
        ["staff", "list"],
        ["staff", "disable", "sato"],
        ["audit", "verify"],
        ["faq", "misses"],
    ],
)
def test_read_commands_never_create_an_empty_database(empty, capsys, command) -> None:
    code, out, err = run(capsys, *command)
    assert code == 2 and out == ""
    assert err == [
        "bot: no database at var/bot.db: `bot serve` creates it; run this where the bot "
        "runs, or pass --db / set BOT_DB"
    ]
    assert list(empty.iterdir()) == []


# ---- every command honours --flows and BOT_FLOWS ------------------------------------------


def _edit_desk_fee(flows: Path) -> None:
    """Make this city recognisable: 机's fee becomes 1,234 yen."""
    import yaml

    path = flows / "data" / "catalogue.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    next(item for item in raw["items"] if item["name"] == "机")["fee"] = 1234
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("how", ["option", "variable"])
def test_every_city_command_reads_the_named_city(city, capsys, monkeypatch, how) -> None:
    flows = city / "flows"
    (city / "flows" / "nlu").mkdir(exist_ok=True)
    prefix: list[str] = []
    if how == "option":
        prefix = ["--flows", str(flows)]
    else:
        monkeypatch.setenv("BOT_FLOWS", str(flows))

    # flows check: an error planted in this city (and only here) is found.
    broken = flows / "broken.yaml"
    broken.write_text("id: broken\nversion: 1\ntitle: x\nstates: [\n", encoding="utf-8")
    code, out, _ = run(capsys, "flows", "check", *prefix)
    assert code == 1 and str(broken) in out
    broken.unlink()
    assert run(capsys, "flows", "check", *prefix)[:2] == (0, "flows OK\n")

    # flows graph: a flow of this city.
    code, out, _ = run(capsys, "flows", "graph", "bulky_waste", *prefix)
    assert code == 0 and out.startswith("stateDiagram-v2")

    # nlu: this city's words (a catalogue item only this city has).
    _add_item(flows, "ハンモック")
    code, out, _ = run(capsys, "nlu", "--json", "ハンモックを捨てたい", *prefix)
    assert code == 0 and '"name": "ハンモック"' in out

    # replay: its own conversation tests are found from the city folder, and pass.
    one = city / "tests" / "conversations" / "menus"
    code, out, _ = run(capsys, "replay", str(one), *prefix)
    assert code == 0 and "0 failed" in out
    # ... and a fee only this city has is what the bot quotes.
    _edit_desk_fee(flows)
    test = city / "desk.yaml"
    test.write_text(
        "name: 机\nnow: '2026-11-24T10:00:00+09:00'\nturns:\n"
        "  - say: 粗大ごみを出したい\n  - say: 机\n  - say: 本町\n"
        "  - say: '1'\n    reply: {contains: ['1,234円'], not_contains: ['800円']}\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "replay", str(test), *prefix)
    assert code == 0, out


def _add_item(flows: Path, name: str) -> None:
    import yaml

    path = flows / "data" / "catalogue.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    model = dict(next(item for item in raw["items"] if item["name"] == "机"))
    model.update(name=name, synonyms=[])
    raw["items"].append(model)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def test_replay_without_paths_runs_the_city_s_own_tests(city, capsys, monkeypatch) -> None:
    conversations = city / "tests" / "conversations"
    for folder in conversations.iterdir():
        if folder.name != "smalltalk":
            shutil.rmtree(folder)
    code, out, _ = run(capsys, "replay", "--flows", str(city / "flows"))
    assert code == 0 and "PASS" in out and str(conversations / "smalltalk") in out


# ---- bot init ------------------------------------------------------------------------------


def test_init_writes_the_sample_city_and_never_over_one(empty, capsys) -> None:
    code, out, _ = run(capsys, "init", "city")
    assert code == 0 and "bot serve --flows city/flows" in out
    for part in ("flows", "dictionaries", "tests/conversations"):
        shipped = sorted(
            p.relative_to(ROOT / part)
            for p in (ROOT / part).rglob("*")
            if p.is_file() and p.suffix != ".dic" and "__pycache__" not in p.parts
        )
        written = sorted(
            p.relative_to(empty / "city" / part)
            for p in (empty / "city" / part).rglob("*")
            if p.is_file()
        )
        assert written == shipped, part
    (empty / "city" / "flows" / "mine.txt").write_text("staff's work", encoding="utf-8")
    code, _, err = run(capsys, "init", "city")
    assert code == 2 and err == [
        "bot: city/flows already exists: `bot init` never writes over a city; choose a new folder"
    ]
    assert (empty / "city" / "flows" / "mine.txt").read_text(encoding="utf-8") == "staff's work"
    assert run(capsys, "flows", "check", "--flows", "city/flows")[:2] == (0, "flows OK\n")


# ---- the command line itself --------------------------------------------------------------


def _options(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from ((f"{name} {where}", a) for where, a in _options(child))
        elif action.option_strings and action.dest not in ("help", "version"):
            yield "", action


def test_every_option_s_help_names_its_default() -> None:
    seen = 0
    for where, action in _options(build_parser()):
        seen += 1
        assert action.help and "default" in action.help, (where, action.option_strings)
    assert seen >= 15


def test_version(capsys) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"bot {metadata.version('sakura-bot')}\n"


def _groups_with_shared_options(parser):
    import argparse

    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, group in action.choices.items():
            shared = [
                flag
                for a in group._actions
                for flag in a.option_strings
                if flag in ("--db", "--flows")
            ]
            for leaf_action in group._actions:
                if isinstance(leaf_action, argparse._SubParsersAction):
                    for leaf in leaf_action.choices:
                        yield name, leaf, shared


NOTICE_ARGS = {
    "create": ["n.yaml", "--by", "x"],
    "approve": ["N1", "--by", "x"],
    "cancel": ["N1", "--by", "x"],
    "status": ["N1"],
    "list": [],
    "test": ["N1", "--to", "09012345678", "--by", "x"],
    "export": ["N1"],
}


def test_a_group_s_db_and_flows_are_taken_after_its_subcommand_too() -> None:
    parser = build_parser()
    seen = 0
    for group, leaf, shared in _groups_with_shared_options(parser):
        for flag in shared:
            dest = flag.lstrip("-")
            positional = {"return": ["abc"], "add": ["x", "--role", "admin"], "graph": ["f"]}
            tail = positional.get(leaf, ["x"] if leaf in ("disable", "enable", "reset") else [])
            if group == "notices":  # bot notices …: an id or a file, and who acts
                tail = NOTICE_ARGS[leaf]
            after = parser.parse_args([group, leaf, *tail, flag, "/given/after"])
            before = parser.parse_args([group, flag, "/given/before", leaf, *tail])
            assert getattr(after, dest) == "/given/after", (group, leaf, flag)
            assert getattr(before, dest) == "/given/before", (group, leaf, flag)
            seen += 1
    assert seen >= 12  # staff ×5, audit ×2, handoff ×2, faq, flows ×2 … with --db and --flows
    assert {
        leaf for group, leaf, _ in _groups_with_shared_options(parser) if group == "notices"
    } == (set(NOTICE_ARGS))


def test_staff_add_takes_db_after_the_subcommand_as_the_contract_writes_it(empty, capsys) -> None:
    db = str(empty / "city.db")
    code, out, err = run(capsys, "staff", "add", "tanaka", "--role", "admin", "--db", db)
    assert code == 0, err
    code, out, _ = run(capsys, "staff", "list", "--json", "--db", db)
    assert code == 0 and [json.loads(line)["name"] for line in out.splitlines()] == ["tanaka"]


def test_notices_create_takes_db_and_flows_after_the_subcommand(city, capsys, monkeypatch) -> None:
    from bot.staff import accounts

    monkeypatch.setattr(accounts, "HASH_PROFILE", argon2.profiles.CHEAPEST)
    db, flows = str(city.parent / "city.db"), str(city / "flows")
    code, _, err = run(capsys, "staff", "add", "tanaka", "--role", "editor", "--db", db)
    assert code == 0, err
    notice = city.parent / "notice.yaml"
    notice.write_text(
        "title: ごみ通信\ncategory: regular\ntopic: gomi\ntext: |\n"
        "  【さくら市】12月のごみ通信です。\n  配信停止は「停止」と返信\n",
        encoding="utf-8",
    )
    code, out, err = run(
        capsys, "notices", "create", str(notice), "--by", "tanaka", "--db", db, "--flows", flows
    )
    assert code == 0, err
    notice_id = out.splitlines()[0]
    code, out, err = run(capsys, "notices", "list", "--json", "--db", db, "--flows", flows)
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [notice_id]


def test_serve_refuses_a_port_out_of_range_in_one_line(city, capsys, monkeypatch) -> None:
    monkeypatch.setenv("BOT_PORT", "99999")
    code, out, err = run(capsys, "serve", "--flows", str(city / "flows"))
    assert (code, out) == (2, "")
    assert err == ["bot: the port must be 0-65535 (--port, BOT_PORT), not 99999"]
    assert not (city.parent / "var").exists()


def test_serve_on_a_port_in_use_says_so_and_never_claims_to_listen(city, capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(
            capsys, "serve", "--flows", str(city / "flows"), "--port", str(port),
            "--db", str(city.parent / "s.db"),
        )  # fmt: skip
    assert code == 2
    assert "listening" not in out
    assert len(err) == 1 and err[0].startswith(f"bot: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in err[0]


@pytest.mark.parametrize("argv", [["nlu", "--json", "\udcff\udcfe"], ["nlu", "ソファー\udce3"]])
def test_an_argument_that_is_not_utf_8_is_refused_in_one_line(capsys, argv) -> None:
    # a terminal's bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert len(err) == 1 and err[0].startswith(f"bot: argument {len(argv)} is not valid UTF-8: ")


def test_chat_from_takes_a_number_as_people_write_it_and_refuses_anything_else(capsys) -> None:
    parser = build_parser()
    assert parser.parse_args(["chat", "--from", "090-1234-5678"]).sender == "+819012345678"
    assert parser.parse_args(["chat"]).sender == "+819000000000"
    with pytest.raises(SystemExit) as exit_:
        main(["chat", "--from", "abc"])
    out, err = capsys.readouterr()
    assert (exit_.value.code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "not a phone number" in err
