"""Each kind of flow error is reported as file:line: message."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from bot.engine import FlowsInvalid, mermaid
from tests.engine.city import check_flows, load_flowset

BASE = Path(__file__).parent / "flows"

GOOD = """\
id: t
version: 1
title: テスト
slots:
  pick: {type: choice, options: [a, b]}
states:
  ask:
    say: えらんでください
    ask: pick
    next:
      - goto: done
  done:
    end: ok
"""


def write(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "flows"
    d.mkdir(parents=True)
    for name in ("_global.yaml", "fallback.yaml", "help.yaml"):
        shutil.copy(BASE / name, d / name)
    shutil.copytree(BASE / "data", d / "data")
    (d / "t.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return d


def errors(tmp_path: Path, text: str) -> list[str]:
    d = write(tmp_path, text)
    return [str(e).replace(str(d) + "/", "") for e in check_flows(d)]


def test_good_flow_is_clean(tmp_path: Path) -> None:
    assert errors(tmp_path, GOOD) == []


CASES = [
    (
        "unknown key",
        GOOD.replace("title: テスト", "title: テスト\ntitel: x"),
        "t.yaml:4: flow: unknown key `titel` (did you mean `title`?)",
    ),
    (
        "unknown state key",
        GOOD.replace("    ask: pick", "    ask: pick\n    nxt: []"),
        "t.yaml:10: state `ask`: unknown key `nxt` (did you mean `next`?)",
    ),
    (
        "undefined goto",
        GOOD.replace("goto: done", "goto: dne"),
        "t.yaml:11: ask: next: goto `dne`: no such state (did you mean `done`?)",
    ),
    (
        "undeclared slot",
        GOOD.replace("ask: pick", "ask: pik"),
        "t.yaml:9: state `ask`: asks for slot `pik`, which is not declared in `slots` (did you mean `pick`?)",
    ),
    (
        "unknown action",
        GOOD.replace("    ask: pick", "    do: [nope_action]\n    ask: pick"),
        "t.yaml:9: state `ask` do: unknown action `nope_action`",
    ),
    (
        "template name",
        GOOD.replace("えらんでください", "'{{ pik }}'"),
        "t.yaml:8: template uses `pik`, which is not a slot or built-in name (did you mean `pick`?)",
    ),
    (
        "template syntax",
        GOOD.replace("えらんでください", "'{{ pick '"),
        "t.yaml:8: template syntax:",
    ),
    (
        "missing template file",
        GOOD.replace("say: えらんでください", "say: {template: nothere}"),
        "t.yaml:8: state `ask` say: template `nothere` not found",
    ),
    (
        "data file",
        GOOD.replace("slots:", "data: {x: nothere.yaml}\nslots:"),
        "t.yaml:4: data file `nothere.yaml` not found",
    ),
    (
        "data key",
        GOOD.replace("slots:", "data: {fees: fees.yaml}\nslots:").replace(
            "えらんでください", "'{{ data.fees.feez }}'"
        ),
        "`data.fees.feez`: the data file has no top-level key `feez` (did you mean `fees`?)",
    ),
    (
        "unreachable",
        GOOD + "  orphan:\n    end: x\n",
        "t.yaml:14: state `orphan` is unreachable from the start state `ask`",
    ),
    (
        "no way out",
        GOOD.replace("    end: ok", "    say: おわり"),
        "t.yaml:12: state `done`: no way out",
    ),
    (
        "ask without next",
        GOOD.replace("    next:\n      - goto: done\n", ""),
        "state `ask`: asks `pick` but has no `next`: no way out",
    ),
    (
        "guarded pass-through",
        GOOD.replace(
            "  done:\n    end: ok",
            "  done:\n    next:\n      - if: \"pick == 'a'\"\n        goto: ask",
        ),
        "t.yaml:13: state `done`: goes straight on but every transition has `if`; give the last one no `if`",
    ),
    (
        "yaml boolean value",
        GOOD.replace("options: [a, b]", "options: [yes, no]"),
        't.yaml:5: slot `pick` option: `yes` is read by YAML as a boolean, not text; write it in quotes: "yes"',
    ),
    (
        "yaml boolean override",
        GOOD.replace("    ask: pick", "    ask: pick\n    intents: {cancel: off}"),
        "intents.cancel: `off` is read by YAML as a boolean",
    ),
    (
        "expression syntax",
        GOOD.replace(
            "      - goto: done", '      - if: "pick =="\n        goto: done\n      - goto: done'
        ),
        "t.yaml:11: ask: if: cannot read expression",
    ),
    (
        "expression unsafe",
        GOOD.replace(
            "      - goto: done",
            "      - if: \"__import__('os')\"\n        goto: done\n      - goto: done",
        ),
        "unknown function in",
    ),
    (
        "expression name",
        GOOD.replace(
            "      - goto: done",
            "      - if: \"pik == 'a'\"\n        goto: done\n      - goto: done",
        ),
        "t.yaml:11: ask: if: `pik` is not a slot or built-in name (did you mean `pick`?)",
    ),
    (
        "bad slot type",
        GOOD.replace("type: choice, options: [a, b]", "type: colour"),
        "t.yaml:5: slot `pick`: unknown type `colour`",
    ),
    (
        "unknown flow in call",
        GOOD.replace("  done:\n    end: ok", "  done:\n    call: nosuch\n    next: [{goto: ask}]"),
        "state `done`: call `nosuch`: no such flow",
    ),
    (
        "unknown intent target",
        GOOD.replace("goto: done", "intent: nosuch"),
        "intent `nosuch`: no flow declares it in entry_intents and it is not a global intent",
    ),
    (
        "two targets",
        GOOD.replace("goto: done", "goto: done\n        start: help"),
        "give only one of goto / start / intent",
    ),
    (
        "duplicate key",
        GOOD.replace("version: 1", "version: 1\nversion: 2"),
        "t.yaml:3: duplicate key `version`",
    ),
    ("yaml syntax", GOOD + "  bad: [\n", "t.yaml:15: YAML syntax"),
    (
        "missing required",
        GOOD.replace("title: テスト\n", ""),
        "t.yaml:1: flow: missing required key `title`",
    ),
    (
        "confirm change goto",
        GOOD.replace(
            "    ask: pick\n    next:\n      - goto: done",
            "    confirm:\n      confirmed: done\n      change:\n        - {label: x, goto: nowhere}",
        ),
        "change goto `nowhere`: no such state",
    ),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_is_reported_with_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    found = errors(tmp_path, text)
    assert any(expected in e for e in found), found


def test_all_errors_at_once_and_load_refuses(tmp_path: Path) -> None:
    text = GOOD.replace("goto: done", "goto: dne").replace(
        "title: テスト", "title: テスト\ntitel: x"
    )
    d = write(tmp_path, text)
    assert len(check_flows(d)) >= 2
    with pytest.raises(FlowsInvalid) as info:
        load_flowset(d)
    assert all(e.file.endswith("t.yaml") and e.line > 0 for e in info.value.errors)


def test_shipped_flows_pass_the_check() -> None:
    root = Path(__file__).parents[2] / "flows"
    assert [str(e) for e in check_flows(root)] == []


def test_mermaid_graph() -> None:
    fs = load_flowset(BASE)
    text = mermaid(fs, "demo")
    assert text.startswith("stateDiagram-v2\n")
    assert "[*] --> ask_items" in text
    assert "confirm --> book : confirmed" in text
    assert "book --> [*] : end booked" in text
    assert "ask_items --> intent_operator : escalate" in text


def test_free_text_is_for_text_slots_and_is_a_boolean(tmp_path: Path) -> None:
    bad = GOOD.replace(
        "  pick: {type: choice, options: [a, b]}",
        "  pick: {type: choice, options: [a, b], free_text: true}\n"
        "  note: {type: text, free_text: sometimes}",
    )
    found = errors(tmp_path, bad)
    assert any("t.yaml:5:" in e and "free_text applies to type text" in e for e in found), found
    assert any("t.yaml:6:" in e and "free_text must be true or false" in e for e in found), found


QUOTED = """\
id: t
version: 1
title: テスト
slots:
  pick: {type: choice, options: [a, b]}
