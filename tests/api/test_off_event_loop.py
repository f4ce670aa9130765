"""Blocking work stays off the event loop: scrypt runs in a worker thread when a user is created
over GraphQL and when the password grant checks a password, and the results are unchanged (a
user created through the API signs in with its password).

Proved by where the work runs, not by timing: the hashing call is wrapped to record its
thread, and the test (running on the loop that serves the in-process app) compares it with
the loop's own thread."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest

from tenants import secrets
from tests.support import PASSWORD, World, access_token, global_id, gql, password_token, seed_world

CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } }
}"""


@pytest.fixture
async def world(app_state) -> World:
    return await seed_world(app_state)


@pytest.fixture
def scrypt_threads(monkeypatch) -> list[threading.Thread]:
    """The thread of every scrypt call from now on."""
    threads: list[threading.Thread] = []
    real = hashlib.scrypt

    def recording(*args: Any, **kwargs: Any) -> bytes:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(secrets.hashlib, "scrypt", recording)
    return threads


async def test_create_user_hashes_off_the_event_loop(client, world, scrypt_threads) -> None:
    loop_thread = threading.current_thread()
    admin = await access_token(client, world.admin_email)
    scrypt_threads.clear()
    response = await gql(
        client,
        admin,
        CREATE_USER,
        {
            "input": {
                "email": "new.staff@bank-a.test",
                "displayName": "New Staff",
                "roles": ["FIRST_REVIEWER"],
                "tenantId": global_id("Tenant", world.a.id),
                "password": "a-long-new-password",
            }
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createUser"]["userErrors"] == []
    assert len(scrypt_threads) == 1
    assert scrypt_threads[0] is not loop_thread

    # The hash is as good as before: the new user signs in with that password, and only it.
    scrypt_threads.clear()
    signed_in = await password_token(client, "new.staff@bank-a.test", "a-long-new-password")
    assert signed_in.status_code == 200, signed_in.text
    refused = await password_token(client, "new.staff@bank-a.test", "not-the-password")
    assert refused.status_code == 400
    assert len(scrypt_threads) == 2
    assert loop_thread not in scrypt_threads


@pytest.mark.parametrize(
    "case",
    [
        ("known", PASSWORD, 200),
        ("known", "not-the-password", 400),
        ("unknown", PASSWORD, 400),  # checked against the stand-in hash
    ],
    ids=["right-password", "wrong-password", "unknown-user"],
)
async def test_password_grant_checks_off_the_event_loop(
    client, world, scrypt_threads, case
) -> None:
    who, password, status = case
    loop_thread = threading.current_thread()
    email = world.a.admin_email if who == "known" else "nobody@nowhere.test"
    response = await password_token(client, email, password)
    assert response.status_code == status, response.text
    assert len(scrypt_threads) == 1
    assert scrypt_threads[0] is not loop_thread


async def test_hash_password_in_thread_matches_the_sync_hash() -> None:
    """Same scheme and cost as :func:`secrets.hash_password`; checked by the sync check."""
    stored = await secrets.hash_password_in_thread("a-long-new-password")
    assert stored.split("$")[:4] == secrets.hash_password("x").split("$")[:4]
    assert secrets.check_password("a-long-new-password", stored)
    assert not secrets.check_password("a-long-new-passwore", stored)
