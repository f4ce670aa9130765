"""The OAuth endpoints: token (client credentials, password, refresh with rotation), revocation,
introspection, JWKS and server metadata; disabled clients and users; what each error reveals."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from sqlalchemy import text

from api.app import build_state, create_app
from domain.kernel.scopes import ROLE_SCOPES, Role
from tests.conftest import ISSUER
from tests.support import (
    CONSOLE,
    PASSWORD,
    World,
    access_token,
    client_token,
    global_id,
    gql,
    password_token,
    seed_world,
)

PRIVATE_JWK_PARTS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def role_scopes(role: Role) -> set[str]:
    """What a role grants (the console client may ask for every scope)."""
    return {s.value for s in ROLE_SCOPES[role]}


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(s: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
        return value

    head, payload, _ = token.split(".")
    return part(head), part(payload)


async def refresh(
    client: httpx.AsyncClient,
    refresh_token: str,
    creds: tuple[str, str] = CONSOLE,
    scope: str | None = None,
) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if scope:
        data["scope"] = scope
    return await client.post("/oauth/token", data=data, auth=creds)


async def revoke(
    client: httpx.AsyncClient, token: str, creds: tuple[str, str] = CONSOLE, hint: str | None = None
) -> httpx.Response:
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return await client.post("/oauth/revoke", data=data, auth=creds)


async def introspect(
    client: httpx.AsyncClient, token: str, creds: tuple[str, str] = CONSOLE, hint: str | None = None
) -> dict[str, Any]:
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    response = await client.post("/oauth/introspect", data=data, auth=creds)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def tokens_for(client: httpx.AsyncClient, email: str, **kw: Any) -> dict[str, Any]:
    response = await password_token(client, email, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def viewer_status(client: httpx.AsyncClient, token: str) -> int:
    return (await gql(client, token, "{ viewer { subject } }")).status_code


async def refresh_rows(owner_engine, client_id: str) -> list[Any]:
    async with owner_engine.connect() as conn:
        result = await conn.execute(
            text(
                "select r.revoked_at from refresh_tokens r join oauth_clients c "
                "on c.id = r.client_pk where c.client_id = :cid"
            ),
            {"cid": client_id},
        )
        return list(result.all())


@pytest.fixture
async def world(app_state) -> World:
    return await seed_world(app_state)


@pytest.fixture
async def admin_token(client, world) -> str:
    return await access_token(client, world.admin_email)


# --- access-token claims --------------------------------------------------------------------


async def test_tenant_user_token_claims(client, world, signing_keys) -> None:
    body = await tokens_for(client, world.a.admin_email)
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    token = body["access_token"]
    head, _ = jwt_parts(token)
    assert head == {"alg": "RS256", "typ": "at+jwt", "kid": "test-key-1"}
    # The signature verifies with the published key, and the claims say what they should.
    claims = jwt.decode(token, signing_keys.key_set, algorithms=["RS256"]).claims
    now = int(time.time())
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "lendgraph"
    assert now - 5 <= claims["iat"] <= now + 1
    assert claims["exp"] == claims["iat"] + 900
    assert len(claims["jti"]) >= 16
    assert claims["client_id"] == "test-console"
    assert claims["sub"] == str(world.a.admin_user_id)
    assert claims["tenant"] == str(world.a.id)
    assert claims["roles"] == ["FUNDER_ADMIN"]
    # Console may ask for everything; the token carries what a funder admin's role allows.
    assert set(claims["scope"].split()) == role_scopes(Role.FUNDER_ADMIN)
    assert not {"tenants:write", "platform:admin", "users:write"} & set(claims["scope"].split())
    assert body["scope"] == claims["scope"]
    # No secrets or personal data in the token.
    assert not {"password", "email", "secret"} & claims.keys()


async def test_every_token_gets_its_own_jti(client, world) -> None:
    jtis = set()
    for _ in range(3):
        token = (await tokens_for(client, world.a.admin_email))["access_token"]
        jtis.add(jwt_parts(token)[1]["jti"])
    assert len(jtis) == 3


async def test_platform_admin_token_has_no_tenant(client, world) -> None:
    token = await access_token(client, world.admin_email)
    _, claims = jwt_parts(token)
    assert "tenant" not in claims
    assert claims["roles"] == ["PLATFORM_ADMIN"]
    assert "platform:admin" in claims["scope"].split()


async def test_client_credentials_token_claims(client, world) -> None:
    response = await client_token(client, world.a.service_client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    head, claims = jwt_parts(body["access_token"])
    assert head["typ"] == "at+jwt"
    assert claims["sub"] == claims["client_id"] == "svc-a"
    assert claims["tenant"] == str(world.a.id)
    assert "roles" not in claims
    assert set(claims["scope"].split()) == {
        "viewer:read",
        "tenants:read",
        "users:read",
        "clients:read",
    }


async def test_client_credentials_scope_is_narrowed_to_the_client(client, world) -> None:
    response = await client_token(client, world.partner_client, scope="viewer:read tenants:write")
    assert response.status_code == 200, response.text
    assert jwt_parts(response.json()["access_token"])[1]["scope"] == "viewer:read"
    response = await client_token(client, world.partner_client, scope="tenants:write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_reviewer_cannot_get_tenants_write(client, world) -> None:
    # Asked alone, the scope is refused outright...
    response = await password_token(client, world.a.reviewer_email, scope="tenants:write")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"
    # ...asked alongside one the role allows, it is silently dropped.
    body = await tokens_for(
        client, world.a.reviewer_email, scope="tenants:read tenants:write platform:admin"
    )
    _, claims = jwt_parts(body["access_token"])
    assert claims["scope"] == "tenants:read"
    assert claims["roles"] == ["FIRST_REVIEWER"]
    # Without a scope parameter: everything the role allows, nothing more.
    _, claims = jwt_parts((await tokens_for(client, world.a.reviewer_email))["access_token"])
    assert set(claims["scope"].split()) == role_scopes(Role.FIRST_REVIEWER)
    assert "tenants:write" not in claims["scope"].split()


async def test_refresh_cannot_widen_scope(client, world) -> None:
    body = await tokens_for(client, world.a.reviewer_email, scope="viewer:read")
    response = await refresh(client, body["refresh_token"], scope="viewer:read tenants:read")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"
    # A narrower (or equal) scope is fine, and the refresh token is still good after a refusal.
    response = await refresh(client, body["refresh_token"], scope="viewer:read")
    assert response.status_code == 200, response.text
    assert jwt_parts(response.json()["access_token"])[1]["scope"] == "viewer:read"


async def test_tenant_choice_for_password_grant(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email, tenant="bank-a")
    assert jwt_parts(body["access_token"])[1]["tenant"] == str(world.a.id)
    # A tenant the user is no member of is refused, after the password was checked.
    response = await password_token(client, world.a.admin_email, tenant="bank-b")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- metadata and JWKS -------------------------------------------------------------------------


async def test_server_metadata(client) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert meta["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert meta["introspection_endpoint"] == f"{ISSUER}/oauth/introspect"
    assert meta["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert set(meta["grant_types_supported"]) == {"client_credentials", "refresh_token", "password"}
    assert "none" not in meta["token_endpoint_auth_methods_supported"]
    assert "platform:admin" in meta["scopes_supported"]
    # Every advertised endpoint exists (POST-only endpoints answer GET with 405, not 404).
    for name in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        assert (await client.get(meta[name].removeprefix(ISSUER))).status_code == 405


async def test_jwks_publishes_public_parts_only(client, signing_keys) -> None:
    meta = (await client.get("/.well-known/oauth-authorization-server")).json()
    response = await client.get(meta["jwks_uri"].removeprefix(ISSUER))
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    jwks = response.json()
    assert [k["kid"] for k in jwks["keys"]] == ["test-key-1"]
    key = jwks["keys"][0]
    assert key["kty"] == "RSA"
    assert key["n"] and key["e"]
    assert not PRIVATE_JWK_PARTS & key.keys()
    assert "PRIVATE" not in response.text.upper()
    # The published key verifies our tokens (what a resource server would do).
    from joserfc.jwk import KeySet

    public = KeySet.import_key_set(jwks)
    assert all(not k.is_private for k in public.keys)


# --- client authentication --------------------------------------------------------------------


async def test_wrong_client_secret_is_401_invalid_client(client, world) -> None:
    response = await client_token(client, (world.partner_client[0], "wrong-secret"))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()
    assert response.headers.get("www-authenticate", "").lower().startswith("basic")


async def test_wrong_client_secret_in_form_is_refused(client, world) -> None:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.partner_client[0],
            "client_secret": "wrong-secret",
        },
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    # Control: the same request with the right secret works.
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.partner_client[0],
            "client_secret": world.partner_client[1],
        },
    )
    assert response.status_code == 200, response.text


async def test_unknown_client_and_missing_secret_are_refused(client, world) -> None:
    response = await client_token(client, ("no-such-client", "whatever"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # A public client ("none" method: client_id without a secret) is not accepted.
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": world.partner_client[0]},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_client_cannot_use_a_grant_it_was_not_given(client, world) -> None:
    # The partner app is client-credentials only: no password grant through it.
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": world.admin_email, "password": PASSWORD},
        auth=world.partner_client,
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "unauthorized_client"
    # And the console (first-party, password + refresh) gets no client-credentials token.
    response = await client_token(client, CONSOLE)
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "unauthorized_client"


async def test_wrong_password_and_unknown_user_look_the_same(client, world) -> None:
    wrong = await password_token(client, world.a.admin_email, "not-the-password")
    unknown = await password_token(client, "nobody@nowhere.test", "not-the-password")
    unknown_right_password = await password_token(client, "nobody@nowhere.test", PASSWORD)
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() == unknown_right_password.json()
    assert wrong.json()["error"] == "invalid_grant"
    assert "access_token" not in wrong.json()
    assert world.a.admin_email not in wrong.text


async def test_unknown_user_costs_a_password_check_too(client, world, monkeypatch) -> None:
    """Timing must not tell who exists: an unknown e-mail costs one scrypt like a wrong
    password does (counted here, not timed)."""
    import hashlib

    from tenants import secrets

    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(secrets.hashlib, "scrypt", counting)
    await password_token(client, world.a.admin_email, "not-the-password")
    known = len(calls)
    calls.clear()
    await password_token(client, "nobody@nowhere.test", "not-the-password")
    assert known == 1
    assert len(calls) == known


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"grant_type": "client_credentials"})),
        ("text/plain", "grant_type=client_credentials"),
        ("multipart/form-data; boundary=x", "--x\r\n\r\n--x--\r\n"),
        (None, "grant_type=client_credentials"),
    ],
)
async def test_token_endpoint_needs_a_form_body(client, world, content_type, body) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
        response = await client.post(
            path, content=body.encode(), headers=headers, auth=world.partner_client
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"] == "invalid_request"
    # Control: the same request as a form is fine.
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=world.partner_client
    )
    assert response.status_code == 200


async def test_credentials_in_the_query_string_are_ignored(client, world) -> None:
    cid, secret = world.partner_client
    response = await client.post(
        f"/oauth/token?grant_type=client_credentials&client_id={cid}&client_secret={secret}",
        data={"x": "y"},
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


async def test_token_responses_are_not_cached(client, world) -> None:
    response = await client_token(client, world.partner_client)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")


async def test_unsupported_grant_type(client, world) -> None:
    for grant in ("authorization_code", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        response = await client.post(
            "/oauth/token", data={"grant_type": grant}, auth=world.partner_client
        )
        assert response.status_code == 400
        assert response.json()["error"] in ("unsupported_grant_type", "invalid_request")


# --- password grant only when enabled ------------------------------------------------------


@pytest.fixture
async def no_password_client(settings) -> AsyncIterator[httpx.AsyncClient]:
    locked = settings.model_copy(update={"enable_password_grant": False})
    assert not locked.password_grant_enabled
    state = build_state(locked)
    transport = httpx.ASGITransport(app=create_app(locked, state=state))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
            yield c
    finally:
        await state.engine.dispose()


async def test_password_grant_refused_when_disabled(client, world, no_password_client) -> None:
    # Control: the same request on the default test app succeeds.
    assert (await password_token(client, world.a.admin_email)).status_code == 200
    response = await password_token(no_password_client, world.a.admin_email)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unsupported_grant_type"
    meta = (await no_password_client.get("/.well-known/oauth-authorization-server")).json()
    assert "password" not in meta["grant_types_supported"]
    # Client credentials still work there.
    assert (await client_token(no_password_client, world.partner_client)).status_code == 200


def test_password_grant_never_in_production(settings) -> None:
    prod = settings.model_copy(update={"environment": "production", "enable_password_grant": True})
    assert not prod.password_grant_enabled


# --- refresh tokens: rotation, revocation, introspection ------------------------------------


async def test_refresh_rotates_and_old_token_is_refused(client, world) -> None:
    first = await tokens_for(client, world.a.admin_email)
    second = await refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    _, claims = jwt_parts(rotated["access_token"])
    assert claims["sub"] == str(world.a.admin_user_id)
    assert claims["tenant"] == str(world.a.id)
    assert claims["roles"] == ["FUNDER_ADMIN"]
    assert await viewer_status(client, rotated["access_token"]) == 200
    # The old refresh token was spent.
    again = await refresh(client, first["refresh_token"])
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_grant"
    # The new one works, once.
    third = await refresh(client, rotated["refresh_token"])
    assert third.status_code == 200, third.text
    assert (await refresh(client, rotated["refresh_token"])).status_code == 400


async def test_concurrent_refresh_issues_at_most_one_token(client, world, owner_engine) -> None:
    """Rotation must hold under a race: two requests with the same refresh token at once
    must not both get a fresh refresh token."""
    import anyio

    first = await tokens_for(client, world.a.admin_email)
    results: list[httpx.Response] = []

    async def go() -> None:
        results.append(await refresh(client, first["refresh_token"]))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(go)
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 1, [r.status_code for r in results]
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code != 200)
    # The losers' refresh tokens were rolled back, not stored unseen: the spent original and
    # the winner's remain.
    rows = await refresh_rows(owner_engine, CONSOLE[0])
    assert sorted(row.revoked_at is None for row in rows) == [False, True]
    assert (await refresh(client, ok[0].json()["refresh_token"])).status_code == 200


async def test_refresh_token_of_another_client_is_refused(client, world, admin_token) -> None:
    other = await _new_first_party_client(client, admin_token, "other console")
    body = await tokens_for(client, world.a.admin_email)
    response = await refresh(client, body["refresh_token"], other)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    # The owner can still use it: a stranger's attempt did not spend it.
    assert (await refresh(client, body["refresh_token"])).status_code == 200


async def test_garbage_refresh_token_is_refused(client, world) -> None:
    for value in ("", "garbage", "x" * 5000):
        response = await refresh(client, value)
        assert response.status_code == 400
        assert response.json()["error"] in ("invalid_grant", "invalid_request")


async def test_revoke_refresh_token_takes_effect_at_once(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email)
    before = await introspect(client, body["refresh_token"], hint="refresh_token")
    assert before["active"] is True
    assert before["client_id"] == "test-console"
    response = await revoke(client, body["refresh_token"], hint="refresh_token")
    assert response.status_code == 200, response.text
    after = await refresh(client, body["refresh_token"])
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert await introspect(client, body["refresh_token"]) == {"active": False}
    # Revoking again, or revoking garbage, is still 200 (RFC 7009 2.2).
    assert (await revoke(client, body["refresh_token"])).status_code == 200
    assert (await revoke(client, "no-such-token")).status_code == 200


async def test_revoke_without_hint_and_of_an_access_token(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email)
    # An access token is a short-lived JWT: revocation answers 200 and changes nothing.
    assert (await revoke(client, body["access_token"])).status_code == 200
    assert await viewer_status(client, body["access_token"]) == 200
    assert (await revoke(client, body["refresh_token"])).status_code == 200
    assert (await refresh(client, body["refresh_token"])).status_code == 400


async def test_a_client_cannot_revoke_another_clients_token(client, world, admin_token) -> None:
    other = await _new_first_party_client(client, admin_token, "other console")
    body = await tokens_for(client, world.a.admin_email)
    response = await revoke(client, body["refresh_token"], other)
    assert response.status_code in (200, 400)
    # Whatever it answered, the token still works for its owner.
    assert (await refresh(client, body["refresh_token"])).status_code == 200


async def test_revoke_needs_client_authentication(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email)
    response = await client.post("/oauth/revoke", data={"token": body["refresh_token"]})
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    response = await revoke(client, body["refresh_token"], (CONSOLE[0], "wrong"))
    assert response.status_code == 401
    assert (await refresh(client, body["refresh_token"])).status_code == 200


async def test_introspect_access_token(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email)
    info = await introspect(client, body["access_token"])
    assert info["active"] is True
    assert info["client_id"] == "test-console"
    assert info["sub"] == str(world.a.admin_user_id)
    assert info["iss"] == ISSUER
    assert info["tenant"] == str(world.a.id)
    assert set(info["scope"].split()) == set(body["scope"].split())
    assert info["exp"] > time.time()
    hinted = await introspect(client, body["access_token"], hint="access_token")
    assert hinted["active"] is True


async def test_introspect_client_credentials_token(client, world) -> None:
    token = (await client_token(client, world.partner_client)).json()["access_token"]
    info = await introspect(client, token, world.partner_client)
    assert info["active"] is True
    assert info["client_id"] == info["sub"] == "test-partner"


async def test_introspect_other_clients_token_is_inactive(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email)
    assert await introspect(client, body["access_token"], world.partner_client) == {"active": False}
    assert await introspect(client, body["refresh_token"], world.partner_client) == {
        "active": False
    }
    partner = (await client_token(client, world.partner_client)).json()["access_token"]
    assert await introspect(client, partner, CONSOLE) == {"active": False}
    # Control: each owner sees its own as active.
    assert (await introspect(client, partner, world.partner_client))["active"] is True
    assert (await introspect(client, body["refresh_token"]))["active"] is True


async def test_introspect_invalid_tokens_is_inactive(client, world, signing_keys) -> None:
    from joserfc.jwk import RSAKey

    body = await tokens_for(client, world.a.admin_email)
    head, payload, sig = body["access_token"].split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["scope"] = "platform:admin"
    forged_b64 = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    key = signing_keys.key_set.get_by_kid("test-key-1")
    assert isinstance(key, RSAKey)
    untyped = jwt.encode(
        {"alg": "RS256", "kid": "test-key-1"},
        {**forged, "scope": "viewer:read", "exp": int(time.time()) + 60},
        key,
        default_type=None,
    )
    for token in (
        "garbage",
        "a.b.c",
        f"{head}.{forged_b64}.{sig}",
        untyped,
        f"{head}.{payload}.",
        "",
    ):
        response = await client.post("/oauth/introspect", data={"token": token}, auth=CONSOLE)
        if token == "":
            assert response.status_code in (200, 400)
            continue
        assert response.status_code == 200, response.text
        assert response.json() == {"active": False}, token


async def test_introspect_needs_client_authentication(client, world) -> None:
    body = await tokens_for(client, world.a.admin_email)
    response = await client.post("/oauth/introspect", data={"token": body["access_token"]})
    assert response.status_code in (400, 401)
    assert "active" not in response.json()
    response = await client.post(
        "/oauth/introspect", data={"token": body["access_token"]}, auth=(CONSOLE[0], "wrong")
    )
    assert response.status_code == 401
    assert "active" not in response.json()


# --- disabled clients and users ---------------------------------------------------------------

DISABLE_CLIENT = """
mutation($id: UserOrClientID!) {
  disableOAuthClient(input: {id: $id}) { client { id } userErrors { code message } }
}
"""
DISABLE_USER = """
mutation($id: UserOrClientID!) {
  disableUser(input: {id: $id}) { user { id } userErrors { code message } }
}
"""
CREATE_CLIENT = """
mutation($name: String!) {
  createOAuthClient(input: {name: $name, kind: FIRST_PARTY, scopes: ["viewer:read",
      "tenants:read", "users:read", "clients:read"]}) {
    client { id clientId } clientSecret userErrors { code message }
  }
}
"""


async def _new_first_party_client(
    client: httpx.AsyncClient, admin_token: str, name: str
) -> tuple[str, str]:
    response = await gql(client, admin_token, CREATE_CLIENT, {"name": name})
    payload = response.json()["data"]["createOAuthClient"]
    assert payload["userErrors"] == [], payload
    creds = (payload["client"]["clientId"], payload["clientSecret"])
    assert creds[0] and creds[1]
    return creds


async def _disable(client: httpx.AsyncClient, admin_token: str, doc: str, gid: str) -> None:
    response = await gql(client, admin_token, doc, {"id": gid})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    payload = next(iter(data.values()))
    assert payload["userErrors"] == [], payload


async def test_disabled_partner_client_gets_no_tokens(client, world, admin_token) -> None:
    issued = await client_token(client, world.partner_client)
    assert issued.status_code == 200
    await _disable(
        client, admin_token, DISABLE_CLIENT, global_id("OAuthClient", world.partner_client_pk)
    )
    response = await client_token(client, world.partner_client)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()
    # Introspection and revocation need an active client too.
    response = await client.post(
        "/oauth/introspect",
        data={"token": issued.json()["access_token"]},
        auth=world.partner_client,
    )
    assert response.status_code == 401
    # Disabling twice is a user error, not a crash.
    again = await gql(
        client,
        admin_token,
        DISABLE_CLIENT,
        {"id": global_id("OAuthClient", world.partner_client_pk)},
    )
    assert again.json()["data"]["disableOAuthClient"]["userErrors"][0]["code"] == (
        "ALREADY_DISABLED"
    )


async def test_disabled_first_party_client_loses_refresh_tokens(
    client, world, admin_token, owner_engine
) -> None:
    creds = await _new_first_party_client(client, admin_token, "mobile app")
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": world.a.admin_email, "password": PASSWORD},
        auth=creds,
    )
    assert response.status_code == 200, response.text
    refresh_token = response.json()["refresh_token"]
    assert (await introspect(client, refresh_token, creds))["active"] is True
    # Control: refresh works before the client is disabled (and rotates).
    rotated = await refresh(client, refresh_token, creds)
    assert rotated.status_code == 200, rotated.text
    refresh_token = rotated.json()["refresh_token"]

    async with owner_engine.connect() as conn:
        pk = await conn.scalar(
            text("select id from oauth_clients where client_id = :c"), {"c": creds[0]}
        )
    await _disable(client, admin_token, DISABLE_CLIENT, global_id("OAuthClient", pk))

    # Every refresh token of the client is revoked in the database, at once...
    rows = await refresh_rows(owner_engine, creds[0])
    assert len(rows) == 2
    assert all(row.revoked_at is not None for row in rows)
    # ...and the client can neither refresh nor get new tokens.
    response = await refresh(client, refresh_token, creds)
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": world.a.admin_email, "password": PASSWORD},
        auth=creds,
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    # The console, another client, is unaffected.
    assert (await password_token(client, world.a.admin_email)).status_code == 200


async def test_disabled_user_gets_no_tokens_and_cannot_refresh(
    client, world, admin_token, owner_engine
) -> None:
    before = await tokens_for(client, world.a.admin_email)
    spare = await tokens_for(client, world.a.admin_email)
    await _disable(client, admin_token, DISABLE_USER, global_id("User", world.a.admin_user_id))

    response = await password_token(client, world.a.admin_email)
    assert response.status_code == 400, response.text
    # The same answer as a wrong password: nothing says the account exists but is disabled.
    wrong = await password_token(client, world.b.admin_email, "not-the-password")
    assert response.json() == wrong.json()
    for body in (before, spare):
        response = await refresh(client, body["refresh_token"])
        assert response.status_code == 400
        assert response.json()["error"] in ("invalid_grant", "invalid_request")
        assert await introspect(client, body["refresh_token"]) == {"active": False}
    # Other users are unaffected.
    assert (await password_token(client, world.b.admin_email)).status_code == 200


async def test_disabled_user_refresh_refused_even_if_token_not_revoked(
    client, world, owner_engine
) -> None:
    """Defence in depth: were a refresh token left unrevoked, the user's status still counts."""
    body = await tokens_for(client, world.a.admin_email)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update users set status = 'DISABLED' where id = :id"),
            {"id": world.a.admin_user_id},
        )
    response = await refresh(client, body["refresh_token"])
    assert response.status_code == 400
    assert "access_token" not in response.json()


