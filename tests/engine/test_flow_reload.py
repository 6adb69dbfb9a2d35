"""Hot reload: a good edit is served, a bad edit is refused, mid-flow residents keep their version."""

from __future__ import annotations

import os
from pathlib import Path

from tests.engine.conftest import Chat


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_maybe_reload_is_a_no_op_without_changes(responder) -> None:
    assert responder.maybe_reload() is None


def test_good_edit_is_served_and_mid_flow_resident_keeps_old_version(
    responder, clock, flows_dir
) -> None:
    old_resident = Chat(responder, clock)
    old_resident.say("粗大ごみ")
    old_resident.say("椅子")
    assert old_resident.state == "ask_district"
    edit(flows_dir / "demo.yaml", "    say: 町名を教えてください。", "    say: お住まいの町名は？")
    edit(flows_dir / "demo.yaml", "version: 1", "version: 2")
    assert responder.maybe_reload() == []
    assert responder.flowset.flows["demo"].version == "2"
    new_resident = Chat(responder, clock)
    new_resident.say("粗大ごみ")
    assert new_resident.say("椅子") == "お住まいの町名は？"
    # the resident who started on v1 finishes on v1 (retry re-says the v1 prompt)
    assert "町名を教えてください。" in old_resident.say("わからない")
    assert old_resident.conversation["version"].startswith("1:")


def test_bad_edit_is_refused_and_old_version_keeps_serving(
    responder, clock, flows_dir, caplog
) -> None:
    edit(flows_dir / "demo.yaml", "goto: ask_district", "goto: ask_distrct")
    errors = responder.maybe_reload()
    assert errors and "demo.yaml" in errors[0].file and "ask_distrct" in errors[0].message
    assert "flow reload refused" in caplog.text
    chat = Chat(responder, clock)
    chat.say("粗大ごみ")
    assert chat.say("椅子") == "町名を教えてください。"
    assert responder.maybe_reload() is None  # the same bad files are not re-checked every poll


def test_restart_after_version_gone_continues_on_current_if_state_exists(responder, clock) -> None:
    chat = Chat(responder, clock)
    chat.say("粗大ごみ")
    chat.conversation["version"] = "0:gone"
    chat.say("椅子")
    assert chat.state == "ask_district"
