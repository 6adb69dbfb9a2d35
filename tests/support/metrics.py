"""Reading the bot's Prometheus counters in tests."""

from __future__ import annotations

from bot.metrics import Metrics


def refused(metrics: Metrics, reason: str) -> float:
    """bot_http_rejected_total for one reason."""
    value = metrics.registry.get_sample_value("bot_http_rejected_total", {"reason": reason})
    return value or 0.0
