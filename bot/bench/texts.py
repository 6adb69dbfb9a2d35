"""What the bench's residents text: short conversations as people in さくら市 write them.

Each script is one resident's visit: a request, then answers to the bot's questions
(items, sizes, dates, 町名, yes/no), plus stand-alone questions, help, emoji and the odd
long message. Nothing here asks for a person (that hands the conversation to staff and
the bot then stays silent, which a closed-loop load generator would wait on).
"""

from __future__ import annotations

import random

BULKY = [
    [
        "粗大ごみを出したい",
        "ソファーです",
        "2人掛けです",
        "桜ヶ丘3丁目です",
        "来週の火曜日でお願いします",
        "はい",
    ],
    [
        "ベッドとマットレスを捨てたいのですが",
        "シングルです",
        "スプリング入りです",
        "港町",
        "12月3日",
        "はい、お願いします",
    ],
    ["冷蔵庫を処分したいです", "いいえ", "やめておきます"],
    ["粗大ごみの申込み", "タンスと自転車", "若葉台2-14", "一番早い日で", "はい"],
    ["ｿﾌｧｰ すてたい", "ひとりがけ", "ひのでちょう", "あさって", "いいえ", "金曜日は？", "はい"],
    ["電子レンジって粗大ごみで出せますか？", "そうなんですね", "ありがとうございます"],
    ["引っ越しで机と椅子と本棚を出したい", "中央町1丁目", "今月の20日", "はい"],
    ["1", "扇風機", "松原", "来週", "うん"],
]

CHILDCARE = [
    ["保育園の空き状況を教えてください", "0歳児です", "若葉台の近くで", "ありがとうございます"],
    ["4月から保育園に入れたいのですが", "1歳です", "申込みの締め切りはいつですか", "わかりました"],
    ["2", "3歳児クラス", "東町", "見学はできますか？"],
    ["一時保育はありますか", "土曜日も預けられますか"],
]

ALLOWANCE = [
    ["児童手当の申請には何が必要ですか", "マイナンバーカードは必要？", "ありがとう😊"],
    ["3", "転入してきました", "いつ振り込まれますか"],
    ["児童手当の振込日を知りたい", "はい"],
]

HELP = [
    ["ヘルプ", "使い方を教えて", "メニュー"],
    ["こんにちは", "何ができますか？"],
    ["？", "市役所の開庁時間は？", "土日はやってますか"],
]

EMOJI = [
    ["👍"],
    ["🙏🙏", "了解です！👌"],
    ["ありがとうございました🙇‍♀️✨", "😊"],
    ["はーい🐱"],
]

YES_NO = [["はい"], ["いいえ"], ["お願いします"], ["キャンセルで"], ["やっぱりやめます"]]

_LONG_PARTS = [
    "お世話になっております。先月さくら市に引っ越してきたばかりで、分からないことが多く質問させてください。",
    "前の家から持ってきた大きな食器棚と、子ども用の二段ベッド、それから壊れた電子ピアノを処分したいと考えています。",
    "平日は仕事で家を空けていることが多く、収集の日に立ち会うことができないのですが、玄関先に出しておけば大丈夫でしょうか。",
    "また、二段ベッドは分解してあるのですが、その場合は一つとして数えるのか、部品ごとに料金がかかるのかも教えていただけると助かります。",
    "あと、上の子が来年から小学校に上がるので、下の子（1歳）の保育園の申込みについても近いうちに相談したいです。",
    "お手数をおかけしますが、どうぞよろしくお願いいたします。",
]


def long_message(rng: random.Random, target_chars: int) -> str:
    parts: list[str] = []
    while sum(len(p) for p in parts) < target_chars:
        parts.append(rng.choice(_LONG_PARTS))
    return "".join(parts)


# (weight, scripts): a visit is drawn by weight, then one of its scripts.
_MIX = [
    (40, BULKY),
    (20, CHILDCARE),
    (10, ALLOWANCE),
    (10, HELP),
    (8, EMOJI),
    (8, YES_NO),
]


def script(rng: random.Random) -> list[str]:
    """One resident's visit. About 4% include a long message (a few hundred characters,
    now and then more than the 2,000 the bot keeps)."""
    total = sum(weight for weight, _ in _MIX) + 4
    pick = rng.uniform(0, total)
    for weight, scripts in _MIX:
        if pick < weight:
            return list(rng.choice(scripts))
        pick -= weight
    size = 2400 if rng.random() < 0.1 else rng.randint(150, 700)
    return [long_message(rng, size), "よろしくお願いします"]


def all_texts() -> list[str]:
    """Every fixed text (for tests and for warming up)."""
    out = [text for _, scripts in _MIX for s in scripts for text in s]
    return out
