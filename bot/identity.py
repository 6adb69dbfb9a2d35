"""Residents' numbers are personal data: a keyed hash to find them, AES-GCM to send to them."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class NumberVault:
    """Derives separate keys for lookup and encryption from one secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a secret key is required")
        self._hash_key = hmac.new(secret, b"resident-id/v1", hashlib.sha256).digest()
        self._aead = AESGCM(hmac.new(secret, b"resident-number/v1", hashlib.sha256).digest())

    def resident_id(self, number: str) -> str:
        """Stable, non-reversible id for a phone number (HMAC-SHA256, hex)."""
        return hmac.new(self._hash_key, number.encode(), hashlib.sha256).hexdigest()[:32]

    def encrypt(self, number: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, number.encode(), b"phone")

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], b"phone").decode()


def mask_number(number: str) -> str:
    """For the rare place a person must recognise a number: keep only the last 2 digits."""
    return "*" * max(len(number) - 2, 0) + number[-2:]
