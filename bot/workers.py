"""`bot serve --workers N`: N server processes on one port (SO_REUSEPORT: the kernel spreads
connections over them), sharing one PostgreSQL database. This parent applies migrations
once, starts the children, passes SIGTERM/SIGINT on, and starts a child again if one dies
(its claims pass to the others meanwhile: bot.store.postgres)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger("bot.workers")

RESTART_AFTER = 1.0  # seconds before a child that died is started again


def run_workers(child_args: list[str], count: int, child_env: dict[str, str]) -> int:
    """Run `bot <child_args>` `count` times (with `child_env` added to the environment)
    until told to stop; returns the exit code."""
    command = [sys.executable, "-m", "bot.cli", *child_args]
    env = {**os.environ, **child_env}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env)

    children = [start() for _ in range(count)]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            for index, child in enumerate(children):
                code = child.poll()
                if code is not None and not stopping:
                    log.error("server process exited; starting another", extra={"code": code})
                    time.sleep(RESTART_AFTER)
                    children[index] = start()
            time.sleep(0.2)
        codes = [child.wait() for child in children]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if all(code in (0, -signal.SIGTERM, -signal.SIGINT) for code in codes) else 1
