"""Contracts over GraphQL: bank A's admin prepares the contract of an approved consumer deal
(version 1, its schedule of 100,000.00 at 12 % over 12 months), again with the same inputs
(still version 1) and with another value date (version 2); the applicant and the funder's
staff read it through ``Deal.contract``, bank B's admin finds no deal to prepare, a deal in
review is refused and a token without contracts:write is FORBIDDEN.

The world is tests/integration/test_contracts.py's: the young borrower asks 100,000.00 over
12 months of bank A's consumer product (12 %, equal instalments), approved as requested."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.kernel.money import Money
from tests.deals_support import consumer_deal
from tests.integration.test_contracts import (
    World,
    approved_consumer,
    in_first_review,
    make_world,
)
from tests.support import access_token, global_id, gql

CONTRACT = """
version status sha256 termsDigest pages createdAt
terms {
  contractNumber amount { amount currency } annualRate term termUnit repaymentMethod
  originationFee { amount currency } issuedOn
  schedule { dueDate principal { amount } interest { amount } total { amount } }
}
"""
PREPARE = f"""
mutation($input: PrepareContractInput!) {{
  prepareContract(input: $input) {{
    contract {{ {CONTRACT} }}
    userErrors {{ field code message }}
  }}
}}"""
DEAL = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Deal {{ status contract {{ {CONTRACT} }} }} }} }}"""


@pytest.fixture
async def world(app_state: AppState) -> World:
    return await make_world(app_state)


async def _prepare(
    client: httpx.AsyncClient, token: str, deal_id: Any, value_date: str | None = "2030-01-15"
) -> dict[str, Any]:
    variables: dict[str, Any] = {"dealId": global_id("Deal", deal_id)}
    if value_date is not None:
        variables["valueDate"] = value_date
    response = await gql(client, token, PREPARE, {"input": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"]["prepareContract"])


async def _deal(client: httpx.AsyncClient, token: str, deal_id: Any) -> Any:
    response = await gql(client, token, DEAL, {"id": global_id("Deal", deal_id)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["node"]


async def test_prepare_version_1_then_again_then_version_2(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: World
) -> None:
    deal_id = await approved_consumer(app_state, world)
    admin = await access_token(client, world.m.world.a.admin_email)

    first = await _prepare(client, admin, deal_id)
    assert first["userErrors"] == []
    contract = first["contract"]
    assert (contract["version"], contract["status"]) == (1, "DRAFT")
    assert contract["pages"] >= 1
    terms = contract["terms"]
    assert terms["amount"] == {"amount": "100000.00", "currency": "CNY"}
    assert terms["annualRate"] == "0.12"
    assert (terms["term"], terms["termUnit"], terms["repaymentMethod"]) == (
        12,
        "MONTH",
        "EQUAL_INSTALLMENT",
    )
    assert terms["originationFee"] == {"amount": "0.00", "currency": "CNY"}
    assert terms["contractNumber"] == "LG-" + deal_id.hex[:16].upper()
    # 1 % a month: 8,884.88 eleven times and 8,884.85 last; interest 1,000.00 first.
    schedule = terms["schedule"]
    assert len(schedule) == 12
    assert schedule[0] == {
        "dueDate": "2030-02-15",
        "principal": {"amount": "7884.88"},
        "interest": {"amount": "1000.00"},
        "total": {"amount": "8884.88"},
    }
    assert schedule[-1]["dueDate"] == "2031-01-15"
    assert schedule[-1]["total"] == {"amount": "8884.85"}
    async with owner_engine.connect() as conn:
        stored = (
            await conn.execute(
                text("select sha256, terms_digest from contracts where deal_id = :d"),
                {"d": deal_id},
            )
        ).one()
    assert tuple(stored) == (contract["sha256"], contract["termsDigest"])

    again = await _prepare(client, admin, deal_id)
    assert again["userErrors"] == []
    assert again["contract"]["version"] == 1
    assert again["contract"]["sha256"] == contract["sha256"]

    moved = await _prepare(client, admin, deal_id, "2030-02-15")
    assert moved["userErrors"] == []
    assert moved["contract"]["version"] == 2
    assert moved["contract"]["terms"]["schedule"][0]["dueDate"] == "2030-03-15"
    assert moved["contract"]["sha256"] != contract["sha256"]
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("select version, status from contracts where deal_id = :d order by version"),
                {"d": deal_id},
            )
        ).all()
    assert [tuple(r) for r in rows] == [(1, "VOID"), (2, "DRAFT")]


async def test_the_applicant_and_the_funders_staff_read_the_contract(
    client: httpx.AsyncClient, app_state: AppState, world: World
) -> None:
    deal_id = await approved_consumer(app_state, world)
    applicant = await access_token(client, world.m.young.email)
    # Before it is prepared there is none.
    assert (await _deal(client, applicant, deal_id))["contract"] is None
    admin = await access_token(client, world.m.world.a.admin_email)
    prepared = (await _prepare(client, admin, deal_id))["contract"]

    seen = await _deal(client, applicant, deal_id)
    assert seen["status"] == "APPROVED"
    assert seen["contract"] == prepared
    reviewer = await access_token(client, "first@contracts.test")
    assert (await _deal(client, reviewer, deal_id))["contract"] == prepared
    # Bank B's admin does not see the deal at all.
    b_admin = await access_token(client, world.m.world.b.admin_email)
    assert await _deal(client, b_admin, deal_id) is None


async def test_another_funder_and_a_deal_in_review_are_refused(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: World
) -> None:
    deal_id = await approved_consumer(app_state, world)
    b_admin = await access_token(client, world.m.world.b.admin_email)
    refused = await _prepare(client, b_admin, deal_id)
    assert refused["contract"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("dealId", "NOT_FOUND")]

    kw = consumer_deal(world.m, amount=Money.parse("20000.00", "CNY"))
    in_review = await in_first_review(app_state, world, world.m.young.actor(), kw)
    admin = await access_token(client, world.m.world.a.admin_email)
    refused = await _prepare(client, admin, in_review)
    assert refused["contract"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("dealId", "INVALID_TRANSITION")
    ]
    past = await _prepare(client, admin, deal_id, "2020-01-01")
    assert [(e["field"], e["code"]) for e in past["userErrors"]] == [("valueDate", "INVALID")]
    async with owner_engine.connect() as conn:
        count = (await conn.execute(text("select count(*) from contracts"))).scalar_one()
    assert count == 0


async def test_a_token_without_contracts_write_is_forbidden(
    client: httpx.AsyncClient, app_state: AppState, world: World
) -> None:
    deal_id = await approved_consumer(app_state, world)
    reviewer = await access_token(client, "second@contracts.test")
    response = await gql(
        client, reviewer, PREPARE, {"input": {"dealId": global_id("Deal", deal_id)}}
    )
    body = response.json()
    assert (body.get("data") or {}).get("prepareContract") is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["message"] == "Requires the contracts:write scope"
