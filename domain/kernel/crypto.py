"""Personal data at rest: AES-256-GCM encryption and keyed look-up hashes (HMAC-SHA256), both
keyed from one secret through HKDF so each use gets its own key."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12
_VERSION = b"\x01"


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True)
class PersonalDataCipher:
    """Encrypts, decrypts and hashes personal data with keys derived from ``secret``."""

    encryption_key: bytes
    hash_key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> PersonalDataCipher:
        """Derive both keys from one configured secret (at least 32 characters)."""
        if len(secret) < 32:
            raise ValueError("the personal data key must have at least 32 characters")
        raw = secret.encode()
        return cls(_derive(raw, b"lendgraph pii enc v1"), _derive(raw, b"lendgraph pii hash v1"))

    def encrypt(self, plaintext: str) -> bytes:
        """Version byte, random nonce, then ciphertext with its tag."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.encryption_key).encrypt(nonce, plaintext.encode(), _VERSION)
        return _VERSION + nonce + sealed

    def decrypt(self, blob: bytes) -> str:
        """The plaintext of :meth:`encrypt`'s output; raises if it was tampered with."""
        version, nonce, sealed = blob[:1], blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        return AESGCM(self.encryption_key).decrypt(nonce, sealed, version).decode()

    def lookup_hash(self, normalized: str) -> bytes:
        """A keyed hash to find a row by an encrypted value without decrypting every row."""
        return hmac.new(self.hash_key, normalized.encode(), hashlib.sha256).digest()


def mask(value: str, keep_start: int = 3, keep_end: int = 4) -> str:
    """``110105********002X``: enough to recognise, not enough to use."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]
