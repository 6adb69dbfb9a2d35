"""`bot bench`: end-to-end throughput, latency, memory and start-up of the real server."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    if any(arg == "--notice" or arg.startswith("--notice=") for arg in argv or []):
        from bot.bench.notice import main as notice_main  # one notice to N residents

        return notice_main(argv or [])
    from bot.bench.runner import main as run_main

    return run_main(argv)


__all__ = ["main"]
