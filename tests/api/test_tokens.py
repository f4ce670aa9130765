"""Bearer tokens on /graphql: every way a token can be wrong is answered 401 with no data, a
valid token without the needed scope gets a permission error, and signing keys rotate.

Tokens are minted here with joserfc and the session's signing key, so that each forged token
differs from a valid one in exactly one property; ``test_minted_control_token_is_accepted``
proves that the unmodified mint is accepted, so every rejection below is about that one
property."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from api.app import build_state, create_app
from tenants.keys import SigningKeys, generate_key
from tests.conftest import ISSUER
from tests.support import CONSOLE, client_token, gql, seed_world, without_cost

VIEWER = "{ viewer { subject } }"
KID = "test-key-1"
AUDIENCE = "lendgraph"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def claims(**changes: Any) -> dict[str, Any]:
    """Claims of a valid partner-app access token; ``None`` drops a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "test-partner",
        "client_id": "test-partner",
        "scope": "viewer:read",
        "iat": now - 5,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def header(**changes: Any) -> dict[str, Any]:
    """Header of a valid access token; ``None`` drops a parameter."""
    base: dict[str, Any] = {"alg": "RS256", "typ": "at+jwt", "kid": KID}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signing_key(keys: SigningKeys, kid: str = KID) -> RSAKey:
    key = keys.key_set.get_by_kid(kid)
    assert isinstance(key, RSAKey)
    return key


def mint(key: RSAKey, hdr: dict[str, Any] | None = None, **claim_changes: Any) -> str:
    """A JWS signed by ``key`` with exactly the given header (joserfc adds no ``typ``)."""
    return jwt.encode(
        hdr if hdr is not None else header(), claims(**claim_changes), key, default_type=None
    )


def hs256(secret: bytes, hdr: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = f"{b64url_json(hdr)}.{b64url_json(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


async def assert_rejected(client: httpx.AsyncClient, token: str) -> httpx.Response:
    response = await gql(client, token, VIEWER)
    assert response.status_code == 401, response.text
    body = response.json()
    assert "data" not in body
    assert body["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    return response


# --- the control: a minted token that differs in nothing is accepted ----------------------


async def test_minted_control_token_is_accepted(client, signing_keys, app_state) -> None:
    await seed_world(app_state)  # the minted token's client must exist and be active
    token = mint(signing_key(signing_keys))
    response = await gql(client, token, VIEWER)
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == {"data": {"viewer": {"subject": "test-partner"}}}


async def test_minted_token_with_application_at_jwt_typ_is_accepted(
    client, signing_keys, app_state
) -> None:
    await seed_world(app_state)  # the minted token's client must exist and be active
    token = mint(signing_key(signing_keys), header(typ="application/at+jwt"))
    response = await gql(client, token, VIEWER)
    assert response.status_code == 200, response.text


async def test_validly_signed_token_of_an_unknown_client_is_refused(client, signing_keys) -> None:
    # Signature and claims are fine, but no such client is registered (or it was deleted).
    token = mint(signing_key(signing_keys))
    response = await gql(client, token, VIEWER)
    assert response.status_code == 401
    assert "data" not in response.text


async def test_anonymous_viewer_is_refused_without_401(client) -> None:
    response = await gql(client, None, VIEWER)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- time ---------------------------------------------------------------------------------


async def test_expired_token_is_rejected(client, signing_keys) -> None:
    now = int(time.time())
    await assert_rejected(client, mint(signing_key(signing_keys), iat=now - 600, exp=now - 10))


async def test_token_expiring_this_second_is_rejected(client, signing_keys) -> None:
    # exp is "on or after which the JWT MUST NOT be accepted" (RFC 7519 4.1.4).
    now = int(time.time())
    await assert_rejected(client, mint(signing_key(signing_keys), iat=now - 600, exp=now))


async def test_not_yet_valid_token_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), nbf=int(time.time()) + 120))


async def test_token_issued_in_the_future_is_rejected(client, signing_keys) -> None:
    # joserfc (1.8) refuses an iat later than now (leeway 0): a token from the future is forged
    # or from a server with a broken clock.
    await assert_rejected(client, mint(signing_key(signing_keys), iat=int(time.time()) + 120))


