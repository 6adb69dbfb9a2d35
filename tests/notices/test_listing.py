"""Every notice, newest first, a page at a time (`bot notices list`, the contract's "all
notices"), on both backends."""

from __future__ import annotations

import pytest

from tests.notices.helpers import World, emergency


@pytest.fixture
def world(location):
    w = World(location)
    w.account("tanaka", "editor")
    yield w
    w.close()


def test_pages_of_notices_made_at_one_instant_leave_none_out(world: World) -> None:
    """Notices made at the same instant (a frozen clock) are told apart by id: paging by
    (created_at, id) lists each exactly once, in the order of one big page."""
    made = {world.draft(emergency(title=f"台風 {n}")) for n in range(5)}
    whole = world.run(world.store.notices.newest(100))
    assert {n.id for n in whole} == made
    paged, after = [], None
    while True:
        page = world.run(world.store.notices.newest(2, after))
        paged += page
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].id)
    assert [n.id for n in paged] == [n.id for n in whole]
