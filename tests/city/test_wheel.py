"""Done-when of issue 16: from a wheel installed in a fresh venv, in an empty folder,
`bot init city && bot serve --flows city/flows` answers in the simulator.

The wheel is built from this checkout (offline: setuptools from the test extras, no build
isolation) and installed into a new venv with pip. Its dependencies are the ones already
installed in the test environment: the new venv reads them through a .pth file that points
at links to them (the checkout's own editable install left out), so the bot that runs is
the wheel's, from the venv's own site-packages, and nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*argv: str | Path, cwd: Path | None = None, env=None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _borrowed_dependencies(target: Path) -> Path:
    """Links to every installed distribution but this project's own."""
    target.mkdir()
    (here,) = [Path(p) for p in site.getsitepackages() if Path(p).name == "site-packages"]
    for entry in here.iterdir():
        name = entry.name.lower()
        if name.startswith(("sakura_bot", "__editable__", "_sakura")) or name.endswith(".pth"):
            continue
        (target / entry.name).symlink_to(entry)
    return target


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_an_installed_wheel_runs_the_sample_city_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", dist, ROOT)  # fmt: skip
    (wheel,) = dist.glob("sakura_bot-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    deps = _borrowed_dependencies(tmp_path / "deps")
    (purelib / "_dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "-q", wheel)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "PYTHON"))}
    env["BOT_CACHE_DIR"] = os.environ.get("BOT_CACHE_DIR", str(ROOT / "var" / "cache"))
    bot = venv / "bin" / "bot"
    where = _run(python, "-c", "import bot; print(bot.__file__)", cwd=empty, env=env)
    assert Path(where.strip()).is_relative_to(purelib), where  # the wheel's, not the checkout's

    _run(bot, "init", "city", cwd=empty, env=env)
    assert (empty / "city" / "flows" / "_global.yaml").is_file()
    assert any((empty / "city" / "dictionaries").glob("*.csv"))
    assert any((empty / "city" / "tests" / "conversations").rglob("*.yaml"))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [bot, "serve", "--flows", "city/flows", "--port", str(port)],
        cwd=empty, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "not healthy in 60 s"
            time.sleep(0.1)
        status, page = _get(f"{base}/sim/")
        assert status == 200 and "シミュレーター" in page.decode()
        answer = _post(
            f"{base}/sim/messages", {"from": "+819012345678", "text": "粗大ごみを出したい"}
        )
        (reply,) = answer["replies"]
        assert "品目" in reply["text"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # Its database and key are in the folder it ran in.
    assert (empty / "var" / "bot.db").is_file() and (empty / "var" / "secret.key").is_file()
