"""What staff do with notices, for the CLI and the console alike: draft, edit, approve,
cancel, test-send, and the report. Who may do what follows the staff roles (bot.staff.roles)
and the city's rules (flows/data/notices.yaml); every change is recorded in the audit log in
the same transaction as the change itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import BotError, InputError
from bot.identity import NumberVault
from bot.notices.checker import NoticeProblem, check_content
from bot.notices.policy import NoticePolicy, load_policy
from bot.notices.render import cost, render
from bot.notices.spec import ParsedNotice, city_districts
from bot.staff.roles import Permission, may
from bot.store.base import Store
from bot.store.console import ConsoleWork
from bot.store.records import (
    AudienceCount,
    ListEntry,
    NewAuditEntry,
    NewNotice,
    Notice,
    NoticeContent,
    NoticeRule,
    Route,
    StaffAccount,
)


class NoticeRefused(BotError):
    """Staff may not do this now (a role, a second person, a state): `reason` says why."""

    def __init__(self, code: str, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.code, self.reason, self.status = code, reason, status


class UnknownNotice(InputError):
    def __init__(self, notice_id: str) -> None:
        super().__init__(f"no notice with id {notice_id!r}")
        self.notice_id = notice_id


class UnknownStaff(InputError):
    pass


class ContentRefused(InputError):
    """The content breaks the rules: every problem, by field."""

    def __init__(self, problems: list[NoticeProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Draft:
    """A notice as composed, ready to store: its content, image and imported numbers."""

    content: NoticeContent
    image: tuple[str, bytes] | None = None
    numbers: tuple[str, ...] = ()  # E.164 (hashed and encrypted before storing)


class NoticeDesk:
    def __init__(self, store: Store, flows_dir: Path | str, vault: NumberVault) -> None:
        self.store = store
        self.notices = store.notices
        self.flows_dir = Path(flows_dir)
        self.vault = vault
        # Who a draft would reach takes a pass over the audience (seconds for a million):
        # the console asks every few seconds, so an estimate is kept a little while.
        self._estimates: dict[tuple[str, datetime], tuple[float, AudienceCount]] = {}

    # ---- the city's rules ------------------------------------------------------------

    @property
    def policy(self) -> NoticePolicy:
        return load_policy(self.flows_dir)

    def districts(self) -> dict[str, str]:
        return city_districts(self.flows_dir)

    def rule(self, category: str) -> NoticeRule:
        c = self.policy.categories[category]
        return NoticeRule(c.audience, c.priority, c.weekly_cap)

    def check(self, content: NoticeContent, now: datetime) -> list[NoticeProblem]:
        return check_content(content, self.policy, set(self.districts().values()), now)

    # ---- who --------------------------------------------------------------------------

    async def account(self, name: str) -> StaffAccount:
        """The staff account `--by NAME` names (enabled)."""

        def read(work: ConsoleWork) -> StaffAccount | None:
            return work.accounts.by_name(name)

        account = await self.store.console.read(read)
        if account is None:
            raise UnknownStaff(f"no staff account named {name!r} (bot staff list)")
        if account.disabled:
            raise NoticeRefused("account_disabled", f"{account.name} のアカウントは停止中です")
        return account

    @staticmethod
    def _needs(account: StaffAccount, permission: Permission, what: str) -> None:
        if not may(account.role, permission):
            raise NoticeRefused(
                "forbidden", f"{account.name}（{account.role}）には{what}権限がありません"
            )

    async def get(self, notice_id: str) -> Notice:
        notice = await self.notices.get(notice_id.strip().upper())
        if notice is None:
            raise UnknownNotice(notice_id)
        return notice

    # ---- drafting ---------------------------------------------------------------------

    def _new(self, draft: Draft, by: str, now: datetime) -> NewNotice:
        entries = tuple(
            ListEntry(self.vault.resident_id(number), self.vault.encrypt(number))
            for number in draft.numbers
        )
        return NewNotice(
            content=draft.content,
            rendering=render(draft.content, self.policy),
            by=by,
            at=now,
            image=draft.image,
            recipients=entries,
        )

    async def create(self, draft: Draft, by: StaffAccount, now: datetime) -> str:
        self._needs(by, Permission.NOTICES_DRAFT, "お知らせを作成する")
        problems = self.check(draft.content, now)
        if problems:
            raise ContentRefused(problems)
        new = self._new(draft, by.name, now)
        entry = NewAuditEntry(
            now, by.name, "notice.drafted", detail=_detail(draft.content, len(new.recipients))
        )
        return await self.notices.create(new, self.rule(draft.content.category), entry)

    async def edit(
        self,
        notice_id: str,
        draft: Draft,
        by: StaffAccount,
        now: datetime,
        keep_image: bool,
        keep_list: bool,
    ) -> None:
        self._needs(by, Permission.NOTICES_DRAFT, "お知らせを編集する")
        notice = await self.get(notice_id)
        if notice.state != "draft":
            raise NoticeRefused("not_draft", "承認後のお知らせは編集できません", status=409)
        problems = self.check(draft.content, now)
        if problems:
            raise ContentRefused(problems)
        new = self._new(draft, by.name, now)
        entry = NewAuditEntry(
            now,
            by.name,
            "notice.edited",
            subject=notice.id,
            detail=_detail(draft.content, len(new.recipients)),
        )
        rule = self.rule(draft.content.category)
        if not await self.notices.update(notice.id, new, rule, keep_image, keep_list, entry):
            raise NoticeRefused("not_draft", "承認後のお知らせは編集できません", status=409)

    # ---- approval, cancelling, testing --------------------------------------------------

    async def approve(self, notice_id: str, by: StaffAccount, now: datetime) -> Notice:
        """Approve a draft: a second person for categories that need one; an approver alone
        for the others (an emergency). The content is checked again (rules and times)."""
        self._needs(by, Permission.NOTICES_APPROVE, "お知らせを承認する")
        notice = await self.get(notice_id)
        if notice.state != "draft":
            raise NoticeRefused(
                "not_draft",
                f"このお知らせはすでに{STATE_LABELS.get(notice.state, notice.state)}です",
                status=409,
            )
        policy = self.policy
        category = policy.categories.get(notice.content.category)
        if category is None:
            raise NoticeRefused(
                "category", f"区分「{notice.content.category}」は今の設定にありません"
            )
        if category.approval == "second_person" and by.name in {
            notice.created_by,
            notice.updated_by,
        }:
            raise NoticeRefused(
                "second_person",
                f"{category.label}のお知らせは、作成・編集した人とは別の承認者が承認します"
                f"（作成: {notice.created_by}、最終編集: {notice.updated_by}）",
            )
        problems = self.check(notice.content, now)
        if problems:
            raise NoticeRefused(
                "content", "内容がきまりに合いません: " + "; ".join(str(p) for p in problems)
            )
        send_at = max(notice.content.send_at or now, now)
        expires = notice.content.expires_at or policy.expires(
            notice.content.category, now, notice.content.send_at
        )
        entry = NewAuditEntry(
            now,
            by.name,
            "notice.approved",
            subject=notice.id,
            detail={
                "category": notice.content.category,
                "send_at": send_at.isoformat(),
                "expires_at": expires.isoformat(),
                "author": notice.created_by,
            },
        )
        if not await self.notices.approve(notice.id, by.name, now, send_at, expires, entry):
            raise NoticeRefused(
                "not_draft", "このお知らせは承認できる状態ではありません", status=409
            )
        return await self.get(notice.id)

    async def cancel(self, notice_id: str, by: StaffAccount, now: datetime) -> str:
        """Stop it: no row of it is claimed for sending after this commits."""
        self._needs(by, Permission.NOTICES_APPROVE, "お知らせを中止する")
        notice = await self.get(notice_id)
        entry = NewAuditEntry(
            now, by.name, "notice.cancelled", subject=notice.id, detail={"was": notice.state}
        )
        was = await self.notices.cancel(notice.id, by.name, now, entry)
        if was is None:
            raise NoticeRefused(
                "finished",
                f"このお知らせはすでに{STATE_LABELS.get(notice.state, notice.state)}です",
                status=409,
            )
        return was

    async def test_send(
        self,
        notice_id: str,
        number: str,
        by: StaffAccount,
        now: datetime,
        route: Route,
        local: frozenset[str],
    ) -> int:
        """The notice to one staff phone (E.164), as residents will receive it."""
        self._needs(by, Permission.NOTICES_DRAFT, "テスト送信する")
        notice = await self.get(notice_id)
        if notice.state in ("cancelled", "expired"):
            raise NoticeRefused("finished", "中止・期限切れのお知らせはテスト送信できません", 409)
        to = ListEntry(self.vault.resident_id(number), self.vault.encrypt(number))
        entry = NewAuditEntry(now, by.name, "notice.test_sent", subject=notice.id)
        return await self.notices.test_send(notice.id, to, route, local, now, entry)

    # ---- reports --------------------------------------------------------------------------

    async def status(self, notice_id: str, now: datetime) -> dict[str, Any]:
        """The contract's status object (`bot notices status ID --json`)."""
        notice = await self.get(notice_id)
        return await self.report(notice, now)

    async def _estimate(self, notice: Notice, now: datetime) -> AudienceCount:
        key = (notice.id, notice.updated_at)
        kept = self._estimates.get(key)
        if kept is not None and time.monotonic() - kept[0] < ESTIMATE_SECONDS:
            return kept[1]
        estimate = await self.notices.audience(notice.id, now)
        if len(self._estimates) > 100:
            self._estimates.clear()
        self._estimates[key] = (time.monotonic(), estimate)
        return estimate

    async def report(self, notice: Notice, now: datetime) -> dict[str, Any]:
        policy = self.policy
        counts = await self.notices.counts(notice.id)
        started = notice.state in ("sending", "sent") or notice.fanout_done or counts.sent
        stopped, capped = notice.skipped_stopped, notice.skipped_cap
        if started or notice.state in ("cancelled", "expired"):
            recipients = notice.queued_total
        else:
            estimate = await self._estimate(notice, now)
            recipients, stopped, capped = estimate.recipients, estimate.stopped, estimate.weekly_cap
        held = 0
        if notice.state in ("approved", "scheduled", "sending") and policy.held(
            notice.content.category, now
        ):
            held = counts.queued + (0 if notice.fanout_done else max(recipients - counts.queued, 0))
        choices = notice.content.ask.choices if notice.content.ask else ()
        tally = await self.notices.answers(notice.id)
        return {
            "id": notice.id,
            "state": notice.state,
            "category": notice.content.category,
            "topic": notice.content.topic,
            "recipients": recipients,
            "queued": counts.queued,
            "sent": counts.sent,
            "delivered": counts.delivered,
            "failed": counts.failed,
            "read": counts.read,
            "held_quiet_hours": held,
            "skipped": {
                "stopped": stopped + counts.suppressed,
                "weekly_cap": capped,
                "expired": counts.expired,
            },
            "stopped_after": await self.notices.stopped_after(notice.id),
            "answers": {choice: tally.get(choice, 0) for choice in choices},
            "segments_per_sms": notice.rendering.segments,
            "estimated_cost_yen": cost(notice.rendering, policy, recipients).total_yen,
        }


ESTIMATE_SECONDS = 20.0


STATE_LABELS = {
    "draft": "下書き",
    "approved": "承認済み",
    "scheduled": "送信待ち",
    "sending": "送信中",
    "sent": "送信済み",
    "cancelled": "中止",
    "expired": "期限切れ",
}


def _detail(content: NoticeContent, listed: int) -> dict[str, Any]:
    """What the audit log keeps of a draft: codes and counts, never a number."""
    detail: dict[str, Any] = {"category": content.category, "topic": content.topic}
    if content.districts:
        detail["districts"] = list(content.districts)
    if content.booked_on:
        detail["booked_on"] = content.booked_on.isoformat()
    if content.list_file:
        detail["list_numbers"] = listed
    return detail


def draft_from_file(parsed: ParsedNotice) -> Draft:
    return Draft(parsed.content, parsed.image, tuple(parsed.numbers))
