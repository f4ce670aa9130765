"""Disabling a client, a user or a tenant takes effect at once for access tokens already
issued, not only when they expire."""

from __future__ import annotations

from sqlalchemy import text

from tests.support import access_token, client_token, global_id, gql, seed_world

VIEWER = "{ viewer { subject } }"
DISABLE_CLIENT = """
mutation($id: UserOrClientID!) { disableOAuthClient(input: {id: $id}) { userErrors { code } } }
"""
DISABLE_USER = (
    "mutation($id: UserOrClientID!) { disableUser(input: {id: $id}) { userErrors { code } } }"
)


async def test_disabled_client_token_is_refused_at_once(client, app_state) -> None:
    world = await seed_world(app_state)
    partner = (await client_token(client, world.partner_client)).json()["access_token"]
    assert (await gql(client, partner, VIEWER)).status_code == 200
    admin = await access_token(client, world.admin_email)
    result = await gql(
        client, admin, DISABLE_CLIENT, {"id": global_id("OAuthClient", world.partner_client_pk)}
    )
    assert result.json()["data"]["disableOAuthClient"]["userErrors"] == []
    refused = await gql(client, partner, VIEWER)
    assert refused.status_code == 401
    assert "data" not in refused.text


async def test_disabled_user_token_is_refused_at_once(client, app_state) -> None:
    world = await seed_world(app_state)
    funder = await access_token(client, world.a.admin_email)
    assert (await gql(client, funder, VIEWER)).status_code == 200
    admin = await access_token(client, world.admin_email)
    result = await gql(
        client, admin, DISABLE_USER, {"id": global_id("User", world.a.admin_user_id)}
    )
    assert result.json()["data"]["disableUser"]["userErrors"] == []
    assert (await gql(client, funder, VIEWER)).status_code == 401
    # Another tenant's staff are untouched.
    other = await access_token(client, world.b.admin_email)
    assert (await gql(client, other, VIEWER)).status_code == 200


async def test_disabled_tenant_token_is_refused_at_once(client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    staff = await access_token(client, world.a.admin_email)
    service = (await client_token(client, world.a.service_client)).json()["access_token"]
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update tenants set status = 'DISABLED' where id = :id"), {"id": world.a.id}
        )
    assert (await gql(client, staff, VIEWER)).status_code == 401
    assert (await gql(client, service, VIEWER)).status_code == 401
