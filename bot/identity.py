"""Residents' numbers and texts are personal data: a keyed hash to find a resident, AES-GCM
to send to them, AES-GCM for what they wrote and what we wrote them. One secret, a separate
subkey for each use."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.errors import ConfigError


class NumberVault:
    """Derives separate keys for lookup and encryption from one secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a secret key is required")
        self._hash_key = hmac.new(secret, b"resident-id/v1", hashlib.sha256).digest()
        self._aead = AESGCM(hmac.new(secret, b"resident-number/v1", hashlib.sha256).digest())
        self.texts = TextVault(secret)

    def resident_id(self, number: str) -> str:
        """Stable, non-reversible id for a phone number (HMAC-SHA256, hex)."""
        return hmac.new(self._hash_key, number.encode(), hashlib.sha256).hexdigest()[:32]

    def encrypt(self, number: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, number.encode(), b"phone")

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], b"phone").decode()


class SealedTextError(ConfigError, ValueError):
    """A sealed text this key cannot open: the wrong BOT_SECRET_KEY, or an altered row."""


class TextVault:
    """Texts at rest (messages, replies, staff notes, conversation state): AES-GCM under a
    subkey of the same secret, stored as ASCII text (`enc1:` + base64 of nonce+ciphertext)
    so every backend keeps them in its ordinary text columns.

    Any Python string round-trips, lone surrogates included (encoded with surrogatepass):
    sealing never refuses a resident's message."""

    PREFIX = "enc1:"
    _AAD = b"resident-text/v1"

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ConfigError(
                "BOT_SECRET_KEY is needed to read residents' texts (in development the key "
                "is kept beside the database: run this where the bot runs, or pass --db)"
            )
        self._aead = AESGCM(hmac.new(secret, b"resident-text/v1", hashlib.sha256).digest())
        self._key = hmac.new(secret, b"resident-text-key/v1", hashlib.sha256).digest()

    def digest(self, text: str) -> str:
        """A keyed hash of a text, for a backend that must match equal texts (the FAQ's
        count of one question asked many times) without holding them in clear."""
        data = text.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()[:32]

    def seal(self, text: str, nonce: bytes | None = None) -> str:
        """`nonce`: only for bulk loaders that guarantee uniqueness under this key."""
        nonce = nonce or os.urandom(12)
        data = text.encode("utf-8", "surrogatepass")
        blob = nonce + self._aead.encrypt(nonce, data, self._AAD)
        return self.PREFIX + base64.b64encode(blob).decode("ascii")

    def is_sealed(self, stored: str) -> bool:
        return stored.startswith(self.PREFIX)

    def open(self, stored: str) -> str:
        """The text of a sealed value; ValueError when it is not one of ours (another key,
        altered or cut)."""
        if not self.is_sealed(stored):
            raise SealedTextError("not a sealed text")
        try:
            blob = base64.b64decode(stored[len(self.PREFIX) :], validate=True)
            data = self._aead.decrypt(blob[:12], blob[12:], self._AAD)
        except (binascii.Error, InvalidTag) as exc:
            raise SealedTextError(
                "a stored text cannot be opened with this BOT_SECRET_KEY (was the key "
                "changed, or the database written with another?)"
            ) from exc
        return data.decode("utf-8", "surrogatepass")


def mask_number(number: str) -> str:
    """For the rare place a person must recognise a number: keep only the last 2 digits."""
    return "*" * max(len(number) - 2, 0) + number[-2:]
