"""Pledges over GraphQL: one read rule for ``Deal.pledges`` and ``WarehouseReceipt.
activePledge`` (the deal's funder, the receipt's warehouse, the platform; nobody else), and
the warehouse's confirmPledgeCustody with its typed refusals."""

from __future__ import annotations

from typing import Any

import httpx

from tests.disbursement_support import build_world
from tests.pledges_support import (
    file_pledges,
    request_pledges,
    sandbox_registry,
    signed_pledge_deal,
)
from tests.support import access_token, global_id, gql

DEAL_PLEDGES = """
query($id: ID!) { node(id: $id) { ... on Deal {
  pledges { status filingNumber confirmedAt warehouseReceipt { id } }
} } }"""
RECEIPT_PLEDGE = """
query($id: ID!) { node(id: $id) { ... on WarehouseReceipt {
  activePledge { status filingNumber }
} } }"""
CONFIRM = """
mutation($input: ConfirmPledgeCustodyInput!) { confirmPledgeCustody(input: $input) {
  pledge { status confirmedAt } userErrors { field code message }
} }"""


async def _data(client: httpx.AsyncClient, token: str, query: str, variables: Any) -> Any:
    response = await gql(client, token, query, variables)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def test_one_read_rule_and_the_warehouses_confirmation(
    client: httpx.AsyncClient, app_state, owner_engine
) -> None:  # type: ignore[no-untyped-def]
    w = await build_world(app_state)
    m = w.market
    deal_id = await signed_pledge_deal(app_state, owner_engine, w)
    pledge_ids = await request_pledges(app_state, deal_id)
    deal = {"id": global_id("Deal", deal_id)}
    receipt = {"id": global_id("WarehouseReceipt", m.receipt)}
    funder = await access_token(client, m.world.a.admin_email)
    depot = await access_token(client, m.chain.warehouse_user.email)

    # Before the filing: the warehouse is told the pledge is not registered yet.
    refused = (
        await _data(client, depot, CONFIRM, {"input": {"warehouseReceiptId": receipt["id"]}})
    )["confirmPledgeCustody"]
    assert refused["pledge"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["PLEDGE_NOT_REGISTERED"]

    async with sandbox_registry() as (_, registry):
        await file_pledges(app_state, registry, w.a, pledge_ids)

    (seen,) = (await _data(client, funder, DEAL_PLEDGES, deal))["node"]["pledges"]
    assert seen["status"] == "REGISTERED" and seen["filingNumber"].startswith("DJ")
    assert seen["warehouseReceipt"] == {"id": receipt["id"]}
    active = (await _data(client, depot, RECEIPT_PLEDGE, receipt))["node"]["activePledge"]
    assert active == {"status": "REGISTERED", "filingNumber": seen["filingNumber"]}

    # Bank B reaches neither the deal nor the pledge; the cargo owner sees its receipt but
    # not the pledge (the funder's and the warehouse's record).
    other = await access_token(client, m.world.b.admin_email)
    assert (await _data(client, other, DEAL_PLEDGES, deal))["node"] is None
    assert (await _data(client, other, RECEIPT_PLEDGE, receipt))["node"] in (
        None,
        {"activePledge": None},
    )
    owner = await access_token(client, m.chain.owner_user.email)
    assert (await _data(client, owner, RECEIPT_PLEDGE, receipt))["node"] == {"activePledge": None}

    confirmed = (
        await _data(client, depot, CONFIRM, {"input": {"warehouseReceiptId": receipt["id"]}})
    )["confirmPledgeCustody"]
    assert confirmed["userErrors"] == [] and confirmed["pledge"]["status"] == "CUSTODY_CONFIRMED"
    (seen,) = (await _data(client, funder, DEAL_PLEDGES, deal))["node"]["pledges"]
    assert seen["status"] == "CUSTODY_CONFIRMED" and seen["confirmedAt"] is not None
