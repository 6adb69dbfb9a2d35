"""Dates in a resident's text, resolved against the clock and always to the future.

Works on the analysis' surface view, where numerals are already ASCII digits
(十二月三日 → 12月3日, １２/１０ → 12/10). Weeks start on Monday: 来週の火曜 is the
Tuesday of the next calendar week. A bare weekday (金曜日) is the next one after today.
A month-day without a year is its next occurrence from today. An explicit date in the
past (a year or 令和 year given: 2026年11月1日, R8.11.1, 2025/12/3) is dropped: the
contract's dates are always today or later, and the flow asks for a date again.
Written forms: 12月3日, 12/3, 12.3, 2026.12.3, 令和8年12月3日, R8.12.3 (R, 令和, れいわ).
Kana relative words (あす, きょう, あした) count only as whole words (きょうだい is not 今日).
A weekday right after a calendar date confirms it (12月4日(金)); after another weekday or
joined by か/と/や (金曜か土曜) it is another date.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from functools import lru_cache

import jpholiday

from bot.nlu.textkey import is_kana, key

_WEEKDAYS = {
    "月": 0,
    "げつ": 0,
    "火": 1,
    "か": 1,
    "水": 2,
    "すい": 2,
    "木": 3,
    "もく": 3,
    "金": 4,
    "きん": 4,
    "土": 5,
    "ど": 5,
    "日": 6,
    "にち": 6,
}
_RELATIVE_DAYS = {
    "今日": 0,
    "きょう": 0,
    "本日": 0,
    "ほんじつ": 0,
    "明日": 1,
    "あした": 1,
    "あす": 1,
    "明後日": 2,
    "あさって": 2,
    "明々後日": 3,
    "明明後日": 3,
    "しあさって": 3,
}
_WEEK_OFFSETS = {
    "今週": 0,
    "こんしゅう": 0,
    "来週": 1,
    "らいしゅう": 1,
    "再来週": 2,
    "さらいしゅう": 2,
    "さ来週": 2,
}
_MONTH_OFFSETS = {"今月": 0, "こんげつ": 0, "来月": 1, "らいげつ": 1, "再来月": 2, "さらいげつ": 2}

_WEEKDAY = (
    r"(?:(?P<wd>[月火水木金土日])(?:曜日|曜|よう日|ようび)"
    r"|(?P<wk>げつ|か|すい|もく|きん|ど|にち)ようび)"
)
_PATTERN = re.compile(
    "|".join(
        [
            r"(?P<era>令和|れいわ)(?P<ey>\d{1,2}|元)年(?P<em>\d{1,2})月(?P<ed>\d{1,2})日",
            r"(?<![a-z])(?P<era2>令和|れいわ|r)(?P<ey2>\d{1,2}|元)(?P<es>[./])(?P<em2>\d{1,2})(?P=es)"
            r"(?P<ed2>\d{1,2})(?![\d.])",
            r"(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月の?(?P<d>\d{1,2})日",
            r"(?<![\d-])(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})(?![\d-])",  # 2026-12-04
            r"(?:(?P<sy>\d{4})/)?(?P<sm>\d{1,2})/(?P<sd>\d{1,2})(?![\d/])",
            r"(?<![\d.])(?:(?P<dy>\d{4})\.)?(?P<dm>\d{1,2})\.(?P<dd>\d{1,2})"
            r"(?![\d.]|[a-z%]|人|円|畳|倍|万|千|キロ|きろ|センチ|せんち|メートル|めーとる|ミリ|みり)",
            r"(?P<mrel>" + "|".join(_MONTH_OFFSETS) + r")の?(?P<md>\d{1,2})日",
            r"(?P<n>\d{1,3})(?P<unit>日|週間)(?:後|ご)",
            r"(?:(?P<wrel>"
            + "|".join(sorted(_WEEK_OFFSETS, key=len, reverse=True))
            + r"|今度|こんど|次|つぎ)の?)?"
            + _WEEKDAY,
            r"(?P<rel>" + "|".join(sorted(_RELATIVE_DAYS, key=len, reverse=True)) + ")",
            r"(?<![\d月/])(?P<bd>\d{1,2})日(?!後|ご|間|前|以内|ほど|くらい|ぐらい|だけ|中|じゅう|ずつ|おき|分)",
        ]
    )
)


def _safe(year: int, month: int, day: int) -> date | None:
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    return date(year, month, day)


def _month_day(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        candidate = _safe(year, month, day)
        if candidate and candidate >= today:
            return candidate
    return None


def _add_months(today: date, months: int, day: int) -> date | None:
    index = today.month - 1 + months
    return _safe(today.year + index // 12, index % 12 + 1, day)


def _weekday(today: date, weekday: int, relation: str | None) -> date:
    if relation in _WEEK_OFFSETS:
        monday = today - timedelta(days=today.weekday())
        candidate = monday + timedelta(days=7 * _WEEK_OFFSETS[relation] + weekday)
        return candidate if candidate >= today else candidate + timedelta(days=7)
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _explicit(year: int, month: int, day: int, today: date) -> date | None:
    """A date with its year written out: None when it does not exist or has passed."""
    found = _safe(year, month, day)
    return found if found is not None and found >= today else None


def _resolve(match: re.Match[str], today: date) -> date | None:
    group = match.group
    if group("era") or group("era2"):
        era_year = group("ey") or group("ey2")
        year = 1 if era_year == "元" else int(era_year)
        month, day = (group("em"), group("ed")) if group("era") else (group("em2"), group("ed2"))
        return _explicit(2018 + year, int(month), int(day), today)
    if group("iy"):
        return _explicit(int(group("iy")), int(group("im")), int(group("id")), today)
    if group("m"):
        if group("y"):
            return _explicit(int(group("y")), int(group("m")), int(group("d")), today)
        return _month_day(today, int(group("m")), int(group("d")))
    if group("sm"):
        if group("sy"):
            return _explicit(int(group("sy")), int(group("sm")), int(group("sd")), today)
        return _month_day(today, int(group("sm")), int(group("sd")))
    if group("dm"):
        if group("dy"):
            return _explicit(int(group("dy")), int(group("dm")), int(group("dd")), today)
        return _month_day(today, int(group("dm")), int(group("dd")))
    if group("mrel"):
        offset = _MONTH_OFFSETS[group("mrel")]
        found = _add_months(today, offset, int(group("md")))
        if found is not None and found < today:
            found = _add_months(today, offset + 1, int(group("md")))
        return found
    if group("n"):
        days = int(group("n")) * (7 if group("unit") == "週間" else 1)
        return today + timedelta(days=days)
    if group("wd") or group("wk"):
        return _weekday(today, _WEEKDAYS[group("wd") or group("wk")], group("wrel"))
    if group("rel"):
        return today + timedelta(days=_RELATIVE_DAYS[group("rel")])
    if group("bd"):
        day = int(group("bd"))
        for months in range(3):
            found = _add_months(today, months, day)
            if found is not None and found >= today:
                return found
    return None


@lru_cache(maxsize=8)
def _holidays(year: int) -> tuple[tuple[str, date], ...]:
    named = []
    for year_ in (year, year + 1):
        for day, name in jpholiday.year_holidays(year_):
            if "休日" not in name:  # 振替休日 / 国民の休日 are not names people use
                named.append((key(name), day))
    return tuple(named)


# Between two weekdays, these make them alternatives (金曜か土曜), not a confirmation.
_ALTERNATIVES = re.compile(r"か|と|や|または|又は|or|,|、|/|~|〜|～|-")
_CALENDAR = ("era", "era2", "m", "sm", "dm", "md", "bd")


def find_dates(
    surface: str,
    today: date,
    starts: frozenset[int] | None = None,
    ends: frozenset[int] | None = None,
) -> tuple[list[date], list[tuple[int, int]]]:
    """Dates in order of appearance (no duplicates) and the character spans they used.

    `starts`/`ends`: token boundaries of `surface`; kana relative words must span whole
    tokens when they are given.
    """
    found: list[date] = []
    spans: list[tuple[int, int]] = []
    previous_calendar = False
    previous_week: str | None = None  # the week word of the last weekday (来週の木曜)
    for match in _PATTERN.finditer(surface):
        weekday = bool(match.group("wd") or match.group("wk"))
        if (
            weekday
            and spans
            and previous_calendar
            and match.start() - spans[-1][1] <= 2
            and not match.group("wrel")
            and not _ALTERNATIVES.search(surface[spans[-1][1] : match.start()])
        ):
            spans.append(match.span())  # 12月4日(金曜): the weekday only confirms the date
            previous_calendar = False
            continue
        relative = match.group("rel")
        if (
            relative
            and starts is not None
            and ends is not None
            and is_kana(relative)
            and (match.start() not in starts or match.end() not in ends)
        ):
            continue
        if (
            weekday
            and not match.group("wrel")
            and previous_week
            and spans
            and _ALTERNATIVES.fullmatch(surface[spans[-1][1] : match.start()].strip("の"))
        ):
            # 来週の木曜か金曜: the alternative weekday is in the same week.
            resolved: date | None = _weekday(
                today, _WEEKDAYS[match.group("wd") or match.group("wk")], previous_week
            )
        else:
            resolved = _resolve(match, today)
        previous_week = (match.group("wrel") or previous_week) if weekday else None
        spans.append(match.span())
        previous_calendar = any(match.group(name) for name in _CALENDAR)
        if resolved is not None and resolved not in found:
            found.append(resolved)
    if "日" in surface:
        for name, day in _holidays(today.year):
            position = surface.find(name)
            if (
                position >= 0
                and day >= today
                and day not in found
                and not any(s <= position < e for s, e in spans)
            ):
                found.append(day)
                spans.append((position, position + len(name)))
                break
    return found, spans
