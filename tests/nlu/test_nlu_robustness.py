"""Long input, threads, asyncio tasks, odd input."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from bot.nlu import Nlu
from bot.nlu.tokenizer import MAX_INPUT_BYTES, truncate

from .conftest import NOW


def test_input_over_the_limit_is_truncated(nlu: Nlu) -> None:
    text = "ソファーを捨てたい。" + "あ" * 40_000
    result = nlu.understand(text, NOW)
    assert len(result.text.encode("utf-8")) <= MAX_INPUT_BYTES
    assert text.startswith(result.text)
    assert result.items[0].name == "ソファー"


def test_truncate_keeps_whole_characters() -> None:
    assert truncate("あいう", 7) == "あい"
    assert truncate("abc", 10) == "abc"


def test_threads_each_get_their_own_tokenizer(nlu: Nlu) -> None:
    texts = ["来週の火曜にソファー2つ出したい", "保育園の空きはありますか", "はい"] * 40
    expected = [nlu.understand(t, NOW).to_contract() for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: nlu.understand(t, NOW).to_contract(), texts))
    assert results == expected


async def test_asyncio_tasks_share_the_thread_tokenizer(nlu: Nlu) -> None:
    async def one(text: str) -> str | None:
        await asyncio.sleep(0)
        return nlu.understand(text, NOW).intent

    intents = await asyncio.gather(*(one("粗大ごみを出したい") for _ in range(20)))
    assert intents == ["bulky_waste"] * 20


def test_odd_input(nlu: Nlu) -> None:
    for text in ["", "   ", "。。。", "🙂🙂🙂", "\x00", "ｱｱｱｱｱｱｱｱｱｱ", "12345678901234567890"]:
        result = nlu.understand(text, NOW)
        assert result.text == text
        assert result.to_contract()["text"] == text
