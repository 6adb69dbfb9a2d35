"""Every flow construct, through FlowResponder with the fake NLU."""

from __future__ import annotations

from pathlib import Path

from bot.engine.coverage import coverage_report
from tests.engine.conftest import NO_STORAGE


def book_until_confirm(chat) -> None:
    chat.say("粗大ごみ")
    chat.say("ソファーと椅子")
    chat.say("桜台")
    chat.say("2")
    chat.say("3")
    assert chat.flow == "age"
    chat.say("2020/1/2")
    assert (chat.flow, chat.state) == ("demo", "confirm")


def test_happy_path_with_subflow_action_template_and_final(chat) -> None:
    book_until_confirm(chat)
    assert chat.slots["child"]["when"] == "2020-01-02"  # sub-flow slots saved in the caller
    assert chat.slots["district"] == "桜台"
    reply = chat.last.replies[-1]
    assert reply.text == "12月4日(金) 1,300円 よろしいですか？"  # SMS variant, jdate, yen
    assert reply.suggestions == ["はい", "いいえ"]
    assert "受付番号はABCD2345です。300円" in chat.say("はい")
    assert chat.conversation is None
    assert chat.last.staff_notes == ["booked"]
    assert "reminder" in [t.name for t in chat.last.timers]
    assert set(chat.last.cancel_timers) >= {"flow_idle_remind", "flow_idle_expire"}


def test_rcs_variant_and_choice_by_number(responder, clock) -> None:
    from tests.engine.conftest import Chat

    chat = Chat(responder, clock, channel="rcs")
    book_until_confirm(chat)
    assert chat.slots["day"] == "2026-12-04"  # 「2」 picked the second option
    assert "ソファー、椅子（1,300円）" in chat.last.replies[-1].text


def test_confirm_change_returns_to_confirmation(chat) -> None:
    book_until_confirm(chat)
    assert chat.say("いいえ") == "どこを変更しますか？"
    assert chat.last.replies[-1].suggestions == ["品目", "収集日", "地区"]
    chat.say("収集日")
    assert chat.state == "ask_day"
    assert "11月27日(金)" in chat.say("1")
    assert chat.state == "confirm"


def test_confirm_part_named_directly_and_return_false(chat) -> None:
    book_until_confirm(chat)
    chat.say("地区")
    assert chat.state == "ask_district"
    chat.say("桜台")
    assert chat.state == "ask_day"  # return: false walks the flow again


def test_validation_error_and_retry_ladder_then_escalate(chat) -> None:
    chat.say("粗大ごみ")
    assert chat.say("ソファー椅子机箪笥") == "1回3品目までです。"
    assert chat.say("なにか") == "品目名だけをお送りください。"
    out = chat.say("まだ")
    # escalate: say, then intent operator; no flow declares it yet, so the global
    # operator `say` is sent and the resident stays where they were
    assert "担当者におつなぎします。" in out and "担当窓口" in out
    assert chat.state == "ask_items" and chat.conversation["misses"] == 0


def test_guard_order_and_transition_say(chat) -> None:
    chat.say("粗大ごみ")
    assert "申し込める品目がありません。" in chat.say("テレビ")
    assert chat.state == "ask_items"


def test_global_cancel_and_state_override(chat) -> None:
    chat.say("粗大ごみ")
    assert chat.say("やめる") == "手続きを中止しました。またいつでもお送りください。"
    assert chat.conversation is None
    chat.say("粗大ごみ")
    chat.say("椅子")
    out = chat.say("やめる")  # ask_district overrides cancel
    assert "中止してよろしいですか？" in out and chat.state == "confirm_cancel"
    chat.say("いいえ")
    assert chat.state == "ask_district"
    out = chat.say("ヘルプ")  # help: ignore here → an ordinary (missed) answer
    assert chat.flow == "demo" and "すみません、もう一度お願いします。" in out


def test_restart(chat) -> None:
    chat.say("粗大ごみ")
    chat.say("椅子")
    assert "最初からやり直します。" in chat.say("最初から")
    assert chat.state == "ask_items" and chat.slots == {}


