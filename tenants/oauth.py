"""The OAuth 2.0 authorization server, built on Authlib's grants and endpoints.

Authlib's hooks are synchronous, while our storage is async. The HTTP layer runs the Authlib
call in a worker thread (``anyio.to_thread``) and each hook hops back onto the event loop with
``anyio.from_thread.run`` to use the request's async session. The session runs in the
platform scope: looking up a client or user by its credentials is a platform-level read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from anyio import from_thread
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.clock import utcnow
from domain.kernel.scopes import Role, parse_scopes, scopes_for_roles
from tenants import repository, secrets
from tenants.keys import SigningKeys
from tenants.models import Membership, OAuthClient, RefreshToken, Tenant, User
from tenants.tokens import (
    ORG_CLAIM,
    PERSON_CLAIM,
    TENANT_CLAIM,
    AccessTokenValidator,
    Principal,
    TokenRejected,
)

T = TypeVar("T")
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
# RFC 6749 section 5.2 answers. Each is the same whichever credential was wrong, so that an
# answer never tells whether a client or an account exists.
CLIENT_AUTHENTICATION_FAILED = "Client authentication failed."
INVALID_USER_CREDENTIALS = "Invalid username or password."


def _on_loop(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    return from_thread.run(fn, *args)


class AuthClient(ClientMixin):  # type: ignore[misc]
    """Authlib's view of an :class:`OAuthClient` row. ``tenant_active`` is False when the
    client is bound to a tenant that is disabled: such a client authenticates no more."""

    def __init__(self, row: OAuthClient, *, tenant_active: bool = True) -> None:
        self.row = row
        self.tenant_active = tenant_active

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scopes)
        requested = parse_scopes(scope)
        return " ".join(sorted(requested & allowed if requested else allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        # Compare first, so a disabled client costs the same as an active one.
        matches = secrets.check_token(client_secret, self.row.secret_hash)
        return matches and repository.is_active(self.row) and self.tenant_active

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types


@dataclass
class AuthUser:
    """A user signing in, with the tenant membership the token is for (if any)."""

    row: User
    membership: Membership | None

    def get_user_id(self) -> str:
        return str(self.row.id)

    @property
    def roles(self) -> frozenset[Role]:
        names = self.membership.roles if self.membership else self.row.platform_roles
        return frozenset(Role(name) for name in names)

    @property
    def tenant_id(self) -> uuid.UUID | None:
        return self.membership.tenant_id if self.membership else None


class AuthRefreshToken(TokenMixin):  # type: ignore[misc]
    """Authlib's view of a stored refresh token."""

    def __init__(self, row: RefreshToken, client: OAuthClient) -> None:
        self.row = row
        self.client = client

    def check_client(self, client: AuthClient) -> bool:
        return client.row.id == self.row.client_pk

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> None:
        return None

    def get_client(self) -> AuthClient:
        return AuthClient(self.client)