async def test_disabled_tenant_gets_no_tokens(client, world, owner_engine) -> None:
    """A disabled tenant's staff and service accounts can neither sign in, refresh nor get
    client-credentials tokens."""
    body = await tokens_for(client, world.a.admin_email)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update tenants set status = 'DISABLED' where id = :id"), {"id": world.a.id}
        )
    response = await password_token(client, world.a.admin_email)
    assert response.status_code == 400
    assert "access_token" not in response.json()
    response = await refresh(client, body["refresh_token"])
    assert response.status_code == 400, response.text
    assert "access_token" not in response.json()
    response = await client_token(client, world.a.service_client)
    assert response.status_code in (400, 401), response.text
    assert "access_token" not in response.json()
    # Tenant B is unaffected.
    assert (await password_token(client, world.b.admin_email)).status_code == 200
    assert (await client_token(client, world.b.service_client)).status_code == 200


async def test_disabled_user_is_refused_only_after_a_right_password(client, world) -> None:
    # No e-mail enumeration through tenant errors: the tenant is looked at only after the
    # password matched.
    wrong = await password_token(client, world.a.admin_email, "nope", tenant="bank-b")
    unknown = await password_token(client, "ghost@x.test", "nope", tenant="bank-b")
    assert wrong.json() == unknown.json()


