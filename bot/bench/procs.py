"""Child processes of the bench: the server under test, the bare ceiling, the load generator.
Linux only: CPU time and peak RSS are read from /proc (psutil is not a dependency)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from bot.cityfolder import CityFolder

CLK_TCK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-secret-key-not-for-production-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all threads)."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time per thread, by thread name (the main thread is "main"; threads that share
    a name are added up). Threads that ended are not counted. From schedstat (nanoseconds)
    where the kernel has it: stat counts 10 ms ticks, too coarse for a quiet thread."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "main" if task.name == str(pid) else (task / "comm").read_text().strip()
            try:
                seconds = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                seconds = cpu_seconds_of(task / "stat")
            out[name] = out.get(name, 0.0) + seconds
        except OSError:  # the thread ended meanwhile
            continue
    return out


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident set size, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"peak_rss_mb": out.get("VmHWM", 0.0), "rss_mb": out.get("VmRSS", 0.0)}


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Server:
    """A server process started from a command; healthy when GET /healthz answers 200."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.cmd, self.env, self.port, self.log_path = cmd, env, port, log
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait for health. Returns seconds from process start to the first 200."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        while time.monotonic() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.cmd[0]} exited with {self.proc.returncode} before it was healthy:\n"
                    + self.log_tail()
                )
            try:
                status, _ = http_get(self.port, "/healthz", timeout=1.0)
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def thread_cpu(self) -> dict[str, float]:
        return thread_cpu_seconds(self.pid)

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_problems(self) -> dict[str, int]:
        """Counts of error/warning log lines (JSON logs) and tracebacks in the server's output."""
        counts = {"error": 0, "warning": 0, "traceback": 0}
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return counts
        for line in text.splitlines():
            if line.startswith("Traceback"):
                counts["traceback"] += 1
            elif line.startswith("{"):
                try:
                    level = json.loads(line).get("level")
                except ValueError:
                    continue
                if level in counts:
                    counts[level] += 1
        return counts


class LoadGenerator:
    """`python -m bot.bench.loadgen` over pipes: one JSON command per line, one result back."""

    def __init__(self, log: Path) -> None:
        self._log = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.bench.loadgen"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self.hello = self._read()
        if not self.hello.get("ready"):
            raise RuntimeError(f"load generator did not start: {self.hello}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load generator exited; see its log")
        return json.loads(line)

    def command(self, **cfg: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cfg) + "\n").encode())
        self.proc.stdin.flush()
        result = self._read()
        if "error" in result:
            raise RuntimeError(f"load generator: {result['error']}")
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, OSError, ValueError):
                self.command(cmd="quit")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self._log.close()


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def server_env(
    db: Path | str,
    port: int,
    twilio_port: int,
    hello: dict[str, Any],
    city: CityFolder | None = None,
) -> dict[str, str]:
    city = city or CityFolder(REPO / "flows", REPO / "dictionaries")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update({
        "BOT_ENV": "development",
        "BOT_SIMULATOR": "1",
        "BOT_SECRET_KEY": SECRET,
        "BOT_DB": str(db),
        "BOT_FLOWS": str(city.flows.resolve()),
        "BOT_DICTIONARIES": str(city.dictionaries.resolve()),
        "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOT_TWILIO_ACCOUNT_SID": hello["account_sid"],
        "BOT_TWILIO_AUTH_TOKEN": hello["auth_token"],
        "BOT_TWILIO_FROM": hello["from"],
        "BOT_TWILIO_API_BASE": f"http://127.0.0.1:{twilio_port}",
        # Capacity, not policy, is measured: the per-number inbound limits, the per-channel
        # send rate and the loop guard would otherwise cap or silence bench traffic.
        "BOT_SEND_RATE": "1000000",
        "BOT_INBOUND_PER_MINUTE": "1000000",
        "BOT_INBOUND_PER_HOUR": "1000000",
        "BOT_LOOP_LIMIT": "1000000",
        "BOT_SIM_WAIT_SECONDS": "30",
    })  # fmt: skip
    return env


def server_cmd(port: int, prefix: str) -> list[str]:
    script = Path(sys.executable).parent / "bot"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    return [*prefix.split(), *base, "serve", "--host", "127.0.0.1", "--port", str(port)]