class Store:
    """The async look-ups the grants need, on one request's session."""

    def __init__(self, session: AsyncSession, refresh_ttl: int) -> None:
        self.session = session
        self.refresh_ttl = refresh_ttl

    async def client(self, client_id: str) -> AuthClient | None:
        row = await repository.client_by_client_id(self.session, client_id)
        if row is None:
            return None
        return AuthClient(row, tenant_active=await self._tenant_active(row.tenant_id))

    async def _tenant_active(self, tenant_id: uuid.UUID | None) -> bool:
        if tenant_id is None:
            return True
        tenant = (await repository.tenants_by_ids(self.session, [tenant_id])).get(tenant_id)
        return tenant is not None and repository.is_active(tenant)

    async def user_by_email(self, email: str) -> User | None:
        """The user signing in, if any; the password is checked by the caller."""
        return await repository.user_by_email(self.session, email)

    async def with_membership(self, user: User, tenant: str | None) -> AuthUser:
        """The signed-in user with the tenant membership the token is for."""
        memberships = await repository.memberships_of_user(self.session, user.id)
        if not memberships:
            if tenant:
                raise InvalidRequestError("the user has no membership in that tenant")
            return AuthUser(user, None)
        if tenant is None:
            if len(memberships) > 1:
                raise InvalidRequestError("the user belongs to several tenants: name one")
            chosen = memberships[0]
        else:
            tenants = await repository.tenants_by_ids(
                self.session, [m.tenant_id for m in memberships]
            )
            matches = [m for m in memberships if _tenant_matches(tenants.get(m.tenant_id), tenant)]
            if not matches:
                raise InvalidRequestError("the user has no membership in that tenant")
            chosen = matches[0]
        tenant_row = (await repository.tenants_by_ids(self.session, [chosen.tenant_id]))[
            chosen.tenant_id
        ]
        if not repository.is_active(tenant_row):
            raise InvalidGrantError("the tenant is disabled")
        return AuthUser(user, chosen)

    async def principal_active(
        self, client_id: str, user_id: uuid.UUID | None, tenant_id: uuid.UUID | None
    ) -> bool:
        """Whether the client, user and tenant behind a token are all still active: the
        check the API makes on every request."""
        return await repository.principal_active(
            self.session, client_id=client_id, user_id=user_id, tenant_id=tenant_id
        )

    async def refresh_token(self, value: str) -> AuthRefreshToken | None:
        row = await repository.refresh_token_by_hash(self.session, secrets.hash_token(value))
        if row is None:
            return None
        client = (await repository.clients_by_ids(self.session, [row.client_pk]))[row.client_pk]
        return AuthRefreshToken(row, client)

    async def spend(self, token: AuthRefreshToken) -> bool:
        """Revoke a refresh token being rotated; False when another request spent it first.
        The conditional UPDATE waits for a concurrent rotation of the same row to commit and
        then matches nothing, so at most one request can rotate a refresh token."""
        count = await repository.revoke_refresh_tokens(
            self.session, at=utcnow(), token_id=token.row.id
        )
        return count == 1

    async def user_of(self, token: AuthRefreshToken) -> AuthUser | None:
        if token.row.user_id is None:
            return None
        user = (await repository.users_by_ids(self.session, [token.row.user_id])).get(
            token.row.user_id
        )
        if user is None or not repository.is_active(user):
            return None
        if token.row.tenant_id is None:
            return AuthUser(user, None)
        if not await self._tenant_active(token.row.tenant_id):
            return None
        membership = await repository.membership(self.session, token.row.tenant_id, user.id)
        return AuthUser(user, membership) if membership else None

    async def save_refresh_token(
        self, value: str, client: AuthClient, user: AuthUser | None, scope: str
    ) -> None:
        repository.add(
            self.session,
            RefreshToken(
                token_hash=secrets.hash_token(value),
                client_pk=client.row.id,
                user_id=user.row.id if user else None,
                tenant_id=user.tenant_id if user else None,
                scope=scope,
                expires_at=utcnow() + timedelta(seconds=self.refresh_ttl),
            ),
        )
        await self.session.flush()

    async def revoke(self, token: AuthRefreshToken) -> None:
        await repository.revoke_refresh_tokens(self.session, at=utcnow(), token_id=token.row.id)


def _tenant_matches(row: Tenant | None, wanted: str) -> bool:
    return row is not None and wanted in (row.slug, str(row.id))


