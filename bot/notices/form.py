"""A notice as the console's form sends it (JSON): the same fields as the notice file, the
card's image as base64 and the recipient list as CSV text. Structural problems are
reported by field, like the rules' (bot.notices.checker)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from bot.clock import TOKYO, parse_instant
from bot.notices.checker import NoticeProblem
from bot.notices.desk import ContentRefused, Draft
from bot.notices.policy import NoticePolicy
from bot.notices.spec import image_type, numbers_in
from bot.store.records import NoticeAsk, NoticeButton, NoticeCard, NoticeContent

MAX_LIST_LINES = 200_000  # larger lists: `bot notices create` (the file is read locally)


class _Form:
    def __init__(self) -> None:
        self.problems: list[NoticeProblem] = []

    def error(self, field: str, message: str) -> None:
        self.problems.append(NoticeProblem(field, message))

    def text(self, data: dict[str, Any], key: str, field: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(field, "入力してください")
            return ""
        if not isinstance(value, str):
            self.error(field, "文字で入力してください")
            return ""
        return value

    def texts(self, data: dict[str, Any], key: str, field: str) -> tuple[str, ...]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(field, "文字のリストで入力してください")
            return ()
        return tuple(v.strip() for v in value if v.strip())

    def instant(self, data: dict[str, Any], key: str) -> dt.datetime | None:
        value = data.get(key)
        if not value:
            return None
        if isinstance(value, str):
            try:
                found = parse_instant(value)
                return found if found.tzinfo else found.replace(tzinfo=TOKYO)
            except ValueError:
                pass
        self.error(key, "日時を 2026-12-07T09:00 の形で入力してください")
        return None


def draft_from_form(
    body: dict[str, Any], policy: NoticePolicy, districts: dict[str, str]
) -> tuple[Draft, bool, bool]:
    """(the draft, keep the stored image, keep the stored list). ContentRefused lists the
    fields that cannot be read."""
    f = _Form()
    names = tuple(districts.get(n, n) for n in f.texts(body, "districts", "audience.districts"))
    booked = None
    if body.get("booked_on"):
        try:
            booked = dt.date.fromisoformat(str(body["booked_on"]))
        except ValueError:
            f.error("audience.booked_on", "日付を 2026-12-08 の形で入力してください")
    card, image, keep_image = _card(f, body, policy)
    numbers, list_name, keep_list = _list(f, body)
    content = NoticeContent(
        title=f.text(body, "title", "title", required=True),
        category=f.text(body, "category", "category", required=True),
        topic=f.text(body, "topic", "topic", required=True),
        text=f.text(body, "text", "text", required=True),
        districts=names,
        booked_on=booked,
        card=card,
        ask=_ask(f, body),
        send_at=f.instant(body, "send_at"),
        expires_at=f.instant(body, "expires_at"),
        list_file=list_name,
    )
    if f.problems:
        raise ContentRefused(f.problems)
    return Draft(content, image, tuple(numbers)), keep_image, keep_list


def _card(
    f: _Form, body: dict[str, Any], policy: NoticePolicy
) -> tuple[NoticeCard | None, tuple[str, bytes] | None, bool]:
    rich = body.get("rich")
    if not rich:
        return None, None, False
    if not isinstance(rich, dict):
        f.error("rich", "カードの内容を読み取れませんでした")
        return None, None, False
    buttons = []
    for i, item in enumerate(rich.get("buttons") or [], 1):
        if not isinstance(item, dict):
            f.error(f"rich.buttons[{i}]", "ボタンの内容を読み取れませんでした")
            continue
        kind = item.get("kind")
        value = f.text(item, "value", f"rich.buttons[{i}]")
        buttons.append(
            NoticeButton(
                label=f.text(item, "label", f"rich.buttons[{i}].label", required=True),
                url=value if kind == "url" else None,
                dial=value if kind == "dial" else None,
                reply=value if kind == "reply" else None,
            )
        )
    image, keep, name = None, False, None
    upload = rich.get("image")
    if upload == "keep":
        keep, name = True, rich.get("image_name") or "image"
    elif isinstance(upload, dict):
        try:
            data = base64.b64decode(str(upload.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        kind = image_type(data)
        if kind is None:
            f.error("rich.image", "PNG・JPEG・GIF の画像を選んでください")
        elif len(data) > policy.image_max_bytes:
            f.error("rich.image", f"画像は{policy.image_max_bytes:,}バイトまでです")
        else:
            image, name = (kind, data), str(upload.get("name") or "image")
    card = NoticeCard(
        title=f.text(rich, "title", "rich.title", required=True),
        description=f.text(rich, "description", "rich.description"),
        image=name,
        buttons=tuple(buttons),
    )
    return card, image, keep


def _list(f: _Form, body: dict[str, Any]) -> tuple[list[str], str | None, bool]:
    """The list's numbers (E.164), its name, and whether the stored list is kept."""
    upload = body.get("list")
    if not upload:
        return [], None, False
    if upload == "keep":
        return [], str(body.get("list_name") or "list.csv"), True
    if not isinstance(upload, dict) or not isinstance(upload.get("text"), str):
        f.error("audience.list", "名簿を読み取れませんでした")
        return [], None, False
    lines = upload["text"].splitlines()
    if len(lines) > MAX_LIST_LINES:
        f.error(
            "audience.list",
            f"画面からの名簿は{MAX_LIST_LINES:,}行までです（bot notices create を使ってください）",
        )
        return [], None, False
    numbers, bad = numbers_in(lines)
    for number, _ in bad[:20]:
        f.error("audience.list", f"{number}行目が電話番号として読めません")
    if not numbers:
        f.error("audience.list", "名簿に電話番号がありません")
    return numbers, str(upload.get("name") or "list.csv"), False


def _ask(f: _Form, body: dict[str, Any]) -> NoticeAsk | None:
    ask = body.get("ask")
    if not ask:
        return None
    if not isinstance(ask, dict):
        f.error("ask", "質問の内容を読み取れませんでした")
        return None
    return NoticeAsk(
        question=f.text(ask, "question", "ask.question", required=True),
        choices=f.texts(ask, "choices", "ask.choices"),
        handoff=f.texts(ask, "handoff", "ask.handoff"),
    )
