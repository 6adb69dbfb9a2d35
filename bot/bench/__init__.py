"""`bot bench`: end-to-end throughput, latency, memory and start-up of the real server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from bot.bench.runner import main as run_main

    return run_main(argv)


__all__ = ["main"]