class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    """Authlib's RFC 9068 generator, signing with the active key only and narrowing scopes
    to what both the client and the user's roles allow."""

    def __init__(self, keys: SigningKeys, issuer: str, audience: str, ttl: int) -> None:
        super().__init__(
            issuer=issuer,
            alg="RS256",
            refresh_token_generator=lambda *a, **k: secrets.new_refresh_token(),
            expires_generator=lambda client, grant_type: ttl,
        )
        self.keys = keys
        self.audience = audience

    def get_jwks(self) -> Any:
        return self.keys.active

    def get_audiences(self, client: AuthClient, user: AuthUser | None, scope: str) -> str:
        return self.audience

    def get_extra_claims(
        self, client: AuthClient, grant_type: str, user: AuthUser | None, scope: str
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {}
        if user is not None:
            tenant_id = user.tenant_id
            claims["roles"] = sorted(r.value for r in user.roles)
            if user.row.organization_id:
                claims[ORG_CLAIM] = str(user.row.organization_id)
            if user.row.person_id:
                claims[PERSON_CLAIM] = str(user.row.person_id)
        else:
            tenant_id = client.row.tenant_id
            if client.row.organization_id:
                claims[ORG_CLAIM] = str(client.row.organization_id)
        if tenant_id:
            claims[TENANT_CLAIM] = str(tenant_id)
        return claims

    def generate(  # noqa: PLR0917 - Authlib's signature
        self,
        grant_type: str,
        client: AuthClient,
        user: AuthUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        effective = parse_scopes(client.get_allowed_scope(scope))
        if user is not None:
            effective &= {s.value for s in scopes_for_roles(user.roles)}
        if not effective:
            raise InvalidScopeError("no requested scope is granted to this client and user")
        token: dict[str, Any] = super().generate(
            grant_type,
            client,
            user=user,
            scope=" ".join(sorted(effective)),
            expires_in=expires_in,
            include_refresh_token=include_refresh_token,
        )
        return token


# Checked in place of a missing password hash, so that an unknown e-mail costs the same work
# as a wrong password and timing does not reveal who has an account. Made by the real hashing
# function (once, at import), so it follows its scheme and cost; nobody knows its password.
_DUMMY_PASSWORD_HASH = secrets.hash_password(uuid.uuid4().hex)


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    """Resource-owner password grant: development only (the server registers it then).

    Wrong resource-owner credentials are ``invalid_grant`` (RFC 6749 section 5.2; Authlib
    would answer ``invalid_request``), with one answer for an unknown e-mail, a wrong password
    and a disabled user."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_user(self, username: str, password: str) -> AuthUser:
        store: Store = self.server.store
        tenant = self.request.payload.data.get("tenant")
        user = _on_loop(store.user_by_email, username)
        stored = user.password_hash if user is not None else None
        # scrypt runs here, in the worker thread that runs Authlib (api/oauth.py), never on the
        # event loop; and always once, known user or not.
        if not secrets.check_password(password, stored or _DUMMY_PASSWORD_HASH):
            raise InvalidGrantError(INVALID_USER_CREDENTIALS)
        if user is None or not stored or not repository.is_active(user):
            raise InvalidGrantError(INVALID_USER_CREDENTIALS)
        return _on_loop(store.with_membership, user, tenant)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """Client credentials for partner apps and service accounts; no refresh token."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh with rotation: the old refresh token is revoked when a new one is issued."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> AuthRefreshToken | None:
        store: Store = self.server.store
        token = _on_loop(store.refresh_token, refresh_token)
        if token is None or token.is_revoked() or token.is_expired():
            return None
        return token

    def authenticate_user(self, refresh_token: AuthRefreshToken) -> AuthUser | None:
        store: Store = self.server.store
        return _on_loop(store.user_of, refresh_token)

    def revoke_old_credential(self, refresh_token: AuthRefreshToken) -> None:
        store: Store = self.server.store
        # Losing a race with a concurrent rotation of the same token fails this request; the
        # HTTP layer then rolls back the token it just saved.
        if not _on_loop(store.spend, refresh_token):
            raise InvalidGrantError("the refresh token was already used")


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: revokes refresh tokens at once. Access tokens are short-lived JWTs."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        store: Store = self.server.store
        return _on_loop(store.refresh_token, token_string)

    def revoke_token(self, token: AuthRefreshToken, request: OAuth2Request) -> None:
        store: Store = self.server.store
        _on_loop(store.revoke, token)


@dataclass
class IntrospectedAccessToken:
    """A verified access token, for introspection (Authlib asks it the questions it asks a
    stored token)."""

    claims: dict[str, Any]
    principal: Principal

    @property
    def client_id(self) -> str:
        return self.principal.client_id

    def is_expired(self) -> bool:
        return int(self.claims["exp"]) <= int(utcnow().timestamp())

    def is_revoked(self) -> bool:
        # Access tokens are short-lived JWTs and are not revoked one by one.
        return False


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662 for access tokens (verified JWTs) and refresh tokens (stored rows). A client
    may introspect only its own tokens. A token is active only if the API would accept it:
    besides signature, expiry and revocation, its client, user and tenant must all still be
    active (the same database check the API makes on every request)."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        server: OAuthServer = self.server
        looks_like_jwt = token_string.count(".") == 2
        if token_type_hint != "refresh_token" and looks_like_jwt:  # noqa: S105
            try:
                principal = server.validator.principal(token_string)
                claims = server.validator.authenticate_token(token_string)
            except (TokenRejected, Exception):
                return None
            return IntrospectedAccessToken(dict(claims), principal)
        return _on_loop(server.store.refresh_token, token_string)

    def check_permission(self, token: Any, client: AuthClient, request: OAuth2Request) -> bool:
        owner = (
            token.client_id
            if isinstance(token, IntrospectedAccessToken)
            else token.client.client_id
        )
        return bool(owner == client.get_client_id())

    def introspect_token(self, token: Any) -> dict[str, Any]:
        # Asked only for the caller's own tokens that are neither expired nor revoked.
        if not self._principal_active(token):
            return {"active": False}
        if isinstance(token, IntrospectedAccessToken):
            c = token.claims
            return {
                "active": True,
                "token_type": "Bearer",
                "scope": c.get("scope"),
                "client_id": c.get("client_id"),
                "sub": c.get("sub"),
                "aud": c.get("aud"),
                "iss": c.get("iss"),
                "exp": c.get("exp"),
                "iat": c.get("iat"),
                "jti": c.get("jti"),
                TENANT_CLAIM: c.get(TENANT_CLAIM),
            }
        if token.is_revoked() or token.is_expired():
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": token.get_scope(),
            "client_id": token.client.client_id,
            "sub": str(token.row.user_id) if token.row.user_id else token.client.client_id,
            "exp": int(token.row.expires_at.timestamp()),
            TENANT_CLAIM: str(token.row.tenant_id) if token.row.tenant_id else None,
        }

    def _principal_active(self, token: IntrospectedAccessToken | AuthRefreshToken) -> bool:
        store: Store = self.server.store
        if isinstance(token, IntrospectedAccessToken):
            p = token.principal
            return _on_loop(store.principal_active, p.client_id, p.user_id, p.tenant_id)
        row = token.row
        return _on_loop(store.principal_active, token.client.client_id, row.user_id, row.tenant_id)


class OAuthServer(AuthorizationServer):  # type: ignore[misc]
    """One request's authorization server: grants, revocation and introspection over a
    :class:`Store` on that request's session."""

    def __init__(
        self,
        store: Store,
        generator: TokenGenerator,
        validator: AccessTokenValidator,
        *,
        password_grant: bool,
    ) -> None:
        super().__init__()
        self.store = store
        self.validator = validator
        self.register_token_generator("default", generator.generate)
        self.register_client_auth_method("client_secret_basic", _client_secret_basic)
        self.register_client_auth_method("client_secret_post", _client_secret_post)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(RefreshTokenGrant)
        if password_grant:
            self.register_grant(PasswordGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.response: tuple[int, Any, list[tuple[str, str]]] | None = None

    def query_client(self, client_id: str) -> AuthClient | None:
        return _on_loop(self.store.client, client_id)

    def authenticate_client(
        self, request: OAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> AuthClient:
        """Authlib's client authentication, with one answer for every failure: 401
        ``invalid_client`` with ``WWW-Authenticate`` (RFC 6749 section 5.2), whether the
        client ID is unknown, the secret wrong or missing, or the client disabled. Authlib alone
        says "does not exist" for an unknown client ID, and answers it 400 when the
        credentials came in the form, so its answers would enumerate clients."""
        try:
            client: AuthClient = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            raise InvalidClientError(
                status_code=401, description=CLIENT_AUTHENTICATION_FAILED
            ) from None
        return client

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        value = token.get("refresh_token")
        if value:
            _on_loop(
                self.store.save_refresh_token, value, request.client, request.user, token["scope"]
            )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Any:
        return status, body, headers


# Compared with in place of an unknown client's secret hash, so that an unknown client ID does
# the same work as a wrong secret. Nobody knows the secret it is the hash of.
_DUMMY_SECRET_HASH = secrets.hash_token(secrets.new_refresh_token())


def _client_with_secret(
    query_client: Callable[[str], AuthClient | None], client_id: str, client_secret: str
) -> AuthClient | None:
    client = query_client(client_id)
    if client is None:
        secrets.check_token(client_secret, _DUMMY_SECRET_HASH)
        return None
    return client if client.check_client_secret(client_secret) else None


def _client_secret_basic(
    query_client: Callable[[str], AuthClient | None], request: OAuth2Request
) -> AuthClient | None:
    """``client_secret_basic``, which unlike Authlib's never raises: a failure is answered by
    :meth:`OAuthServer.authenticate_client`, the same for every cause."""
    try:
        client_id, client_secret = extract_basic_authorization(request.headers)
    except ValueError:  # not ASCII, or not UTF-8 once decoded: Authlib lets these through
        return None
    if not (client_id and client_secret):
        return None
    return _client_with_secret(query_client, client_id, client_secret)


def _client_secret_post(
    query_client: Callable[[str], AuthClient | None], request: OAuth2Request
) -> AuthClient | None:
    """``client_secret_post``, which like :func:`_client_secret_basic` never raises."""
    client_id = request.form.get("client_id")
    client_secret = request.form.get("client_secret")
    if not (client_id and client_secret):
        return None
    return _client_with_secret(query_client, client_id, client_secret)


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An Authlib request over an already-read form body (tokens never travel in the query)."""

    def __init__(
        self, method: str, uri: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._form = dict(form)
        self.payload = BasicOAuth2Payload(self._form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


def make_request(
    method: str, uri: str, form: Mapping[str, str], headers: Mapping[str, str]
) -> OAuth2Request:
    """An Authlib request from an already-read form body and headers."""
    return FormRequest(method, uri, form, headers)
