"""Log lines are JSON with an ISO 8601 time carrying its offset (the bot's clock is JST)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from bot.logs import JsonFormatter, RateLimitFilter, setup_logging


def test_log_times_are_iso_8601_with_their_offset() -> None:
    record = logging.LogRecord("bot.app", logging.INFO, __file__, 1, "started", None, None)
    record.created = 1796000000.25  # 2026-11-30T00:53:20.250Z
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == "2026-11-30T09:53:20.250+09:00"
    parsed = datetime.fromisoformat(line["time"])
    assert parsed.utcoffset() == timedelta(hours=9)
    assert parsed.timestamp() == record.created
    assert (line["level"], line["logger"], line["event"]) == ("info", "bot.app", "started")


def test_setup_keeps_the_rate_limit_filter() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging()
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, RateLimitFilter) for f in handler.filters)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_a_library_that_sets_its_logger_to_debug_does_not_fill_the_log(capsys) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    chatty = logging.getLogger("bm25s")
    saved_chatty = chatty.level
    try:
        setup_logging()
        chatty.setLevel(logging.DEBUG)  # what bm25s does to its own logger at import
        chatty.debug("Building index from IDs objects")
        logging.getLogger("bot.app").info("started")
        err = capsys.readouterr().err
        assert "started" in err
        assert "Building index" not in err
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        chatty.setLevel(saved_chatty)
