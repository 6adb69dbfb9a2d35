"""Carrier-exact counting and splitting for Japanese SMS."""

from __future__ import annotations

import pytest

from bot.channels.segment import GSM7, UCS2, analyze, split_message

KANA = "あ"
EMOJI = "😀"  # outside the BMP: a surrogate pair, two UCS-2 units


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),  # 2 × 153
        ("a" * 307, GSM7, 307, 3),
        ("€" * 80, GSM7, 160, 1),  # extension table: two septets each
        ("€" * 81, GSM7, 162, 2),
        (KANA * 70, UCS2, 70, 1),
        (KANA * 71, UCS2, 71, 2),
        (KANA * 134, UCS2, 134, 2),  # 2 × 67
        (KANA * 135, UCS2, 135, 3),
        (KANA * 670, UCS2, 670, 10),
        (KANA * 671, UCS2, 671, 11),
        (EMOJI * 35, UCS2, 70, 1),
        (EMOJI * 36, UCS2, 72, 2),
        ("a" * 159 + KANA, UCS2, 160, 3),  # one kana turns the whole message UCS-2
        ("", GSM7, 0, 1),
    ],
)
def test_counts(text: str, encoding: str, units: int, segments: int) -> None:
    info = analyze(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_surrogate_pair_never_split_across_parts() -> None:
    # 66 kana + emoji: the pair would straddle the 67-unit boundary, so it moves to part 2.
    assert analyze(KANA * 66 + EMOJI + KANA * 66).segments == 3
    assert analyze(KANA * 65 + EMOJI + KANA * 67).segments == 2


def test_escape_never_split_across_parts() -> None:
    assert analyze("a" * 152 + "€" + "a" * 152).segments == 3
    assert analyze("a" * 151 + "€" + "a" * 153).segments == 2


def test_up_to_670_full_width_is_one_message() -> None:
    assert split_message(KANA * 670) == [KANA * 670]


def test_671_becomes_numbered_messages_each_within_ten_parts() -> None:
    parts = split_message(KANA * 671)
    assert len(parts) == 2
    assert parts[0].startswith("(1/2)\n") and parts[1].startswith("(2/2)\n")
    assert all(analyze(part).segments <= 10 for part in parts)
    assert "".join(p.split("\n", 1)[1] for p in parts) == KANA * 671


def test_splits_at_sentence_ends_and_keeps_tokens_whole() -> None:
    sentence = (
        "粗大ごみの予約を受け付けました。受付番号はR-20261124-0001です。"
        "変更は0120-123-456へお電話ください。詳しくは https://city.example.jp/gomi?id=1&x=2 をご覧ください。"
    )
    text = sentence * 10
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        body = part.split("\n", 1)[1]
        assert body.endswith("。"), body[-20:]
        assert analyze(part).segments <= 10
    joined = "".join(p.split("\n", 1)[1] for p in parts)
    assert joined.count("R-20261124-0001") == 10
    assert joined.count("0120-123-456") == 10
    assert joined.count("https://city.example.jp/gomi?id=1&x=2") == 10


def test_long_sentence_without_ends_still_never_cuts_a_url_or_emoji() -> None:
    url = "https://city.example.jp/" + "a" * 50
    text = ("👨‍👩‍👧" + "お知らせ" + url + "、") * 60
    parts = split_message(text)
    joined = "".join(p.split("\n", 1)[1] for p in parts)
    assert joined == text
    for part in parts:
        body = part.split("\n", 1)[1]
        assert not body.startswith("\u200d") and not body.endswith("\u200d")
        assert body.count("https://") == body.count(url)


def test_tail_choices_stay_together() -> None:
    tail = "1. はい\n2. いいえ"
    parts = split_message("ご案内です。" * 150, tail=tail)
    assert parts[-1].endswith(tail)
    assert all(tail not in part for part in parts[:-1])
