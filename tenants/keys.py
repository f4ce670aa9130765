"""Signing keys for access tokens. A JSON Web Key Set holds every key still published; one of
them, named explicitly by its ``kid``, signs. Rotation: add the new key, make it active, and
remove the old one once its tokens have expired; a token whose key is gone is rejected."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey


@dataclass(frozen=True)
class SigningKeys:
    """The private key set and the key that signs new tokens."""

    key_set: KeySet
    active_kid: str

    def __post_init__(self) -> None:
        if self.active_kid not in {key.kid for key in self.key_set.keys}:
            raise ValueError(f"the active key {self.active_kid!r} is not in the key set")

    @property
    def active(self) -> KeySet:
        """A set holding only the active key, so that signing never picks another one."""
        return KeySet([key for key in self.key_set.keys if key.kid == self.active_kid])

    def public_jwks(self) -> dict[str, Any]:
        """What ``/.well-known/jwks.json`` publishes: every key, public parts only."""
        return dict(self.key_set.as_dict(private=False))

    @classmethod
    def from_json(cls, jwks_json: str, active_kid: str | None) -> SigningKeys:
        """Load a private JWKS; without an explicit active kid, the last key signs."""
        key_set = KeySet.import_key_set(json.loads(jwks_json))
        kid = active_kid or str(key_set.keys[-1].kid)
        return cls(key_set, kid)


def generate_key(kid: str | None = None) -> RSAKey:
    """A new 2048-bit RSA signing key for RS256."""
    return RSAKey.generate_key(
        2048,
        parameters={"kid": kid or secrets.token_hex(8), "use": "sig", "alg": "RS256"},
        private=True,
    )


def load_or_create_dev_keys(path: Path) -> SigningKeys:
    """Development only: a key set kept in the data folder, created on first use."""
    if path.exists():
        return SigningKeys.from_json(path.read_text(), None)
    key = generate_key()
    key_set = KeySet([key])
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created owner-only: writing first and narrowing afterwards would leave the private key
    # readable by others for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(key_set.as_dict(private=True)))
    return SigningKeys(key_set, str(key.kid))