states:
  quote:
    do:
      - {action: test_quote, save_as: q}
    say: "合計{{ q.total }}円、{{ q.get('count') }}点です。{{ q.totl }}"
    next:
      - if: "q.cnt > 1"
        goto: done
      - goto: done
  done:
    end: ok
"""


def test_reading_a_key_an_action_result_never_has_is_an_error(tmp_path: Path) -> None:
    found = errors(tmp_path, QUOTED)
    assert any(
        e.startswith("t.yaml:10: `q.totl`") and "did you mean `total`" in e for e in found
    ), found
    assert any(e.startswith("t.yaml:12: `q.cnt`") for e in found), found
    assert len(found) == 2, found  # q.total and q.get(...) are fine


def test_result_keys_are_not_checked_when_the_name_is_also_asked(tmp_path: Path) -> None:
    text = QUOTED.replace("pick: {type: choice", "q: {type: text}\n  pick: {type: choice")
    assert errors(tmp_path, text) == []


@pytest.mark.parametrize(
    "say",
    [
        "{% for q in q.lines %}{{ q.label }}{% endfor %}",  # a loop variable of the same name
        "{% macro line(q) %}{{ q.label }}{% endmacro %}{{ line(q) }}",
        "{% set q = {'label': 1} %}{{ q.label }}",
        "{% if q.discount is defined %}{{ q.total }}{% endif %}",  # asking is not reading
    ],
)
def test_names_a_template_binds_itself_are_not_taken_for_the_result(
    tmp_path: Path, say: str
) -> None:
    text = QUOTED.replace("{{ q.totl }}", "").replace("q.cnt > 1", "q.count > 1")
    text = text.replace("点です。", "点です。" + say.replace('"', "'"))
    assert errors(tmp_path, text) == []


def test_a_problem_in_a_literal_block_template_is_reported_on_its_own_line(
    tmp_path: Path,
) -> None:
    block = "    say: |\n      合計{{ q.total }}円です。\n      {{ q.totl }}\n"
    text = QUOTED.replace(
        "    say: \"合計{{ q.total }}円、{{ q.get('count') }}点です。{{ q.totl }}\"\n", block
    ).replace("q.cnt > 1", "q.count > 1")
    found = errors(tmp_path / "literal", text)
    assert len(found) == 1 and found[0].startswith("t.yaml:12: `q.totl`"), found
    folded = text.replace("say: |", "say: >")  # folded lines are one line: its start
    found = errors(tmp_path / "folded", folded)
    assert len(found) == 1 and found[0].startswith("t.yaml:10: `q.totl`"), found
    broken = text.replace("{{ q.totl }}", "{% if %}")
    found = errors(tmp_path / "broken", broken)
    assert any(e.startswith("t.yaml:12: template syntax") for e in found), found
