"""What a notice may say (the domain spec's "What a notice may say"), and the rules' data
file: each refusal names the field and the reason; the rules come from notices.yaml."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.clock import TOKYO
from bot.domain.validate import validate_data_file
from bot.notices.checker import check_content, links_in
from bot.notices.policy import load_policy
from bot.notices.render import cost, render
from bot.store.records import NoticeAsk, NoticeButton, NoticeCard
from tests.notices.helpers import ASK, FLOWS, OPT_OUT, content, emergency

POLICY = load_policy(FLOWS)


def problems(made, **kwargs):
    return [(p.field, p.message) for p in check_content(made, POLICY, {"南", "東"}, **kwargs)]


def test_a_good_notice_passes() -> None:
    assert problems(content()) == []
    assert problems(emergency(ask=ASK, districts=("南",))) == []


def test_the_prefix_is_required() -> None:
    found = problems(content(text=f"年末年始のごみ収集日が変わります。\n{OPT_OUT}"))
    assert found == [("text", "本文は【さくら市】で始めてください")]


@pytest.mark.parametrize(
    "personal",
    ["{{氏名}}様", "{name}さん", "%NAME%", "${name}", "○○様", "〇〇 さん", "ご住所：", "受付番号:"],
)
def test_no_personal_placeholders(personal: str) -> None:
    found = problems(content(text=f"【さくら市】{personal} ごみの収集日が変わります。\n{OPT_OUT}"))
    assert len(found) == 1 and found[0][0] == "text"
    assert "使えません" in found[0][1]


@pytest.mark.parametrize(
    "link",
    [
        "https://www.city.sakura.example.jp/gomi/",
        "http://city.sakura.example.jp/",
        "www.city.sakura.example.jp/bousai",
        "city.sakura.example.jp",
        "ｈｔｔｐｓ：／／ｗｗｗ．ｃｉｔｙ．ｓａｋｕｒａ．ｅｘａｍｐｌｅ．ｊｐ／",
        "bousai@city.sakura.example.jp",
    ],
)
def test_links_to_the_citys_domains_pass(link: str) -> None:
    assert problems(content(text=f"【さくら市】詳しくは {link} をご覧ください。\n{OPT_OUT}")) == []


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("https://bit.ly/3xYz", "短縮URL（bit.ly）"),
        ("t.co/abc", "短縮URL（t.co）"),
        ("https://example.com/sakura", "以外へのリンク"),
        ("https://city.sakura.example.jp.evil.example/", "以外へのリンク"),
        ("https://city.sakura.example.jp@evil.example/", "以外へのリンク"),
        ("https://sakura-city.jp/", "以外へのリンク"),
        ("ｂｉｔ．ｌｙ／ａｂｃ", "短縮URL（bit.ly）"),
        ("evil.co.jp", "以外へのリンク"),
    ],
)
def test_links_elsewhere_and_shorteners_are_refused(link: str, reason: str) -> None:
    found = problems(content(text=f"【さくら市】詳しくは {link} をご覧ください。\n{OPT_OUT}"))
    assert len(found) == 1, found
    assert found[0][0] == "text" and reason in found[0][1]


def test_numbers_and_times_are_not_links() -> None:
    text = f"【さくら市】12.5ミリの雨、8:30までに。電話012-345-6000。Ver.2\n{OPT_OUT}"
    assert links_in(text) == []
    assert problems(content(text=text)) == []


def test_670_characters_in_all() -> None:
    body = "【さくら市】" + "あ" * (670 - len("【さくら市】") - len(OPT_OUT) - 1)
    fits = content(text=f"{body}\n{OPT_OUT}")
    assert len(render(fits, POLICY).sms_text) == 670
    assert problems(fits) == []
    assert render(fits, POLICY).segments == 10
    over = content(text=f"{body}あ\n{OPT_OUT}")
    found = problems(over)
    assert [f for f, _ in found] == ["text"] and "671文字" in found[0][1]


def test_the_question_counts_towards_the_limit() -> None:
    body = "【さくら市】" + "あ" * (660 - len("【さくら市】") - len(OPT_OUT) - 1)
    made = content(text=f"{body}\n{OPT_OUT}")
    assert problems(made) == []
    assert [f for f, _ in problems(replace(made, ask=ASK))] == ["text"]


def test_emoji_take_two_units_and_can_overflow_the_segments() -> None:
    body = "【さくら市】" + "🌀" * 330
    found = problems(emergency(text=body))
    assert len(body) <= 670 and found and "11通分" in found[0][1]


def test_the_opt_out_line_ends_important_and_regular_notices() -> None:
    for category in ("important", "regular"):
        found = problems(content(category=category, text="【さくら市】ごみ収集日が変わります。"))
        assert found == [("text", f"この区分の本文は最後を「{OPT_OUT}」で終えてください")]
    assert problems(emergency(text="【さくら市】避難所を開設しました。")) == []


def test_the_question_goes_before_the_opt_out_line() -> None:
    sms = render(content(ask=ASK), POLICY).sms_text
    assert sms.endswith(OPT_OUT)
    assert "ご無事ですか。番号でお答えください。\n1. 無事です\n2. 支援が必要です\n" + OPT_OUT in sms
    rcs = render(content(ask=ASK), POLICY)
    assert "1. 無事です" not in rcs.rcs_text and rcs.suggestions == ASK.choices


def test_the_card_and_its_buttons() -> None:
    buttons = (
        NoticeButton("避難所の一覧", url="https://www.city.sakura.example.jp/bousai/"),
        NoticeButton("危機管理課に電話", dial="+81123456770"),
        NoticeButton("無事です", reply="無事です"),
    )
    good = emergency(ask=ASK, card=NoticeCard("避難所を開設しました", "南中学校", None, buttons))
    assert problems(good) == []
    bad = emergency(
        ask=ASK,
        card=NoticeCard(
            "避難所",
            "",
            None,
            (
                NoticeButton("a", url="https://bit.ly/x"),
                NoticeButton("b", url="http://www.city.sakura.example.jp/"),
                NoticeButton("c", dial="12345"),
                NoticeButton("d", reply="たぶん"),
                NoticeButton("e", url="https://www.city.sakura.example.jp/", dial="+81123456770"),
            ),
        ),
    )
    fields = [f for f, _ in problems(bad)]
    assert fields == [
        "rich.buttons",
        "rich.buttons[1].url",
        "rich.buttons[2].url",
        "rich.buttons[3].dial",
        "rich.buttons[4].reply",
        "rich.buttons[5]",
    ]


def test_the_question_needs_two_choices_and_handoff_among_them() -> None:
    found = problems(emergency(ask=NoticeAsk("どうですか", ("はい",), ("いいえ",))))
    assert [f for f, _ in found] == ["ask.choices", "ask.handoff[1]"]


def test_unknown_category_topic_district_and_past_expiry() -> None:
    now = datetime(2026, 12, 7, 10, tzinfo=TOKYO)
    made = content(
        category="urgent",
        topic="weather",
        districts=("南", "北海道"),
        expires_at=now - timedelta(hours=1),
    )
    fields = [f for f, _ in problems(made, now=now)]
    assert fields == ["category", "topic", "audience.districts[2]", "expires_at"]


def test_cost_is_segments_times_the_setting() -> None:
    made = content()
    rendering = render(made, POLICY)
    assert rendering.segments == 2
    assert cost(rendering, POLICY, 1200).total_yen == 1200 * 2 * POLICY.segment_cost_yen


def test_the_rules_are_data(tmp_path) -> None:
    """notices.yaml decides: another city's rules change what is refused, without code."""
    text = (FLOWS / "data" / "notices.yaml").read_text(encoding="utf-8")
    other = tmp_path / "data"
    other.mkdir()
    for name in ("districts.yaml",):
        (other / name).write_text((FLOWS / "data" / name).read_text(encoding="utf-8"))
    (other / "notices.yaml").write_text(
        text.replace("prefix: 【さくら市】", "prefix: 【さくら市役所】").replace(
            "segment_cost_yen: 3", "segment_cost_yen: 5"
        ),
        encoding="utf-8",
    )
    policy = load_policy(tmp_path)
    found = check_content(content(), policy)
    assert [p.message for p in found] == ["本文は【さくら市役所】で始めてください"]
    assert cost(render(content(), policy), policy, 10).total_yen == 10 * 2 * 5


