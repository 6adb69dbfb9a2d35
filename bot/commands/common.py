"""What every command shares: the usage error (exit 2, one line) and the city it works on."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.errors import BotError

if TYPE_CHECKING:
    from bot.cityfolder import CityFolder


class UsageError(BotError):
    pass


def city_of(args: argparse.Namespace, require: bool = True) -> CityFolder:
    """The city a command works on (--flows, BOT_FLOWS, ./flows); checked unless asked not
    to, so a wrong folder is one line saying how to fix it, before anything is written."""
    from bot.cityfolder import CityFolder

    city = CityFolder.locate(getattr(args, "flows", None))
    return city.require() if require else city
