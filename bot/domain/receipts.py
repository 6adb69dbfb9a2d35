"""受付番号: 8 characters people can read back over the phone without confusion."""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable

from bot.store.services import Bookings

# No 0/O and no 1/I: they are misread on paper and on small screens.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 8


def generate(choice: Callable[[str], str] = secrets.choice) -> str:
    return "".join(choice(ALPHABET) for _ in range(LENGTH))


def new_receipt(
    store: Bookings, choice: Callable[[str], str] = secrets.choice, attempts: int = 20
) -> str:
    """A receipt not yet used (32^8 ≈ 10^12 values, so a clash is rare; the store's
    uniqueness still guards the insert)."""
    for _ in range(attempts):
        receipt = generate(choice)
        if not store.receipt_taken(receipt):
            return receipt
    raise RuntimeError("could not find an unused receipt number")


def normalise(text: str) -> str:
    """What a resident typed (ｱ full-width, lower case, spaces, hyphens) → the stored form."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(char for char in folded if char.isalnum())


def looks_like_receipt(text: str) -> bool:
    value = normalise(text)
    return len(value) == LENGTH and all(char in ALPHABET for char in value)


def find_in(text: str) -> str | None:
    """A receipt inside a longer message (受付番号はAB3D5FGHです)."""
    folded = unicodedata.normalize("NFKC", text).upper()
    run = ""
    for char in folded + " ":
        if char in ALPHABET:
            run += char
            continue
        if char == "-" and run:
            continue
        if len(run) == LENGTH:
            return run
        run = ""
    return None
