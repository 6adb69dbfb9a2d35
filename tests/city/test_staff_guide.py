"""docs/staff-guide.md cannot go stale: its tutorial (犬の登録) is performed from the page's
own code blocks. Each block tagged `file=PATH` is written to PATH in a copy of the sample
city, each `append=PATH` is added to the end of that file; then `bot flows check`, `bot nlu`,
`bot replay --coverage` on the tutorial's conversation test, and the simulator in a real
server answer as the page says. The format examples are checked to be valid tests."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from tests.city.conftest import CITY_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "staff-guide.md"
BLOCK = re.compile(r"^```(\w+)((?: \w+=\S+)*)\n(.*?)^```\n", re.M | re.S)


def blocks(text: str) -> list[tuple[str, dict[str, str], str]]:
    """(language, tags, body) of every fenced block."""
    found = []
    for language, tags, body in BLOCK.findall(text):
        attrs = dict(tag.split("=", 1) for tag in tags.split())
        found.append((language, attrs, body))
    return found


def apply_tutorial(city: Path, text: str) -> list[str]:
    """Write the tagged blocks into `city` (the folder holding flows/); the paths written."""
    written = []
    for _, tags, body in blocks(text):
        if "file" in tags:
            target = city / tags["file"]
            assert not target.exists(), f"the tutorial overwrites {tags['file']}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, encoding="utf-8")
            written.append(tags["file"])
        elif "append" in tags:
            target = city / tags["append"]
            existing = target.read_text(encoding="utf-8")
            target.write_text(existing.rstrip("\n") + "\n" + body, encoding="utf-8")
            written.append(tags["append"])
    return written


@pytest.fixture
def city(tmp_path: Path, monkeypatch) -> Path:
    for name in CITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "city"
    for part in ("flows", "dictionaries"):
        shutil.copytree(ROOT / part, target / part, ignore=shutil.ignore_patterns("*.dic"))
    (target / "tests" / "conversations").mkdir(parents=True)
    monkeypatch.chdir(target)  # as staff run the commands: from the city folder
    return target


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def test_the_tutorial_from_its_own_code_blocks(city: Path, capsys) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    written = apply_tutorial(city, text)
    assert written == [
        "flows/data/dogs.yaml",
        "flows/nlu/dogs.yaml",
        "flows/dog_registration.yaml",
        "flows/templates/dogs/answer.j2",
        "flows/data/faq.yaml",
        "tests/conversations/dogs/dog_registration.yaml",
    ]

    code, out = run(capsys, "flows", "check")
    assert code == 0, out
    assert "dog_registration" not in out  # no warning about the new flow or intent

    code, out = run(capsys, "nlu", "犬の登録をしたい")
    assert code == 0 and "intent:   dog_registration (rule dogs.register)" in out

    code, out = run(capsys, "replay", "--coverage", "tests/conversations/dogs")
    assert code == 0, out
    assert "PASS tests/conversations/dogs/dog_registration.yaml" in out
    assert "dog_registration: 2/2 transitions (100%)" in out


def test_without_the_rule_file_the_check_says_nothing_starts_the_flow(city, capsys) -> None:
    apply_tutorial(city, GUIDE.read_text(encoding="utf-8"))
    (city / "flows" / "nlu" / "dogs.yaml").unlink()
    code, out = run(capsys, "flows", "check")
    assert code == 0 and "warning: flow `dog_registration` cannot be started" in out, out
    apply_tutorial(
        city, "```yaml file=flows/nlu/dogs.yaml\n" + _block("flows/nlu/dogs.yaml") + "```\n"
    )
    (city / "flows" / "dog_registration.yaml").unlink()
    code, out = run(capsys, "flows", "check")
    assert code == 1 and "unknown intent `dog_registration`" in out, out


def _block(path: str) -> str:
    (body,) = [
        b for _, tags, b in blocks(GUIDE.read_text(encoding="utf-8")) if tags.get("file") == path
    ]
    return body


async def test_the_tutorial_answers_in_the_simulator(tmp_path, aiohttp_client) -> None:
    """The city the tutorial made, served: 「犬の登録をしたい」 in the simulator starts the
    new flow, and the panel's state says so."""
    from bot.app import create_app
    from bot.clock import TOKYO, FrozenClock
    from tests.foundation.helpers import settings_for

    city = tmp_path / "city"
    for part in ("flows", "dictionaries"):
        shutil.copytree(ROOT / part, city / part, ignore=shutil.ignore_patterns("*.dic"))
    apply_tutorial(city, GUIDE.read_text(encoding="utf-8"))
    from datetime import datetime

    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))
    app = create_app(settings_for(tmp_path, flows_dir=city / "flows"), clock)
    client = await aiohttp_client(app)
    me = "+819012349999"
    for text, expected in [
        ("犬の登録をしたい", "何頭"),
        ("1頭", "予防注射"),
        ("いいえ", "3,000円"),
    ]:
        answer = await client.post("/sim/messages", json={"from": me, "text": text})
        (reply,) = (await answer.json())["replies"]
        assert expected in reply["text"], (text, reply)
        if text == "犬の登録をしたい":
            state = await (await client.get("/sim/state", params={"from": me})).json()
            assert state == {"flow": "dog_registration", "state": "ask_count", "slots": {}}
    assert "集合注射で受けられます" in reply["text"]


def test_every_format_example_is_a_valid_conversation_test(tmp_path) -> None:
    """The examples of each check parse as conversation tests (with a name and a time)."""
    from bot.replay.spec import parse_conversation

    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Conversation tests", 1)[1].split("## Coverage", 1)[0]
    examples = [body for language, tags, body in blocks(section) if language == "yaml"]
    assert len(examples) >= 6
    head = 'name: example\nnow: "2026-11-24T10:00:00+09:00"\n'
    seen: set[str] = set()
    for number, body in enumerate(examples):
        if body.startswith("name:"):
            source = body
        elif body.startswith("channel:"):
            source = head + body
        else:
            source = head + "turns:\n" + body
        path = tmp_path / f"example{number}.yaml"
        path.write_text(source, encoding="utf-8")
        spec = parse_conversation(path)
        for turn in spec.turns:
            seen.add(turn.action)
            if turn.reply is not None:
                reply = turn.reply
                seen.update(
                    name
                    for name, on in [
                        ("contains", reply.contains),
                        ("not_contains", reply.not_contains),
                        ("matches", reply.matches is not None),
                        ("suggestions", reply.suggestions is not None),
                        ("none", reply.none),
                    ]
                    if on
                )
            if turn.expect is not None:
                if turn.expect.has_flow:
                    seen.add("flow")
                if turn.expect.has_state:
                    seen.add("state")
                if turn.expect.slots:
                    seen.add("slots")
    assert seen >= {
        "say", "tap", "wait", "contains", "not_contains", "matches", "suggestions", "none",
        "flow", "state", "slots",
    }, seen  # fmt: skip