@pytest.mark.parametrize("value", ["9999999999", None, 1e400, True], ids=str)
async def test_non_numeric_exp_is_rejected(client, signing_keys, value) -> None:
    if value is None:
        token = mint(signing_key(signing_keys), exp=None)  # no exp at all
    elif isinstance(value, float):
        # JSON cannot carry infinity; write the number by hand.
        hdr = b64url_json(header())
        payload = json.dumps(claims(exp=0)).replace('"exp": 0', '"exp": 1e400')
        token = _sign_raw(signing_key(signing_keys), hdr, b64url(payload.encode()))
    else:
        token = mint(signing_key(signing_keys), exp=value)
    await assert_rejected(client, token)


def _sign_raw(key: RSAKey, hdr_b64: str, payload_b64: str, sha: str = "SHA256") -> str:
    """RSASSA-PKCS1-v1_5 over exactly these segments, bypassing joserfc's own checks."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{hdr_b64}.{payload_b64}".encode()
    private = key.private_key
    assert private is not None
    signature = private.sign(signing_input, padding.PKCS1v15(), getattr(hashes, sha)())
    return f"{hdr_b64}.{payload_b64}.{b64url(signature)}"


# --- who it is for ------------------------------------------------------------------------


async def test_wrong_issuer_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), iss="https://evil.example"))


async def test_issuer_with_trailing_slash_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), iss=ISSUER + "/"))


async def test_wrong_audience_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), aud="another-api"))


async def test_audience_list_without_us_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), aud=["a", "b"]))


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "client_id", "iat", "jti"])
async def test_missing_required_claim_is_rejected(client, signing_keys, claim) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), **{claim: None}))


async def test_unknown_role_claim_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), roles=["GOD"]))


async def test_malformed_tenant_claim_is_rejected(client, signing_keys) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), tenant="not-a-uuid"))


# --- header: type and algorithm -----------------------------------------------------------


async def test_token_without_typ_is_rejected(client, signing_keys) -> None:
    # Authlib's RFC 9068 validator alone accepts this (DESIGN 12): an ID token or any other
    # JWT signed by the same key must not pass as an access token.
    await assert_rejected(client, mint(signing_key(signing_keys), header(typ=None)))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT+x", "id_token", ""])
async def test_token_with_other_typ_is_rejected(client, signing_keys, typ) -> None:
    await assert_rejected(client, mint(signing_key(signing_keys), header(typ=typ)))


async def test_alg_none_is_rejected(client) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{b64url_json(header(alg=alg))}.{b64url_json(claims())}."
        await assert_rejected(client, token)


async def test_rs512_signed_by_our_key_is_rejected(client, signing_keys) -> None:
    # A genuine signature, but with an algorithm we do not issue: only RS256 is accepted.
    key = signing_key(signing_keys)
    for alg, sha in (("RS512", "SHA512"), ("RS384", "SHA384")):
        token = _sign_raw(key, b64url_json(header(alg=alg)), b64url_json(claims()), sha)
        await assert_rejected(client, token)


@pytest.mark.parametrize("form", ["pem", "pem-pkcs1", "jwk-json", "jwks-json", "n"])
async def test_hs256_with_public_key_as_hmac_secret_is_rejected(client, signing_keys, form) -> None:
    """The key-confusion attack: the public key is public, so an HS256 token whose HMAC secret
    is that key must not verify."""
    from cryptography.hazmat.primitives import serialization

    key = signing_key(signing_keys)
    public = key.public_key
    secrets_by_form = {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pem-pkcs1": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "jwk-json": json.dumps(key.as_dict(private=False)).encode(),
        "jwks-json": json.dumps(signing_keys.public_jwks()).encode(),
        "n": str(key.as_dict(private=False)["n"]).encode(),
    }
    secret = secrets_by_form[form]
    for hdr in (header(alg="HS256"), header(alg="HS256", kid=None)):
        await assert_rejected(client, hs256(secret, hdr, claims()))


async def test_hs256_built_with_joserfc_octkey_is_rejected(client, signing_keys) -> None:
    from joserfc.jwk import OctKey

    key = signing_key(signing_keys)
    # joserfc itself refuses to turn a PEM public key into an HMAC secret...
    with pytest.raises(ValueError, match="Asymmetric public keys"):
        OctKey.import_key(key.as_pem(private=False))
    # ...but not the JWK JSON of that key, so build the attack from that.
    oct_key = OctKey.import_key(json.dumps(key.as_dict(private=False)).encode())
    token = jwt.encode(header(alg="HS256"), claims(), oct_key, default_type=None)
    await assert_rejected(client, token)


# --- keys ---------------------------------------------------------------------------------


async def test_unknown_kid_is_rejected(client) -> None:
    rogue = generate_key("rogue-key")
    await assert_rejected(client, mint(rogue, header(kid="rogue-key")))


async def test_foreign_key_claiming_our_kid_is_rejected(client) -> None:
    rogue = generate_key(KID)
    await assert_rejected(client, mint(rogue, header(kid=KID)))


async def test_foreign_key_without_kid_is_rejected(client) -> None:
    rogue = generate_key("rogue")
    await assert_rejected(client, mint(rogue, header(kid=None)))


async def test_embedded_jwk_header_is_not_trusted(client) -> None:
    # A token carrying its own (attacker's) public key must still be checked against ours.
    rogue = generate_key("rogue")
    hdr = header(kid=None, jwk=rogue.as_dict(private=False))
    await assert_rejected(client, mint(rogue, hdr))


async def test_tampered_signature_is_rejected(client, signing_keys) -> None:
    token = mint(signing_key(signing_keys))
    head, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    await assert_rejected(client, f"{head}.{payload}.{b64url(bytes(raw))}")


async def test_truncated_or_missing_signature_is_rejected(client, signing_keys) -> None:
    token = mint(signing_key(signing_keys))
    head, payload, signature = token.split(".")
    await assert_rejected(client, f"{head}.{payload}.{signature[:-8]}")
    await assert_rejected(client, f"{head}.{payload}.")


async def test_tampered_payload_is_rejected(client, signing_keys) -> None:
    token = mint(signing_key(signing_keys))
    head, payload, signature = token.split(".")
    forged = json.loads(b64url_decode(payload))
    forged["scope"] = "viewer:read tenants:write platform:admin"
    await assert_rejected(client, f"{head}.{b64url_json(forged)}.{signature}")


async def test_tampered_header_is_rejected(client, signing_keys) -> None:
    # Changing the header (even to equivalent JSON) breaks the signature over it.
    token = mint(signing_key(signing_keys))
    _, payload, signature = token.split(".")
    hdr = json.dumps(header(), indent=1).encode()
    await assert_rejected(client, f"{b64url(hdr)}.{payload}.{signature}")


# --- not even a JWT -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "a.b",
        "...",
        "a.b.c.d.e",
        "eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "x" * 10_000,
        "%%%.###.!!!",
        f"{b64url_json([])}.{b64url_json({})}.AAAA",
        f"{b64url_json(None)}.{b64url_json({})}.AAAA",
        f"{b64url_json('RS256')}.{b64url_json({})}.AAAA",
        f"{b64url_json(1)}.{b64url_json({})}.AAAA",
        f"{b64url(b'{not json')}.{b64url_json({})}.AAAA",
        f"{b64url_json({'alg': ['RS256'], 'typ': 'at+jwt'})}.{b64url_json({})}.AAAA",
        f"{b64url_json({'alg': 'RS256', 'typ': ['at+jwt']})}.{b64url_json({})}.AAAA",
        f"{b64url_json({'alg': 'RS256', 'typ': 'at+jwt', 'kid': {}})}.{b64url_json({})}.AAAA",
        f"{b64url_json({'alg': 'RS256', 'typ': 'at+jwt', 'crit': ['exp']})}.e30.AAAA",
    ],
    ids=lambda t: t[:40],
)
async def test_garbage_is_rejected(client, token) -> None:
    await assert_rejected(client, token)


async def test_signed_non_object_payload_is_rejected(client, signing_keys) -> None:
    key = signing_key(signing_keys)
    hdr = b64url_json(header())
    for payload in (b"[]", b"null", b'"x"', b"1", b"{"):
        await assert_rejected(client, _sign_raw(key, hdr, b64url(payload)))


async def test_signed_payload_with_wrongly_typed_claims_is_rejected(client, signing_keys) -> None:
    key = signing_key(signing_keys)
    # Only a holder of the private key can make these; still a 401, never a 500.
    for changes in (
        {"sub": 123},
        {"sub": ""},
        {"client_id": ["test-partner"]},
        {"scope": ["viewer:read"]},
        {"scope": {"viewer:read": True}},
        {"roles": "PLATFORM_ADMIN"},
        {"roles": [["PLATFORM_ADMIN"]]},
        {"iss": [ISSUER]},
        {"jti": 1},
        {"tenant": 12},
        {"org": ["x"]},
    ):
        await assert_rejected(client, mint(key, **changes))


async def test_non_ascii_bearer_is_rejected(client) -> None:
    response = await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers=[(b"authorization", b"Bearer \xff\xfe\xfd.\xc3\xa9.x")],
    )
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "value",
    ["Basic dGVzdC1wYXJ0bmVyOnRlc3QtcGFydG5lci1zZWNyZXQ=", "Bearer", "Bearer    ", "Token x", "x"],
)
async def test_other_schemes_and_empty_bearer_are_rejected(client, signing_keys, value) -> None:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": value}
    )
    assert response.status_code == 401, response.text
    assert "data" not in response.json()
    assert response.headers["www-authenticate"].startswith("Bearer ")


async def test_bearer_scheme_is_case_insensitive(client, signing_keys, app_state) -> None:
    await seed_world(app_state)  # the minted token's client must exist and be active
    token = mint(signing_key(signing_keys))
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"bearer {token}"}
    )
    assert response.status_code == 200, response.text


async def test_bad_token_is_rejected_on_public_paths_too(client) -> None:
    # The middleware guards every path but /oauth/*; the JWKS stays public without a token.
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    response = await client.get(
        "/.well-known/jwks.json", headers={"Authorization": "Bearer garbage"}
    )
    assert response.status_code == 401


# --- a valid token without the scope a field needs ---------------------------------------

CREATE_TENANT = """
mutation {
  createTenant(input: {name: "Evil Bank", slug: "evil", kind: BANK}) {
    tenant { id slug }
    userErrors { code message }
  }
}
"""


async def test_partner_token_cannot_create_tenant(client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    issued = await client_token(client, world.partner_client)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    response = await gql(client, token, CREATE_TENANT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["createTenant"]
    from sqlalchemy import text

    async with owner_engine.connect() as conn:
        count = await conn.scalar(text("select count(*) from tenants where slug = 'evil'"))
    assert count == 0


async def test_minted_token_without_scope_cannot_create_tenant(
    client, signing_keys, app_state
) -> None:
    await seed_world(app_state)  # the minted token's client must exist and be active
    # Control for the test above: only the scope differs between refused and allowed.
    token = mint(signing_key(signing_keys), scope="viewer:read tenants:read")
    body = (await gql(client, token, CREATE_TENANT)).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_service_account_token_cannot_create_tenant(client, app_state) -> None:
    world = await seed_world(app_state)
    token = (await client_token(client, world.a.service_client)).json()["access_token"]
    body = (await gql(client, token, CREATE_TENANT)).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- introspection answers as the API does -------------------------------------------------


@pytest.mark.parametrize("who", ["control", "unknown-user", "unknown-tenant"])
async def test_introspection_refuses_a_minted_token_the_api_refuses(
    client, signing_keys, app_state, who
) -> None:
    """A genuinely signed, unexpired token whose user or tenant does not exist is refused by
    the API's principal check; introspection must call it inactive too. Minted for the console
    client, which may introspect its own tokens; the control names the real user and tenant."""
    world = await seed_world(app_state)
    user_id = {"unknown-user": uuid.uuid4()}.get(who, world.a.admin_user_id)
    tenant_id = {"unknown-tenant": uuid.uuid4()}.get(who, world.a.id)
    token = mint(
        signing_key(signing_keys),
        sub=str(user_id),
        client_id=CONSOLE[0],
        tenant=str(tenant_id),
        roles=["FUNDER_ADMIN"],
    )
    api_accepts = (await gql(client, token, VIEWER)).status_code == 200
    response = await client.post("/oauth/introspect", data={"token": token}, auth=CONSOLE)
    assert response.status_code == 200, response.text
    assert api_accepts is (who == "control")
    assert response.json()["active"] is api_accepts
    if not api_accepts:
        assert response.json() == {"active": False}


# --- key rotation -------------------------------------------------------------------------


@pytest.fixture
async def rotation_apps(settings) -> AsyncIterator[dict[str, Any]]:
    """Three deployments over the same database: keys {k1}; {k1, k2} with k2 active; {k2}."""
    k1, k2 = generate_key("rot-k1"), generate_key("rot-k2")
    sets = {
        "one": SigningKeys(KeySet([k1]), "rot-k1"),
        "both": SigningKeys(KeySet([k1, k2]), "rot-k2"),
        "two": SigningKeys(KeySet([k2]), "rot-k2"),
    }
    states = {name: build_state(settings, keys=keys) for name, keys in sets.items()}
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, state=state)),
            base_url=ISSUER,
        )
        for name, state in states.items()
    }
    try:
        yield {"clients": clients, "states": states}
    finally:
        for c in clients.values():
            await c.aclose()
        for state in states.values():
            await state.engine.dispose()


def kid_of(token: str) -> str:
    return str(json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))["kid"])


async def test_key_rotation(client, app_state, rotation_apps) -> None:
    clients: dict[str, httpx.AsyncClient] = rotation_apps["clients"]
    world = await seed_world(app_state)

    async def issue(name: str) -> str:
        response = await client_token(clients[name], world.partner_client)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def viewer_status(name: str, token: str) -> int:
        return (await gql(clients[name], token, VIEWER)).status_code

    old = await issue("one")
    assert kid_of(old) == "rot-k1"
    assert await viewer_status("one", old) == 200
    # The session app does not know k1.
    assert (await gql(client, old, VIEWER)).status_code == 401

    # Stage 2: k2 added and active; k1 still published.
    assert await viewer_status("both", old) == 200
    new = await issue("both")
    assert kid_of(new) == "rot-k2"
    assert {kid_of(await issue("both")) for _ in range(5)} == {"rot-k2"}
    assert await viewer_status("both", new) == 200
    jwks = (await clients["both"].get("/.well-known/jwks.json")).json()
    assert sorted(k["kid"] for k in jwks["keys"]) == ["rot-k1", "rot-k2"]
    for key in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()

    # Stage 3: k1 removed. Its tokens die; k2 tokens live on.
    assert await viewer_status("two", old) == 401
    assert await viewer_status("two", new) == 200
    newest = await issue("two")
    assert kid_of(newest) == "rot-k2"
    assert await viewer_status("two", newest) == 200
    jwks = (await clients["two"].get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == ["rot-k2"]


def test_active_key_must_be_in_the_set() -> None:
    with pytest.raises(ValueError, match="not in the key set"):
        SigningKeys(KeySet([generate_key("a")]), "b")


def test_signing_uses_only_the_active_key() -> None:
    k1, k2 = generate_key("a"), generate_key("b")
    keys = SigningKeys(KeySet([k1, k2]), "a")
    assert [k.kid for k in keys.active.keys] == ["a"]


def test_dev_keys_are_created_owner_only_and_reloaded(tmp_path) -> None:
    import stat

    from tenants.keys import load_or_create_dev_keys

    path = tmp_path / "keys" / "jwks.json"
    created = load_or_create_dev_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = load_or_create_dev_keys(path)
    assert reloaded.active_kid == created.active_kid
    assert reloaded.public_jwks() == created.public_jwks()
    for key in created.public_jwks()["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
