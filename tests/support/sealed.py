"""Reading sealed texts back in tests that look at the database with their own connection."""

from __future__ import annotations

import json
from typing import Any

from bot.identity import TextVault
from bot.store.codec import Codec


class Opener:
    def __init__(self, secret: bytes) -> None:
        self.codec = Codec(TextVault(secret))

    def text(self, stored: str) -> str:
        """A stored text column, opened (asserting it was sealed, when not empty)."""
        assert not stored or stored.startswith(TextVault.PREFIX), f"stored in clear: {stored!r}"
        return self.codec.open_text(stored)

    def obj(self, stored: str) -> Any:
        """A stored JSON object column (a payload, a conversation's state), opened."""
        return self.codec.open_obj(json.loads(stored))
