"""The Japanese telephone numbering plan (総務省 電気通信番号計画): is this a resident's number?

One small module for every place that takes a number from outside — provider webhooks, the
simulator, city recipient lists — so "+8190123" is refused in one place, the same way.

Accepted (national significant number = the digits after +81, or after the leading 0):
  mobile     070 / 080 / 090 + 8 digits            (+81 70|80|90 xxxx xxxx)
  IP phone   050 + 8 digits                        (+81 50 xxxx xxxx)
  landline   10 digits: 0 + area code + subscriber (+81 3 xxxx xxxx, +81 476 xx xxxx)
Refused: wrong lengths, 0X0 prefixes other than the above (020 M2M, 060 reserved), and the
10-digit service numbers a resident cannot text from (0120 freephone, 0180, 0570 ナビダイヤル,
0990 premium).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MOBILE = "mobile"
IP = "ip"
LANDLINE = "landline"

_MOBILE = re.compile(r"[789]0[0-9]{8}")
_IP = re.compile(r"50[0-9]{8}")
# After the trunk 0 an area code never starts with 0, and X0 is a non-geographic prefix.
_LANDLINE = re.compile(r"[1-9][1-9][0-9]{7}")
_SERVICE = ("120", "180", "570", "990")
# What people type between digit groups: spaces, hyphens and minus signs of every width,
# the long-vowel mark an IME gives for "-", dots and brackets.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー・.()\[\]]")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class InvalidNumber(ValueError):
    """Not a number a resident can text from; the message says why (no digits echoed)."""


@dataclass(frozen=True)
class JapaneseNumber:
    e164: str  # "+819012345678"
    kind: str  # MOBILE | IP | LANDLINE

    @property
    def domestic(self) -> str:
        """The number as dialled in Japan: "09012345678"."""
        return "0" + self.e164[3:]


def kind_of(national: str) -> str | None:
    """MOBILE, IP or LANDLINE for a national significant number (no leading 0), else None."""
    if _MOBILE.fullmatch(national):
        return MOBILE
    if _IP.fullmatch(national):
        return IP
    if _LANDLINE.fullmatch(national) and not national.startswith(_SERVICE):
        return LANDLINE
    return None


def from_e164(number: str) -> JapaneseNumber:
    """A strict E.164 "+81…" number (as providers send it) checked against the plan."""
    if not number.startswith("+81") or not E164.fullmatch(number):
        raise InvalidNumber("not a +81 number in E.164 form")
    kind = kind_of(number[3:])
    if kind is None:
        raise InvalidNumber("not a Japanese mobile, IP or landline number")
    return JapaneseNumber(number, kind)


def parse(text: str) -> JapaneseNumber:
    """A number as people write it: "090-1234-5678", "０９０ー１２３４ー５６７８",
    "(03) 1234-5678", "+81 90 1234 5678", "+81 (0)90…", "0081 90…"."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if compact.startswith("+81"):
        national = compact[3:]
    elif compact.startswith("0081"):
        national = compact[4:]
    elif compact.startswith("0") and not compact.startswith("00"):
        national = compact[1:]
    else:
        raise InvalidNumber("expected a Japanese number: 0… or +81…")
    if national.startswith("0"):  # "+81 090…" and "+81 (0)90…": the trunk 0 typed anyway
        national = national[1:]
    if not national.isascii() or not national.isdigit():
        raise InvalidNumber("a phone number has only digits and separators")
    return from_e164("+81" + national)


def is_japanese(number: str) -> bool:
    return number.startswith("+81")


def check_e164(number: str) -> str:
    """An E.164 number from a provider: any country's shape, and the plan for +81."""
    if not E164.fullmatch(number):
        raise InvalidNumber("not an E.164 number (+ and 7 to 15 digits)")
    if is_japanese(number):
        from_e164(number)
    return number
