"""The disk fills up under the bot: /healthz says disk_full, webhooks that cannot be stored
get 503 (the provider retries) while those that can are kept, and once there is room again
the bot recovers by itself and every message is stored and answered.

The database lives on a small tmpfs mounted in a mount namespace of its own (`unshare`,
so nothing is left mounted on the machine); where that is not allowed, the server runs
under a file-size limit (RLIMIT_FSIZE) instead and is restarted without it to recover.
Before: /healthz said 200 with the disk full."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import resource
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.twilio import FakeTwilio
from tests.faults.harness import (
    Db,
    Residents,
    Server,
    bot_env,
    check_nothing_lost,
    duplicates,
    number,
    settled,
    sid,
)
from tests.support.server import ROOT

pytestmark = [pytest.mark.faults, pytest.mark.slow]
RESIDENTS = 10
TMPFS_MB = 16


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[tuple[list[str], Path] | None]:
    """(command prefix that runs inside the namespace, the folder as this process sees it),
    or None when a private tmpfs cannot be mounted here."""
    folder.mkdir()
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        yield None
        return
    script = f"mount -t tmpfs -o size={TMPFS_MB}m,mode=0700 tmpfs '{folder}' && echo ready && exec sleep 3600"
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert holder.stdout is not None
    ready = holder.stdout.readline().strip() == b"ready"
    try:
        if not ready:
            yield None
        else:
            seen = Path(f"/proc/{holder.pid}/root{folder}")
            # Entering a mount namespace moves to its root: keep the repository as cwd.
            yield ["nsenter", "-t", str(holder.pid), "-m", f"--wd={ROOT}", "--"], seen
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def fill(folder: Path) -> Path:
    """Write a file until the disk is full (unbuffered: each write is the disk's answer)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):  # big steps, then whatever is left
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
        with pytest.raises(OSError) as refused:
            os.write(fd, b"\0")
        assert refused.value.errno in (errno.ENOSPC, errno.EDQUOT)
    finally:
        os.close(fd)
    return filler


def size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child, between fork and exec: `ulimit -f`
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


async def _round(residents: Residents, session: aiohttp.ClientSession, round_: int) -> None:
    await asyncio.gather(
        *(
            residents.send(session, sid(n, round_), number(n), f"粗大ごみを出したい {round_}")
            for n in range(RESIDENTS)
        )
    )


async def test_disk_full_while_running(tmp_path: Path) -> None:
    fake = await FakeTwilio().start()
    with small_disk(tmp_path / "data") as disk:
        if disk is not None:
            prefix, seen = disk
            inside = tmp_path / "data"
            server = Server(
                bot_env(inside / "bot.db", fake.url), tmp_path / "server.log", prefix=prefix
            )
        else:  # no private tmpfs here: a file-size limit instead
            seen = tmp_path / "data"
            server = Server(bot_env(seen / "bot.db", fake.url), tmp_path / "server.log")
        db = Db(inside / "bot.db", server.prefix) if disk is not None else Db(seen / "bot.db")
        residents = Residents(server.base)
        try:
            server.start()
            await server.healthy()
            async with aiohttp.ClientSession() as session:
                for round_ in range(3):
                    await _round(residents, session, round_)
                await settled(db)
                if disk is not None:
                    filler = fill(seen)
                else:
                    server.stop()
                    server.preexec = size_limit(os.path.getsize(db.path) + 64 * 1024)
                    server.start()
                    await server.healthy()
                round_ = 3
                while not residents.refused and round_ < 200:  # until writes fail
                    await _round(residents, session, round_)
                    round_ += 1
                assert residents.refused, "the full disk never refused a write"
                full = ("disk_full",) if disk is not None else ("disk_full", "io_error")
                body = await server.until(
                    lambda status, body: status == 503 and body.get("problem") in full,
                    60,
                    "health never said the disk was full",
                )
                assert str(db.path.name) in body["detail"]
                # Room again: the bot recovers by itself (or, under the file-size limit,
                # once restarted without it), and the providers' retries are stored.
                if disk is not None:
                    filler.unlink()
                else:
                    server.stop()
                    server.preexec = None
                    server.start()
                await server.healthy(timeout=120)
                await residents.retry_refused(session)
                await settled(db)
            check_nothing_lost(db, residents, fake)
            assert duplicates(fake) == 0
            print(
                f"mode={'tmpfs' if disk is not None else 'RLIMIT_FSIZE'} "
                f"acknowledged={len(residents.acked)} statuses={dict(residents.statuses)}"
            )
        finally:
            server.stop()
    await fake.close()
