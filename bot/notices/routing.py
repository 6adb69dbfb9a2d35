"""How a notice reaches a number the bot has never heard from (an imported list, a staff
phone for a test): +メッセージ first where the city has it (the delivery worker falls back
to SMS when the phone cannot take it), else the SMS provider, else the simulator."""

from __future__ import annotations

from bot.channels.settings import ChannelSettings
from bot.store.records import Route


def default_route(settings: ChannelSettings, simulator: bool) -> Route:
    if settings.rcs is not None:
        return Route("rcs", "rcs")
    if settings.twilio is not None:
        return Route("twilio", "sms")
    if settings.gateway is not None:
        return Route("gateway", "sms")
    return Route("sim", "sms") if simulator else Route("twilio", "sms")
