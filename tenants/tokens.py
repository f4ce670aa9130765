"""RFC 9068 JWT access tokens: issued through Authlib's generator with the active key, checked
with Authlib's validator against every published key, plus the checks Authlib leaves to us
(``typ`` must be ``at+jwt``; only asymmetric algorithms)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from domain.kernel.actor import Actor
from domain.kernel.scopes import Role, parse_scopes
from tenants.keys import SigningKeys

ALGORITHMS = ["RS256"]
TENANT_CLAIM = "tenant"
ORG_CLAIM = "org"
PERSON_CLAIM = "person"


class TokenRejected(Exception):
    """The bearer token is not acceptable; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    """The verified identity behind a request."""

    subject: str
    client_id: str
    user_id: uuid.UUID | None
    tenant_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    person_id: uuid.UUID | None
    roles: frozenset[Role]
    scopes: frozenset[str]
    jti: str
    expires_at: int

    def actor(self, request_id: str | None) -> Actor:
        """The domain's view of this principal."""
        return Actor(
            user_id=self.user_id,
            client_id=self.client_id,
            tenant_id=self.tenant_id,
            scopes=self.scopes,
            roles=self.roles,
            organization_id=self.organization_id,
            person_id=self.person_id,
            request_id=request_id,
        )


def _uuid(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise TokenRejected("malformed identifier claim") from exc


class AccessTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    """Authlib's RFC 9068 validator bound to our published keys and audience."""

    def __init__(self, keys: SigningKeys, issuer: str, audience: str) -> None:
        super().__init__(issuer=issuer, resource_server=audience)
        self._keys = keys

    def get_jwks(self) -> Any:
        return self._keys.key_set

    def principal(self, token: str) -> Principal:
        """Verify ``token`` and return who it speaks for, or raise :class:`TokenRejected`."""
        try:
            # The header is read (unverified) only to refuse what Authlib would let through.
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError) as exc:
            raise TokenRejected("malformed token") from exc
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise TokenRejected("not an access token")
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected("unacceptable algorithm")
        try:
            claims = self.authenticate_token(token)
            self.validate_token(claims, scopes=None, request=None)
        except (InvalidTokenError, JoseError, ValueError) as exc:
            raise TokenRejected("invalid token") from exc
        return _principal(claims)


def _principal(claims: Any) -> Principal:
    # Even a genuine signature does not make the claims well-typed: anything unexpected is a
    # rejected token, never an error further in.
    sub, client_id, scope = claims.get("sub"), claims.get("client_id"), claims.get("scope", "")
    role_names = claims.get("roles") or []
    if not (isinstance(sub, str) and sub and isinstance(client_id, str) and client_id):
        raise TokenRejected("malformed subject")
    if not isinstance(scope, str):
        raise TokenRejected("malformed scope")
    if not (isinstance(role_names, list) and all(isinstance(r, str) for r in role_names)):
        raise TokenRejected("malformed roles")
    try:
        roles = frozenset(Role(r) for r in role_names)
    except ValueError as exc:
        raise TokenRejected("unknown role") from exc
    return Principal(
        subject=sub,
        client_id=client_id,
        # A user's token has the user as subject; a client's own token has the client.
        user_id=None if sub == client_id else _uuid(sub),
        tenant_id=_uuid(claims.get(TENANT_CLAIM)),
        organization_id=_uuid(claims.get(ORG_CLAIM)),
        person_id=_uuid(claims.get(PERSON_CLAIM)),
        roles=roles,
        scopes=parse_scopes(scope),
        jti=str(claims["jti"]),
        expires_at=int(claims["exp"]),
    )
