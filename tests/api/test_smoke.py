"""First path through the stack: tokens for a user and a client, then ``viewer``."""

from __future__ import annotations

from tests.support import access_token, client_token, gql, seed_world

VIEWER = "{ viewer { kind subject clientId roles scopes user { email } tenant { slug } } }"


async def test_user_token_and_viewer(client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    response = await gql(client, token, VIEWER)
    assert response.status_code == 200, response.text
    viewer = response.json()["data"]["viewer"]
    assert viewer["kind"] == "USER"
    assert viewer["roles"] == ["FUNDER_ADMIN"]
    assert viewer["tenant"] == {"slug": "bank-a"}
    assert viewer["user"] == {"email": world.a.admin_email}
    assert "tenants:write" not in viewer["scopes"]


async def test_client_credentials_and_viewer(client, app_state) -> None:
    world = await seed_world(app_state)
    response = await client_token(client, world.partner_client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    result = await gql(client, body["access_token"], VIEWER)
    viewer = result.json()["data"]["viewer"]
    assert viewer["kind"] == "CLIENT"
    assert viewer["clientId"] == "test-partner"
    assert viewer["scopes"] == ["viewer:read"]
    assert viewer["tenant"] is None
