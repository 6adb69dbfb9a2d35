"""Answers to a notice's question (安否確認, アンケート): a reply within the answer window
(notices.yaml ask.answer_hours, 72 h) that picks a choice is that resident's answer; a
choice marked `handoff` hands the resident to staff at once, urgent in the console, in
office hours or not. Any other reply is an ordinary message to the bot.

A bare number (「1」「２番」) counts only while the notice is the last thing the bot sent
the resident: a 「1」 answering the bot's own numbered question is that question's. A tapped
chip, a card's reply button, or the choice's own words (「支援が必要です」) always count.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.channels.rich import POSTBACK_PREFIX
from bot.channels.sms_choices import choice_index
from bot.notices.policy import NoticePolicy, load_policy
from bot.store.records import OpenAsk
from bot.store.services import TurnServices

_TRIM = " 　。．.、,!！?？「」"


@dataclass
class Answered:
    """What the turn does instead of running the flows."""

    notice_id: str
    choice: str
    handoff: bool
    reply: str
    staff_note: str | None = None


def picked(text: str, postback: str | None, ask: OpenAsk) -> str | None:
    """The choice this reply picks, or None."""
    if postback and postback.startswith(POSTBACK_PREFIX):
        label = postback[len(POSTBACK_PREFIX) :]
        return label if label in ask.choices else None
    flat = unicodedata.normalize("NFKC", text or "").strip(_TRIM)
    if not flat:
        return None
    for choice in ask.choices:
        if flat == unicodedata.normalize("NFKC", choice).strip(_TRIM):
            return choice
    index = choice_index(flat)
    if index is not None and index < len(ask.choices) and ask.latest:
        return ask.choices[index]
    return None


class NoticeAnswers:
    """The turn runner's first look at a message (bot.pipeline.turns.TurnRunner)."""

    def __init__(self, policy: Callable[[], NoticePolicy]) -> None:
        self.policy = policy

    def take(
        self,
        resident_id: str,
        text: str,
        postback: str | None,
        services: TurnServices,
        now: datetime,
    ) -> Answered | None:
        policy = self.policy()
        ask = services.notices.open_ask(resident_id, now, policy.answer_hours)
        if ask is None:
            return None
        choice = picked(text, postback, ask)
        if choice is None:
            return None
        services.notices.answer(ask.notice_id, resident_id, choice, now)
        if choice not in ask.handoff:
            return Answered(ask.notice_id, choice, False, policy.reply_answered)
        services.cases.open(resident_id, now, "notice", urgent=True)
        note = f"お知らせ「{ask.title}」（{ask.notice_id}）に「{choice}」と回答しました。"
        return Answered(ask.notice_id, choice, True, policy.reply_handoff, note)


def notice_answers(flows_dir: Path) -> NoticeAnswers:
    """Answers to the city's notices (its notices.yaml), read before the flows."""
    return NoticeAnswers(lambda: load_policy(flows_dir))
