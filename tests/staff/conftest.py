"""Fixtures for the staff console tests: a clock, the app on real loopback HTTP, browsers."""

from __future__ import annotations

import pytest

from tests.staff.helpers import MONDAY_10, another_client, fresh_clock, staff_app


@pytest.fixture
def clock():
    return fresh_clock(MONDAY_10)


@pytest.fixture
async def client(aiohttp_client, tmp_path, monkeypatch, clock):
    return await aiohttp_client(staff_app(tmp_path, monkeypatch, clock))


@pytest.fixture
async def browsers(client):
    """browsers() → another client of the same server with its own cookies."""
    made = []

    async def make():
        other = await another_client(client)
        made.append(other)
        return other

    yield make
    for other in made:
        await other.close()
