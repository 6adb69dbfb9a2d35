"""Outbox delivery: segmenting, rich→SMS fallback, retries, rate limits, quiet hours."""

from bot.delivery.worker import DeliveryDeps, DeliveryWorker, run_delivery

__all__ = ["DeliveryDeps", "DeliveryWorker", "run_delivery"]
