"""The notice file (contract: `bot notices create FILE`), read strictly: every problem, the
file's structure and the city's rules alike, as `file:line: message`.

The recipient list and the card's image are read from beside the file; the list's numbers
are checked against the numbering plan here and hashed and encrypted by the caller (the
file is never kept, and no number is ever shown back).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import numbering
from bot.clock import TOKYO, parse_instant
from bot.domain import data
from bot.errors import InputError
from bot.notices.checker import NoticeProblem, check_content
from bot.notices.policy import NoticePolicy
from bot.store.records import NoticeAsk, NoticeButton, NoticeCard, NoticeContent
from bot.yamlsource import LineDict, LineList, YamlSourceError, load_yaml

TOP_KEYS = (
    "title",
    "category",
    "topic",
    "audience",
    "text",
    "rich",
    "ask",
    "send_at",
    "expires_at",
)
AUDIENCE_KEYS = ("districts", "booked_on", "list")
RICH_KEYS = ("title", "description", "image", "buttons")
BUTTON_KEYS = ("label", "url", "dial", "reply")
ASK_KEYS = ("question", "choices", "handoff")
IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MAX_LIST_BYTES = 64 * 1024 * 1024


class NoticeFileError(InputError):
    """A notice file (or its list or image) with problems: one `file:line: message` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ParsedNotice:
    content: NoticeContent
    image: tuple[str, bytes] | None = None  # (content type, bytes)
    numbers: list[str] = field(default_factory=list)  # E.164, from the list; never shown
    warnings: list[str] = field(default_factory=list)


def image_type(data: bytes) -> str | None:
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


def city_districts(flows_dir: Path) -> dict[str, str]:
    """What staff may write for each 地区 of the city (南, 南地区) → its name."""
    return district_names(data.load("districts", Path(flows_dir) / "data")["districts"])


