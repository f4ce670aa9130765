"""Passwords and client secrets: generated, hashed and checked in constant time.

scrypt is deliberately slow (about 50 ms of CPU at production cost) and must never run on the
event loop, where it would stall every other request of the process: async code hashes with
:func:`hash_password_in_thread`; the password grant checks in the worker thread that runs
Authlib (see tenants/oauth.py). hashlib releases the GIL while scrypt runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import anyio.to_thread

# scrypt cost: about 50 ms and 16 MiB a check on a 2-core machine.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a random salt (hashlib.scrypt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; never raises on a malformed hash."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(hash_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


async def hash_password_in_thread(password: str) -> str:
    """:func:`hash_password` in a worker thread, for async callers."""
    return await anyio.to_thread.run_sync(hash_password, password)


def new_client_credentials() -> tuple[str, str]:
    """A public client ID and a 256-bit secret, shown to the caller once."""
    return f"lgc_{secrets.token_hex(12)}", secrets.token_urlsafe(32)


def hash_token(value: str) -> bytes:
    """SHA-256 of a high-entropy secret (client secret, refresh token): enough, since the
    input cannot be guessed, and fast enough for every token request."""
    return hashlib.sha256(value.encode()).digest()


def check_token(value: str, stored: bytes | None) -> bool:
    """Constant-time comparison of a presented secret with its stored hash."""
    return stored is not None and hmac.compare_digest(hash_token(value), stored)


def new_refresh_token() -> str:
    """An opaque refresh token."""
    return secrets.token_urlsafe(48)
