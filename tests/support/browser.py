"""Headless Chromium through Playwright, driving Debian's binary (never a downloaded one)."""

from __future__ import annotations

import os
import shutil

import pytest

# Without these Chromium stalls on the closed network (updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str) -> None:
    """Skip on a developer machine without a browser; fail in CI, which must run them."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests (.ci/install-browser, test extra)")
    pytest.skip(reason)


def find_chromium() -> str | None:
    """$SIM_CHROMIUM, else the first Chromium/Chrome on PATH."""
    explicit = os.environ.get("SIM_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


async def launched_chromium():
    """Async generator for a module-scoped fixture: one browser, closed at the end."""
    executable = find_chromium()
    if executable is None:
        unavailable("no Chromium binary found (apt-get install chromium, or set SIM_CHROMIUM)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("the 'playwright' package is not installed (pip install -e '.[test]')")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
