"""Concurrent duplicates get the same DUPLICATE userError as sequential ones: ten identical
createTenant (slug), createUser (e-mail), createOrganization (social credit code) or
createPerson (resident ID) requests over HTTP, all past their "does it exist?" check before any
of them inserts, make exactly one row; the other nine are refused with DUPLICATE on the field,
never an "Unexpected error"."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from tests.collateral_support import social_credit_code
from tests.deals_support import resident_id
from tests.support import access_token, gql, seed_world

N = 10  # the test pool's connections (5 + 5 overflow): every request holds one at once


CASES: dict[str, tuple[str, str, str, dict[str, Any], str]] = {
    # mutation: (table, payload object, input type, input, field refused)
    "createTenant": (
        "tenants",
        "tenant",
        "CreateTenantInput",
        {"name": "Bank C", "slug": "bank-c", "kind": "BANK"},
        "slug",
    ),
    "createUser": (
        "users",
        "user",
        "CreateUserInput",
        # Differently cased: the unique index is on lower(email).
        {"email": "Ops@Platform.test", "displayName": "Ops", "roles": ["PLATFORM_ADMIN"]},
        "email",
    ),
    "createOrganization": (
        "organizations",
        "organization",
        "CreateOrganizationInput",
        {"kind": "TRADE_ENTERPRISE", "name": "Race Co", "socialCreditCode": social_credit_code(9)},
        "socialCreditCode",
    ),
    "createPerson": (
        "persons",
        "person",
        "CreatePersonInput",
        {"fullName": "Zhao Lei", "residentId": resident_id("19850612", 7)},
        "residentId",
    ),
}


async def _waiting_inserts(owner: AsyncEngine, table: str) -> int:
    async with owner.connect() as conn:
        found = await conn.scalar(
            text(
                # Of this test database only: databases made from one template share OIDs.
                "select count(*) from pg_locks l join pg_class c on c.oid = l.relation"
                " where c.relname = :t and l.mode = 'RowExclusiveLock' and not l.granted"
                " and l.database = (select oid from pg_database where datname = current_database())"
            ),
            {"t": table},
        )
        return int(found or 0)


@pytest.mark.parametrize("mutation", list(CASES))
async def test_concurrent_duplicates_are_refused_as_duplicates(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, mutation: str
) -> None:
    table, field, input_type, input, refused_field = CASES[mutation]
    world = await seed_world(app_state)
    token = await access_token(client, world.admin_email)
    document = f"""
    mutation($input: {input_type}!) {{
      {mutation}(input: $input) {{ {field} {{ id }} userErrors {{ field code }} }}
    }}"""
    async with owner_engine.connect() as owner:
        before = await owner.scalar(text(f"select count(*) from {table}"))
        await owner.commit()

    # Hold inserts into the table back (reads go on) until every request has passed its
    # own duplicate check and waits to insert: then all of them race for the unique key.
    async with owner_engine.connect() as gate:
        await gate.execute(text(f"lock table {table} in share mode"))
        requests = [
            asyncio.ensure_future(gql(client, token, document, {"input": input})) for _ in range(N)
        ]
        for _ in range(6000):
            if await _waiting_inserts(owner_engine, table) == N or any(r.done() for r in requests):
                break
            await asyncio.sleep(0.01)  # let the requests run up to the lock; not a proof
        assert not any(r.done() for r in requests), [r.result().text for r in requests if r.done()]
        assert await _waiting_inserts(owner_engine, table) == N
        await gate.rollback()  # open the gate
    responses = await asyncio.gather(*requests)

    assert [r.status_code for r in responses] == [200] * N
    bodies = [r.json() for r in responses]
    assert all("errors" not in b for b in bodies), [b for b in bodies if "errors" in b][:1]
    payloads = [b["data"][mutation] for b in bodies]
    made = [p for p in payloads if p[field] is not None]
    assert len(made) == 1 and made[0]["userErrors"] == []
    refused = [p for p in payloads if p[field] is None]
    assert [p["userErrors"] for p in refused] == [
        [{"field": refused_field, "code": "DUPLICATE"}]
    ] * (N - 1)
    async with owner_engine.connect() as owner:
        assert await owner.scalar(text(f"select count(*) from {table}")) == before + 1

    # The sequential duplicate gets the same answer from the check before the insert.
    again = (await gql(client, token, document, {"input": input})).json()["data"][mutation]
    assert again == {field: None, "userErrors": [{"field": refused_field, "code": "DUPLICATE"}]}
