"""A notice as residents' phones will show it: the SMS (the question's choices as numbered
lines, the opt-out line last), the +メッセージ text and card, segments and cost."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.segment import analyze
from bot.channels.sms_choices import render_choices
from bot.notices.policy import NoticePolicy
from bot.store.records import NoticeContent, NoticeRendering


def _body_and_tail(text: str, policy: NoticePolicy) -> tuple[str, str]:
    """The text without its closing opt-out line, and that line (or "")."""
    body = text.strip()
    line = policy.opt_out_line
    if body.endswith(line):
        return body[: -len(line)].rstrip(), line
    return body, ""


def _compose(body: str, middle: str, tail: str) -> str:
    return "\n".join(part for part in (body, middle, tail) if part)


def render(content: NoticeContent, policy: NoticePolicy) -> NoticeRendering:
    """The question goes after the text and before the opt-out line, which stays last."""
    body, tail = _body_and_tail(content.text, policy)
    ask = content.ask
    sms_ask = rcs_ask = ""
    if ask is not None:
        sms_ask = f"{ask.question}\n{render_choices(list(ask.choices))}"
        rcs_ask = ask.question
    sms = _compose(body, sms_ask, tail)
    return NoticeRendering(
        sms_text=sms,
        rcs_text=_compose(body, rcs_ask, tail),
        suggestions=tuple(ask.choices) if ask else (),
        segments=analyze(sms).segments,
    )


@dataclass(frozen=True)
class Cost:
    segments: int
    per_sms_yen: int
    recipients: int

    @property
    def total_yen(self) -> int:
        return self.per_sms_yen * self.recipients


def cost(rendering: NoticeRendering, policy: NoticePolicy, recipients: int) -> Cost:
    """Every recipient counted as an SMS (the most it can cost: +メッセージ costs no more)."""
    per_sms = rendering.segments * policy.segment_cost_yen
    return Cost(rendering.segments, per_sms, recipients)
