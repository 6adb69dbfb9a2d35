"""The durable message path: ingest (one commit) → per-resident processing → outbox."""

from bot.pipeline.intake import IntakeRow, prepare_inbound
from bot.pipeline.processor import Processor

__all__ = ["IntakeRow", "Processor", "prepare_inbound"]