def test_a_broken_rules_file_is_reported_by_line(tmp_path) -> None:
    text = (FLOWS / "data" / "notices.yaml").read_text(encoding="utf-8")
    broken = text.replace(
        "expiry: {after: 48h, from: send}", "expiry: {after: two days, from: send}"
    )
    broken = broken.replace("  - id: gomi\n", "  - id: Gomi!\n")
    broken = broken.replace(
        "allowed_domains: [city.sakura.example.jp,",
        "allowed_domains: [https://city.sakura.example.jp/,",
    )
    path = tmp_path / "notices.yaml"
    path.write_text(broken, encoding="utf-8")
    found = [str(p) for p in validate_data_file(path)]
    lines = {int(p.split(":")[1]) for p in found}
    assert len(found) == 3, found
    assert any("expiry.after" in p for p in found)
    assert any("topics[2].id" in p for p in found)
    assert any("allowed_domains[1]" in p for p in found)
    source = broken.splitlines()
    assert all(source[line - 1].strip() for line in lines)


def test_quiet_hours_and_default_expiry_come_from_the_file() -> None:
    night = datetime(2026, 12, 7, 21, 0, tzinfo=TOKYO)
    assert POLICY.is_quiet(night) and POLICY.is_quiet(night + timedelta(hours=10, minutes=59))
    assert not POLICY.is_quiet(night - timedelta(minutes=1))
    assert not POLICY.is_quiet(night + timedelta(hours=11))
    assert POLICY.quiet_ends(night) == datetime(2026, 12, 8, 8, 0, tzinfo=TOKYO)
    assert POLICY.held("regular", night) and POLICY.held("important", night)
    assert not POLICY.held("emergency", night)
    approved = datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO)
    later = approved + timedelta(days=1)
    assert POLICY.expires("emergency", approved, later) == approved + timedelta(hours=6)
    assert POLICY.expires("important", approved, later) == later + timedelta(hours=48)
    assert POLICY.expires("regular", approved, None) == approved + timedelta(days=7)


def test_bot_flows_check_checks_the_citys_notice_files(tmp_path) -> None:
    """Staff's notice templates (flows/notices/) are checked with the flows: file:line."""
    import shutil

    from bot.city import check_city

    city = tmp_path / "flows"
    shutil.copytree(FLOWS, city)
    assert check_city(city) == []
    path = city / "notices" / "gomi_nenmatsu.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(OPT_OUT, "").replace("【さくら市】", ""),
        encoding="utf-8",
    )
    found = [str(e) for e in check_city(city)]
    assert found == [
        f"{path}:6: text: 本文は【さくら市】で始めてください",
        f"{path}:6: text: この区分の本文は最後を「{OPT_OUT}」で終えてください",
    ]