# --- introspection agrees with the API ------------------------------------------------------


async def _set_status(owner_engine, table: str, row_id: Any, status: str) -> None:
    """Disable or re-enable a user, client or tenant directly in the database (as the owner):
    nothing else changes, refresh tokens included."""
    assert table in {"users", "oauth_clients", "tenants"}
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(f"update {table} set status = :status where id = :id"),
            {"status": status, "id": row_id},
        )


async def _seen(
    client: httpx.AsyncClient, tokens: dict[str, Any], creds: tuple[str, str] = CONSOLE
) -> tuple[bool, bool, bool]:
    """Whether the API accepts the access token, and whether introspection calls the access
    and the refresh token active."""
    api = await viewer_status(client, tokens["access_token"]) == 200
    access = await introspect(client, tokens["access_token"], creds)
    refresh_info = await introspect(client, tokens["refresh_token"], creds, hint="refresh_token")
    for info in (access, refresh_info):
        if not info["active"]:
            assert info == {"active": False}  # an inactive token says nothing more
    return api, access["active"], refresh_info["active"]


async def test_introspection_of_a_disabled_users_tokens_agrees_with_the_api(
    client, world, owner_engine
) -> None:
    tokens = await tokens_for(client, world.a.admin_email)
    other = await tokens_for(client, world.b.admin_email)
    assert await _seen(client, tokens) == (True, True, True)

    await _set_status(owner_engine, "users", world.a.admin_user_id, "DISABLED")
    assert await _seen(client, tokens) == (False, False, False)
    assert await _seen(client, other) == (True, True, True)  # another user is untouched

    await _set_status(owner_engine, "users", world.a.admin_user_id, "ACTIVE")
    assert await _seen(client, tokens) == (True, True, True)


