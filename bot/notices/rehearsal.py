"""A notice rehearsed on one resident (a conversation test's `notice: FILE` turn, `bot chat`'s
/notice FILE): the file read and checked as `bot notices create` reads it, then delivered to
that resident at once, so staff can prove the replies to an `ask` before a real typhoon."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.identity import NumberVault
from bot.notices.policy import load_policy
from bot.notices.render import render
from bot.notices.spec import city_districts, parse_notice_file
from bot.store.base import Store
from bot.store.records import ListEntry, NewAuditEntry, NewNotice, NoticeRule, Route

ACTOR = "rehearsal"


async def rehearse(
    store: Store,
    vault: NumberVault,
    flows_dir: Path,
    path: Path,
    number: str,
    identity: str,
    route: Route,
    now: datetime,
) -> str:
    """Deliver the notice in `path` to `number` (its resident id from `identity`); returns
    the notice's id. NoticeFileError (file:line) when the file breaks a rule."""
    policy = load_policy(flows_dir)
    parsed = parse_notice_file(path, policy, city_districts(flows_dir), now)
    category = policy.categories[parsed.content.category]
    new = NewNotice(
        content=parsed.content,
        rendering=render(parsed.content, policy),
        by=ACTOR,
        at=now,
        image=parsed.image,
    )
    rule = NoticeRule(category.audience, category.priority, category.weekly_cap)
    entry = NewAuditEntry(now, ACTOR, "notice.drafted", detail={"rehearsal": True})
    notice_id = await store.notices.create(new, rule, entry)
    to = ListEntry(vault.resident_id(identity), vault.encrypt(number))
    await store.notices.rehearse(notice_id, to, route, now)
    return notice_id
