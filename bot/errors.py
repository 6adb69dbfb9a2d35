"""One error root, so callers can tell our failures from bugs."""


class BotError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigError(BotError):
    """Settings are missing or wrong; the message names the setting."""


class InputError(BotError):
    """Bad input from a user, staff or a provider; the message says what is wrong."""
