"""What a notice may say (the domain spec's "What a notice may say"), checked before it is
saved and again before it is approved: the prefix, no personal detail, links only to the
city's own domains (no shorteners), the length, the opt-out line, the card, the question.

Each refusal names the field (and the offending snippet, so a file's line can be found)
and says why, in the words staff read in the console and the CLI.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from bot import numbering
from bot.notices.policy import NoticePolicy
from bot.notices.render import render
from bot.store.records import NoticeContent

MAX_TITLE = 100
# A link as residents' phones would make one: with a scheme, www., or a bare host name
# followed by a path (bit.ly/abc, example.com/x). Matched on NFKC text (full-width too).
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'「」『』（）()、。，,]+"
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/[^\s<>\"'「」『』（）()、。，,]*)"
    r"|\b(?:[a-z0-9-]+\.)+(?:jp|com|net|org|ly|co|me|io|gl|to|gd|id|info|biz|xyz|link)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NoticeProblem:
    field: str  # text, rich.buttons[2].url, ask.choices[1], …
    message: str
    snippet: str | None = None  # the part of the value at fault (to find its line)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def links_in(text: str) -> list[str]:
    """Every link-like run in `text` (NFKC), e-mail domains included."""
    return [m.group(0).rstrip(".").rstrip("/") or m.group(0) for m in _LINK.finditer(normal(text))]


def host_of(link: str) -> str:
    candidate = link if "://" in link else f"https://{link}"
    try:
        host = urlsplit(candidate).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def _link_problem(link: str, policy: NoticePolicy) -> str | None:
    host = host_of(link)
    if host in policy.allowed_domains:
        return None
    allowed = "、".join(sorted(policy.allowed_domains))
    if host in policy.shorteners:
        return (
            f"短縮URL（{host}）は使えません。市のドメイン（{allowed}）のURLをそのまま書いてください"
        )
    return f"市のドメイン（{allowed}）以外へのリンクは使えません（{host or link}）"


class _Collector:
    def __init__(self, policy: NoticePolicy) -> None:
        self.policy = policy
        self.problems: list[NoticeProblem] = []

    def add(self, field: str, message: str, snippet: str | None = None) -> None:
        self.problems.append(NoticeProblem(field, message, snippet))

    def words(self, field: str, value: str) -> None:
        """Personal detail and links in any text residents will see."""
        flat = normal(value)
        for rule in self.policy.personal:
            match = rule.pattern.search(flat)
            if match:
                self.add(field, rule.reason, match.group(0))
        for link in links_in(value):
            problem = _link_problem(link, self.policy)
            if problem:
                self.add(field, problem, link)


def check_content(
    content: NoticeContent,
    policy: NoticePolicy,
    districts: set[str] | None = None,
    now: datetime | None = None,
) -> list[NoticeProblem]:
    """Every rule the content breaks. `districts`: the city's 地区 names (None: unchecked);
    `now`: refuse a send or expiry time already past."""
    c = _Collector(policy)
    if not content.title.strip():
        c.add("title", "件名（staff 用）を入れてください")
    elif len(content.title) > MAX_TITLE:
        c.add("title", f"件名は{MAX_TITLE}文字までです")
    category = policy.categories.get(content.category)
    if category is None:
        c.add("category", f"区分は {' / '.join(policy.categories)} のどれかです")
    if policy.topic(content.topic) is None:
        c.add("topic", f"話題は {' / '.join(t.id for t in policy.topics)} のどれかです")
    for i, name in enumerate(content.districts):
        if districts is not None and name not in districts:
            c.add(f"audience.districts[{i + 1}]", f"地区「{name}」はありません", name)
    _check_text(c, content, category.opt_out_line if category else False)
    _check_card(c, content)
    _check_ask(c, content)
    if content.send_at and content.expires_at and content.expires_at <= content.send_at:
        c.add("expires_at", "期限は送信日時より後にしてください")
    if now is not None and content.expires_at and content.expires_at <= now:
        c.add("expires_at", "期限がもう過ぎています")
    return c.problems


def _check_text(c: _Collector, content: NoticeContent, opt_out: bool) -> None:
    policy = c.policy
    text = content.text
    if not text.strip():
        c.add("text", "SMSの本文を入れてください")
        return
    if not text.lstrip().startswith(policy.prefix):
        c.add("text", f"本文は{policy.prefix}で始めてください", text.strip().splitlines()[0])
    c.words("text", text)
    if opt_out and not text.rstrip().endswith(policy.opt_out_line):
        c.add(
            "text",
            f"この区分の本文は最後を「{policy.opt_out_line}」で終えてください",
            text.rstrip().splitlines()[-1],
        )
    sms = render(content, policy)
    length = len(sms.sms_text)
    if length > policy.max_chars or sms.segments > policy.max_segments:
        c.add(
            "text",
            f"SMSの文面が{length}文字・{sms.segments}通分です。上限は{policy.max_chars}文字"
            f"（{policy.max_segments}通分）で、質問と配信停止の案内も含みます",
        )


def _check_card(c: _Collector, content: NoticeContent) -> None:
    policy = c.policy
    card = content.card
    if card is None:
        return
    if not card.title.strip():
        c.add("rich.title", "カードのタイトルを入れてください")
    elif len(card.title) > policy.max_title:
        c.add("rich.title", f"カードのタイトルは{policy.max_title}文字までです")
    c.words("rich.title", card.title)
    if len(card.description) > policy.max_description:
        c.add("rich.description", f"カードの説明は{policy.max_description}文字までです")
    c.words("rich.description", card.description)
    if len(card.buttons) > policy.max_buttons:
        c.add("rich.buttons", f"ボタンは{policy.max_buttons}つまでです")
    choices = set(content.ask.choices) if content.ask else set()
    for i, button in enumerate(card.buttons, 1):
        where = f"rich.buttons[{i}]"
        if not button.label.strip():
            c.add(f"{where}.label", "ボタンの文字を入れてください")
        elif len(button.label) > policy.max_label:
            c.add(f"{where}.label", f"ボタンの文字は{policy.max_label}文字までです", button.label)
        c.words(f"{where}.label", button.label)
        actions = [a for a in (button.url, button.dial, button.reply) if a]
        if len(actions) != 1:
            c.add(where, "ボタンには url・dial・reply のどれか一つを書いてください")
            continue
        if button.url:
            problem = _link_problem(button.url, policy)
            if not button.url.startswith("https://"):
                c.add(f"{where}.url", "ボタンのURLは https:// で始めてください", button.url)
            elif problem:
                c.add(f"{where}.url", problem, button.url)
        if button.dial:
            try:
                numbering.parse(button.dial)
            except numbering.InvalidNumber:
                c.add(f"{where}.dial", "電話番号として読めません", button.dial)
        if button.reply and button.reply not in choices:
            c.add(
                f"{where}.reply",
                "返信ボタンは質問（ask）の選択肢のどれかにしてください",
                button.reply,
            )


def _check_ask(c: _Collector, content: NoticeContent) -> None:
    policy = c.policy
    ask = content.ask
    if ask is None:
        return
    if not ask.question.strip():
        c.add("ask.question", "質問の文を入れてください")
    c.words("ask.question", ask.question)
    if not 2 <= len(ask.choices) <= policy.max_choices:
        c.add("ask.choices", f"選択肢は2〜{policy.max_choices}個にしてください")
    seen: set[str] = set()
    for i, choice in enumerate(ask.choices, 1):
        where = f"ask.choices[{i}]"
        if not choice.strip():
            c.add(where, "選択肢が空です")
        elif len(choice) > policy.max_choice_chars:
            c.add(where, f"選択肢は{policy.max_choice_chars}文字までです", choice)
        if choice in seen:
            c.add(where, f"選択肢「{choice}」が二つあります", choice)
        seen.add(choice)
        c.words(where, choice)
    for i, choice in enumerate(ask.handoff, 1):
        if choice not in seen:
            c.add(f"ask.handoff[{i}]", f"「{choice}」は選択肢にありません", choice)