async def test_introspection_after_disable_user_mutation(client, world, admin_token) -> None:
    """Through the mutation, refresh tokens are revoked as well; the access token, a JWT, is
    inactive for as long as the user is disabled."""
    tokens = await tokens_for(client, world.a.admin_email)
    await _disable(client, admin_token, DISABLE_USER, global_id("User", world.a.admin_user_id))
    assert await _seen(client, tokens) == (False, False, False)


async def test_introspection_of_a_disabled_tenants_tokens_agrees_with_the_api(
    client, world, owner_engine
) -> None:
    staff = await tokens_for(client, world.a.admin_email)
    other = await tokens_for(client, world.b.admin_email)
    platform = await tokens_for(client, world.admin_email)
    assert await _seen(client, staff) == (True, True, True)

    # (Through SQL as the owner: a setTenantStatus mutation is not there yet.)
    await _set_status(owner_engine, "tenants", world.a.id, "DISABLED")
    assert await _seen(client, staff) == (False, False, False)
    assert await _seen(client, other) == (True, True, True)
    assert await _seen(client, platform) == (True, True, True)

    await _set_status(owner_engine, "tenants", world.a.id, "ACTIVE")
    assert await _seen(client, staff) == (True, True, True)


async def test_introspection_of_a_disabled_clients_tokens_agrees_with_the_api(
    client, world, admin_token, owner_engine
) -> None:
    """Only a token's own client may introspect it, and a disabled client cannot authenticate:
    it gets 401 ``invalid_client``, never an answer saying its token is active."""
    creds = await _new_first_party_client(client, admin_token, "mobile app")
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": world.a.admin_email, "password": PASSWORD},
        auth=creds,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    console = await tokens_for(client, world.a.admin_email)
    assert await _seen(client, tokens, creds) == (True, True, True)
    async with owner_engine.connect() as conn:
        pk = await conn.scalar(
            text("select id from oauth_clients where client_id = :c"), {"c": creds[0]}
        )

    await _set_status(owner_engine, "oauth_clients", pk, "DISABLED")
    assert await viewer_status(client, tokens["access_token"]) == 401
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = await client.post("/oauth/introspect", data={"token": token}, auth=creds)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
        assert "active" not in response.json()
    # The same user's tokens through another client are untouched.
    assert await _seen(client, console) == (True, True, True)

    await _set_status(owner_engine, "oauth_clients", pk, "ACTIVE")
    assert await _seen(client, tokens, creds) == (True, True, True)