def test_other_flow_interrupts_and_resumes(chat) -> None:
    chat.say("粗大ごみ")
    chat.say("椅子")
    assert chat.say("保育園の空きは？") == "何歳のお子さんですか？"
    assert chat.flow == "other" and len(chat.conversation["stack"]) == 1
    out = chat.say("2歳")
    assert "空きはありません" in out and "「収集の申し込み」の手続きに戻ります。" in out
    assert "町名を教えてください。" in out
    assert (chat.flow, chat.state) == ("demo", "ask_district")


def test_help_and_fallback_menus(chat) -> None:
    assert "ご用件が分かりませんでした" in chat.say("こんにちは")
    assert chat.flow == "fallback"
    assert chat.last.replies[-1].suggestions == ["メニュー", "担当者と話す"]
    chat.say("えーと")
    assert "担当者におつなぎしましょうか" in chat.say("うーん")
    assert "承知しました" in chat.say("いいえ")
    assert chat.conversation is None
    chat.say("ヘルプ")
    assert chat.flow == "help"
    chat.say("粗大ごみ")  # menu is on_interrupt: abandon → replaced, not stacked
    assert chat.flow == "demo" and chat.conversation["stack"] == []


def test_idle_reminder_and_expiry(chat) -> None:
    chat.say("粗大ごみ")
    names = {t.name: t for t in chat.last.timers}
    assert names["flow_idle_remind"].due_at - chat.clock.now() == __import__("datetime").timedelta(
        minutes=10
    )
    out = chat.timer("flow_idle_remind")
    assert "手続きが途中です" in out and chat.last.replies[0].kind == "notice"
    assert chat.flow == "demo"
    assert "終了しました" in chat.timer("flow_idle_expire")
    assert chat.conversation is None


def test_stale_timer_is_ignored(chat, responder, clock) -> None:
    from bot.turn import ResidentContext, Turn

    chat.say("粗大ごみ")
    old = chat.conversation
    turn = Turn("timer", "r1", "sms", clock.now(), timer="flow_idle_expire", payload={"seq": 0})
    result = responder.respond(turn, old, ResidentContext("r1"), NO_STORAGE)
    assert result.replies == [] and result.conversation == old


def test_coverage_counts_fired_transitions(chat, responder) -> None:
    book_until_confirm(chat)
    chat.say("はい")
    text, per_flow = coverage_report(responder.flowset, responder.fired)
    hit, total, untested = per_flow["demo"]
    assert 0 < hit < total and "confirm→ask_day (change 収集日)" in untested
    assert "demo:" in text and "untested:" in text


def test_real_nlu_drives_the_shipped_menus(tmp_path: Path, clock) -> None:
    from bot.nlu import load_nlu
    from tests.engine.city import flow_responder
    from tests.engine.conftest import Chat

    root = Path(__file__).parents[2] / "flows"
    chat = Chat(flow_responder(root, load_nlu(root), clock), clock)
    chat.say("ぷにょぷにょ")
    assert chat.flow == "fallback"
    chat.say("メニュー")
    assert chat.flow == "help"


def test_conversation_stored_without_newer_fields_still_resumes(chat) -> None:
    # A conversation saved by an older release carries only the core fields; switching
    # to another flow from it (which reads the frame's mode) must work, not fail the turn.
    chat.say("粗大ごみ")
    chat.say("椅子")
    saved = chat.conversation
    chat.conversation = {k: saved[k] for k in ("flow", "version", "state", "slots", "seq")}
    assert chat.say("保育園の空きは？") == "何歳のお子さんですか？"
    assert chat.flow == "other" and chat.conversation["stack"][0]["mode"] == "root"
    out = chat.say("2歳")
    assert "「収集の申し込み」の手続きに戻ります。" in out
    assert (chat.flow, chat.state) == ("demo", "ask_district")


def test_stored_fields_of_the_wrong_kind_are_repaired(chat) -> None:
    chat.say("粗大ごみ")
    chat.say("椅子")
    chat.conversation = {**chat.conversation, "mode": None, "misses": None, "slots": None}
    chat.say("わからない")  # a miss: counts from a repaired 0, not None
    assert chat.conversation["misses"] == 1 and chat.conversation["mode"] == "root"