def district_names(rows: list[dict[str, Any]]) -> dict[str, str]:
    """What staff may write for a 地区 (南, 南地区) → its name in districts.yaml."""
    names: dict[str, str] = {}
    for row in rows:
        names[row["name"]] = row["name"]
        names[row["label"]] = row["name"]
    return names


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = str(path)
        self.problems: list[str] = []
        self.lines: list[str] = []

    def error(self, line: int, message: str, file: str | None = None) -> None:
        self.problems.append(f"{file or self.file}:{line}: {message}")

    def line_of(self, data: Any, key: Any = None) -> int:
        if isinstance(data, LineDict):
            return data.key_lines.get(key, data.line) if key is not None else data.line
        if isinstance(data, LineList):
            if isinstance(key, int) and 0 <= key < len(data.item_lines):
                return data.item_lines[key]
            return data.line
        return 1

    def find(self, start: int, snippet: str | None) -> int:
        """The first line at or after `start` whose text holds `snippet` (NFKC)."""
        if snippet:
            wanted = unicodedata.normalize("NFKC", snippet.strip())
            for number in range(start, len(self.lines) + 1):
                if wanted and wanted in unicodedata.normalize("NFKC", self.lines[number - 1]):
                    return number
        return start

    def keys(self, data: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(
                    self.line_of(data, key),
                    f"{where}: unknown key `{key}` (allowed: {', '.join(allowed)})",
                )

    def text(self, data: LineDict, key: str, where: str, required: bool = True) -> str | None:
        if key not in data or data[key] is None:
            if required:
                self.error(self.line_of(data, key), f"{where}: required")
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.error(self.line_of(data, key), f"{where}: expected text")
            return None
        return str(value)

    def texts(self, data: LineDict, key: str, where: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(self.line_of(data, key), f"{where}: expected a list, e.g. [南, 東]")
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                self.error(self.line_of(value, i), f"{where}[{i + 1}]: expected text")
            else:
                out.append(str(item))
        return tuple(out)

    def instant(self, data: LineDict, key: str) -> dt.datetime | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=TOKYO)
        if isinstance(value, str):
            try:
                return parse_instant(value)
            except ValueError:
                pass
        self.error(
            self.line_of(data, key),
            f'{key}: expected a time like "2026-12-07T09:00:00+09:00", got {value!r}',
        )
        return None


def parse_notice_file(
    path: Path | str,
    policy: NoticePolicy,
    districts: dict[str, str],
    now: dt.datetime | None = None,
) -> ParsedNotice:
    """Read and check a notice file; NoticeFileError lists every problem (file:line)."""
    path = Path(path)
    r = _Reader(path)
    try:
        data = load_yaml(path)
    except YamlSourceError as exc:
        raise NoticeFileError([str(exc)]) from None
    r.lines = path.read_text(encoding="utf-8").splitlines()
    if not isinstance(data, LineDict):
        raise NoticeFileError([f"{r.file}:1: a notice file is a mapping (title, category, …)"])
    r.keys(data, TOP_KEYS, "notice")
    parsed = ParsedNotice(content=NoticeContent(title="", category="", topic="", text=""))
    audience = data.get("audience")
    names: tuple[str, ...] = ()
    booked_on: dt.date | None = None
    list_file: str | None = None
    if audience is not None and not isinstance(audience, LineDict):
        r.error(r.line_of(data, "audience"), "audience: expected a mapping (districts, …)")
    elif isinstance(audience, LineDict):
        r.keys(audience, AUDIENCE_KEYS, "audience")
        written = r.texts(audience, "districts", "audience.districts")
        names = tuple(districts.get(name.strip(), name.strip()) for name in written)
        booked_on = _day(r, audience)
        list_file = r.text(audience, "list", "audience.list", required=False)
        if list_file and (names or booked_on):
            parsed.warnings.append(
                f"{r.file}:{r.line_of(audience, 'list')}: warning: with a list, the list alone "
                "decides who receives the notice (districts and booked_on are not used)"
            )
        if list_file:
            parsed.numbers = _numbers(r, path.parent / list_file, r.line_of(audience, "list"))
    card, image = _card(r, data, path.parent, policy)
    parsed.image = image
    content = NoticeContent(
        title=r.text(data, "title", "title") or "",
        category=r.text(data, "category", "category") or "",
        topic=r.text(data, "topic", "topic") or "",
        text=r.text(data, "text", "text") or "",
        districts=names,
        booked_on=booked_on,
        card=card,
        ask=_ask(r, data),
        send_at=r.instant(data, "send_at"),
        expires_at=r.instant(data, "expires_at"),
        list_file=Path(list_file).name if list_file else None,
    )
    parsed.content = content
    if not r.problems:  # the rules make sense only on a well-formed file
        known = set(districts.values())
        for problem in check_content(content, policy, known, now):
            r.error(_problem_line(r, data, problem), str(problem))
    if r.problems:
        raise NoticeFileError(r.problems)
    return parsed


def _day(r: _Reader, audience: LineDict) -> dt.date | None:
    value = audience.get("booked_on")
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    r.error(r.line_of(audience, "booked_on"), "audience.booked_on: a date like 2026-12-08")
    return None


def _numbers(r: _Reader, path: Path, line: int) -> list[str]:
    """The list's numbers as E.164 (duplicates once). A header line is skipped; any other
    line that is not a Japanese number is reported by its line (never its digits)."""
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            r.error(line, f"audience.list: {path.name} is larger than 64 MB")
            return []
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        r.error(line, f"audience.list: no such file: {path.name} (relative to the notice file)")
        return []
    except (OSError, UnicodeDecodeError):
        r.error(line, f"audience.list: cannot read {path.name} as UTF-8 text")
        return []
    numbers, bad = numbers_in(raw.splitlines())
    for number, reason in bad:
        r.error(number, f"not a phone number: {reason}", file=str(path))
    if not numbers and not bad:
        r.error(line, f"audience.list: {path.name} has no numbers")
    return numbers


def numbers_in(lines: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """The numbers of a list (first column, E.164, each once) and the lines that are not
    Japanese numbers, with why (never their digits). A header line is skipped."""
    found: dict[str, None] = {}
    bad: list[tuple[int, str]] = []
    for number, text in enumerate(lines, 1):
        cell = text.split(",")[0].strip().strip('"').strip()
        if not cell:
            continue
        try:
            found[numbering.parse(cell).e164] = None
        except numbering.InvalidNumber as exc:
            if number == 1 and not any(ch.isdigit() for ch in cell):
                continue  # a header (電話番号, phone)
            bad.append((number, str(exc)))
    return list(found), bad


def _card(
    r: _Reader, data: LineDict, folder: Path, policy: NoticePolicy
) -> tuple[NoticeCard | None, tuple[str, bytes] | None]:
    rich = data.get("rich")
    if rich is None:
        return None, None
    if not isinstance(rich, LineDict):
        r.error(r.line_of(data, "rich"), "rich: expected a mapping (title, description, …)")
        return None, None
    r.keys(rich, RICH_KEYS, "rich")
    image = None
    name = r.text(rich, "image", "rich.image", required=False)
    if name:
        image = _image(r, folder / name, r.line_of(rich, "image"), policy)
    buttons = []
    raw = rich.get("buttons") or []
    if not isinstance(raw, list):
        r.error(r.line_of(rich, "buttons"), "rich.buttons: expected a list")
        raw = []
    for i, item in enumerate(raw):
        where = f"rich.buttons[{i + 1}]"
        if not isinstance(item, LineDict):
            r.error(r.line_of(raw, i), f"{where}: expected a mapping like {{label: …, url: …}}")
            continue
        r.keys(item, BUTTON_KEYS, where)
        buttons.append(
            NoticeButton(
                label=r.text(item, "label", f"{where}.label") or "",
                url=r.text(item, "url", f"{where}.url", required=False),
                dial=r.text(item, "dial", f"{where}.dial", required=False),
                reply=r.text(item, "reply", f"{where}.reply", required=False),
            )
        )
    card = NoticeCard(
        title=r.text(rich, "title", "rich.title") or "",
        description=r.text(rich, "description", "rich.description", required=False) or "",
        image=Path(name).name if name else None,
        buttons=tuple(buttons),
    )
    return card, image


def _image(r: _Reader, path: Path, line: int, policy: NoticePolicy) -> tuple[str, bytes] | None:
    try:
        size = path.stat().st_size
        if size > policy.image_max_bytes:
            r.error(
                line,
                f"rich.image: {path.name} is {size:,} bytes (at most {policy.image_max_bytes:,})",
            )
            return None
        content = path.read_bytes()
    except FileNotFoundError:
        r.error(line, f"rich.image: no such file: {path.name} (relative to the notice file)")
        return None
    except OSError:
        r.error(line, f"rich.image: cannot read {path.name}")
        return None
    kind = image_type(content)
    if kind is None:
        r.error(line, f"rich.image: {path.name} is not a PNG, JPEG or GIF image")
        return None
    return kind, content


def _ask(r: _Reader, data: LineDict) -> NoticeAsk | None:
    ask = data.get("ask")
    if ask is None:
        return None
    if not isinstance(ask, LineDict):
        r.error(r.line_of(data, "ask"), "ask: expected a mapping (question, choices, handoff)")
        return None
    r.keys(ask, ASK_KEYS, "ask")
    return NoticeAsk(
        question=r.text(ask, "question", "ask.question") or "",
        choices=r.texts(ask, "choices", "ask.choices"),
        handoff=r.texts(ask, "handoff", "ask.handoff"),
    )


def _problem_line(r: _Reader, data: LineDict, problem: NoticeProblem) -> int:
    """Where in the file a rule's refusal points: the field's key, or the line of the
    offending snippet inside a multi-line text."""
    node: Any = data
    line = 1
    for part in problem.field.replace("]", "").split("."):
        name, _, index = part.partition("[")
        if isinstance(node, LineDict) and name in node:
            line = r.line_of(node, name)
            node = node[name]
            if index and isinstance(node, LineList) and int(index) - 1 < len(node):
                line = r.line_of(node, int(index) - 1)
                node = node[int(index) - 1]
        else:
            break
    return r.find(line, problem.snippet)