# --- token endpoint errors (RFC 6749 section 5.2) -------------------------------------------


async def test_wrong_user_credentials_are_invalid_grant(client, world, owner_engine) -> None:
    """Unknown e-mail, wrong password and disabled user: one answer, 400 ``invalid_grant``."""
    await _set_status(owner_engine, "users", world.b.admin_user_id, "DISABLED")
    answers = [
        await password_token(client, "nobody@nowhere.test", PASSWORD),
        await password_token(client, "nobody@nowhere.test", "not-the-password"),
        await password_token(client, world.a.admin_email, "not-the-password"),
        await password_token(client, world.b.admin_email),  # right password, disabled user
        await password_token(client, world.b.admin_email, "not-the-password"),
    ]
    for response in answers:
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid username or password.",
        }
        assert "www-authenticate" not in response.headers
        assert response.headers["cache-control"] == "no-store"
    # Control: the same request with the right password of an active user succeeds.
    assert (await password_token(client, world.a.admin_email)).status_code == 200


async def test_disabled_user_costs_the_same_password_check(client, world, monkeypatch) -> None:
    """A disabled user's right password does the same scrypt work as a wrong one (counted)."""
    import hashlib

    from tenants import secrets

    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(secrets.hashlib, "scrypt", counting)
    for email, password in (
        (world.a.admin_email, "not-the-password"),
        ("nobody@nowhere.test", PASSWORD),
    ):
        calls.clear()
        assert (await password_token(client, email, password)).status_code == 400
        assert len(calls) == 1, email


