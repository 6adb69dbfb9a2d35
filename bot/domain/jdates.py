"""Month and birth-date answers as residents type them (2027年1月, 1月, 令和7年3月10日, 1歳)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# 令和 starts in 2019: 令和N年 = 2018 + N.
_ERAS = {"令和": 2018, "平成": 1988}
_YMD = re.compile(r"(令和|平成)?(\d{1,4})[年/.\-](\d{1,2})[月/.\-](\d{1,2})日?")
_YM = re.compile(r"(令和|平成)?(\d{1,4})年(\d{1,2})月")
_M = re.compile(r"(\d{1,2})月")
_AGE = re.compile(r"(\d{1,2})\s*(歳|才|さい)")
# A month the child would start in: 「4月から」「2027年1月入所」 (not 「10月生まれ」).
_ENTRY_MONTH = re.compile(
    r"(?:(?:令和|平成)?\d{1,4}年)?\d{1,2}月(?=\s*(?:から|より|入所|入園|に入|の入|入り|頃から|ごろから))"
)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("元年", "1年")


def _year(era: str | None, value: str) -> int:
    return _ERAS[era] + int(value) if era else int(value)


def parse_month(text: str, today: date) -> date | None:
    """The first day of the month meant; a month without a year is the next such month
    after this one (in November, 「1月」 is next January and 「11月」 next November)."""
    text = _norm(text)
    if match := _YM.search(text):
        month = int(match.group(3))
        return date(_year(match.group(1), match.group(2)), month, 1) if 1 <= month <= 12 else None
    if match := _M.search(text):
        month = int(match.group(1))
        if not 1 <= month <= 12:
            return None
        year = today.year if month > today.month else today.year + 1
        return date(year, month, 1)
    return None


def parse_birth(text: str) -> date | None:
    text = _norm(text)
    if match := _YMD.search(text):
        try:
            return date(
                _year(match.group(1), match.group(2)), int(match.group(3)), int(match.group(4))
            )
        except ValueError:
            return None
    return None


def parse_age(text: str) -> int | None:
    text = _norm(text).strip()
    if match := _AGE.search(text):
        return int(match.group(1))
    return int(text) if text.isdigit() and len(text) <= 2 else None


def entry_month_in(text: str) -> str | None:
    """The entry month written in a longer message (「来年1月から入れる保育園」 → 「1月」), only
    in a clear form: a full date is a birth date, and 「3月に引っ越す」 is not an entry."""
    found = _ENTRY_MONTH.search(_YMD.sub(" ", _norm(text)))
    return found.group(0) if found else None


def has_written_age(text: str) -> bool:
    """An age written with 歳/才 (「4歳の子」), not a bare number (a menu pick)."""
    return _AGE.search(_norm(text)) is not None
