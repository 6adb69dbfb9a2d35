"""The durable message path: ingest (one commit) → per-resident turns → outbox."""

from bot.pipeline.intake import prepare_inbound
from bot.pipeline.turns import TurnRunner

__all__ = ["TurnRunner", "prepare_inbound"]