def _basic(client_id: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"authorization": f"Basic {value}"}


async def test_client_authentication_failures_answer_identically(
    client, world, owner_engine
) -> None:
    """Unknown client ID, wrong or missing secret, disabled client: through HTTP Basic or the
    form, on the token, revocation and introspection endpoints, one answer: 401
    ``invalid_client`` with ``WWW-Authenticate: Basic`` (RFC 6749 section 5.2). Authlib alone
    says "does not exist" for an unknown ID, and 400 for one sent in the form."""
    disabled = world.a.service_client
    await _set_status(owner_engine, "oauth_clients", world.a.service_client_pk, "DISABLED")
    partner_id = world.partner_client[0]
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        (_basic("no-such-client", "whatever"), {}),
        (_basic(partner_id, "wrong-secret"), {}),
        (_basic(*disabled), {}),  # right secret, disabled client
        ({}, {"client_id": "no-such-client", "client_secret": "whatever"}),
        ({}, {"client_id": partner_id, "client_secret": "wrong-secret"}),
        ({}, {"client_id": disabled[0], "client_secret": disabled[1]}),
        ({}, {"client_id": partner_id}),  # no secret
        ({}, {"client_id": "no-such-client"}),
        ({}, {}),  # no credentials at all
    ]
    endpoints = [
        ("/oauth/token", {"grant_type": "client_credentials"}),
        ("/oauth/revoke", {"token": "x"}),
        ("/oauth/introspect", {"token": "x"}),
    ]
    expected_body = {
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }
    expected_header = (
        'Basic error="invalid_client", error_description="Client authentication failed."'
    )
    for path, form in endpoints:
        for headers, credentials in attempts:
            response = await client.post(path, data={**form, **credentials}, headers=headers)
            assert response.status_code == 401, (path, headers, credentials, response.text)
            assert response.json() == expected_body, (path, headers, credentials)
            assert response.headers["www-authenticate"] == expected_header
    # Control: the partner's right secret works both ways.
    assert (await client_token(client, world.partner_client)).status_code == 200
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": partner_id,
            "client_secret": world.partner_client[1],
        },
    )
    assert response.status_code == 200, response.text


async def test_unknown_client_costs_the_same_secret_check(client, world, monkeypatch) -> None:
    """An unknown client ID compares a secret hash just as a wrong secret does (counted)."""
    from tenants import secrets

    calls: list[int] = []
    real = secrets.hash_token

    def counting(value: str) -> bytes:
        calls.append(1)
        return real(value)

    monkeypatch.setattr(secrets, "hash_token", counting)
    for creds in ((world.partner_client[0], "wrong-secret"), ("no-such-client", "wrong-secret")):
        calls.clear()
        assert (await client_token(client, creds)).status_code == 401
        assert len(calls) == 1, creds


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(b"\xff\xfe:\xff").decode().encode(),  # credentials not UTF-8
        b"\xe9\xe9\xe9==",  # header not ASCII
        b"bm8tY29sb24=",  # "no-colon": a client ID and no secret
        b"!!!",  # not base64
    ],
    ids=["not-utf8", "not-ascii", "no-colon", "not-base64"],
)
async def test_malformed_basic_credentials_are_invalid_client(client, world, value) -> None:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": b"Basic " + value},
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
