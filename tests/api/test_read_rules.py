"""One read rule per type (DESIGN.md section 5): ``node(id:)`` returns exactly what the same
principal reaches through fields, and every field that returns an object applies that object's
rule. And a disabled funder's products are read by one rule everywhere (issue: products of a
disabled funder stayed readable by ID)."""

from __future__ import annotations

from typing import Any

import httpx

from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products.models import ProductLine
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import Status
from tests.collateral_support import store_document
from tests.deals_support import apply, consumer_deal, market, order_deal, pledge_deal, submit
from tests.support import access_token, client_token, global_id, gql

DEAL = """
query($id: ID!) { node(id: $id) { ... on Deal {
  applicant { __typename ... on Person { id fullName } ... on Organization { id name } }
  purchaseOrder { id number documents { id } }
  warehouseReceipts { id number }
  funder { id slug }
  product { id name }
  terms { version }
} } }"""
NODE = """
query($id: ID!) { node(id: $id) {
  __typename id
  ... on Person { fullName } ... on Organization { name } ... on PurchaseOrder { number }
  ... on WarehouseReceipt { number } ... on Document { fileName } ... on Tenant { slug }
  ... on Product { name }
} }"""


async def _node(client: httpx.AsyncClient, token: str, gid: str) -> Any:
    response = await gql(client, token, NODE, {"id": gid})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["node"]


async def _deal(client: httpx.AsyncClient, token: str, deal_id: Any) -> Any:
    response = await gql(client, token, DEAL, {"id": global_id("Deal", deal_id)})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["node"]


async def test_node_returns_what_a_funder_reaches_through_its_deals(client, app_state) -> None:
    m = await market(app_state)
    order = await apply(app_state, m.chain.seller_user.actor(), **order_deal(m))
    pledge = await apply(app_state, m.chain.owner_user.actor(), **pledge_deal(m))
    funder = await access_token(client, m.world.a.admin_email)
    for outcome in (order, pledge):
        deal = await _deal(client, funder, outcome.deal.id)
        reached = [deal["applicant"], deal["purchaseOrder"], *deal["warehouseReceipts"]]
        reached = [r for r in reached if r is not None]
        assert len(reached) == 2, deal  # the applicant and its collateral
        for obj in reached:
            assert (await _node(client, funder, obj["id"]))["id"] == obj["id"]
        assert (await _node(client, funder, deal["funder"]["id"]))["slug"] == "bank-a"
    # Bank B does not reach the deal; a partner that does not act for the trading company
    # reaches neither the company nor its order, by field or by ID.
    other = await access_token(client, m.world.b.admin_email)
    assert await _deal(client, other, order.deal.id) is None
    stranger = (await client_token(client, m.other_partner.credentials)).json()["access_token"]
    seller = global_id("Organization", m.world.borrower_org_id)
    assert await _node(client, stranger, seller) is None
    assert await _node(client, stranger, global_id("PurchaseOrder", m.order)) is None


async def test_node_returns_a_borrowers_own_person_and_company(client, app_state) -> None:
    m = await market(app_state)
    await apply(app_state, m.young.actor(), **consumer_deal(m))
    young = await access_token(client, m.young.email)
    me = await _node(client, young, global_id("Person", m.young.person_id))
    assert me is not None and me["__typename"] == "Person"
    seller = await access_token(client, m.chain.seller_user.email)
    company = await _node(client, seller, global_id("Organization", m.world.borrower_org_id))
    assert company is not None and company["__typename"] == "Organization"
    # Another person is not theirs to see.
    assert await _node(client, young, global_id("Person", m.world.person_id)) is None


async def test_node_returns_a_document_on_an_order_the_core_enterprise_owes(
    client, app_state
) -> None:
    m = await market(app_state)
    document = await store_document(app_state, m.chain.seller_user, purchase_order_id=m.order)
    core = await access_token(client, m.chain.core_user.email)
    order = await gql(
        client,
        core,
        "query($id: ID!) { node(id: $id) { ... on PurchaseOrder { documents { id } } } }",
        {"id": global_id("PurchaseOrder", m.order)},
    )
    reached = [d["id"] for d in order.json()["data"]["node"]["documents"]]
    assert reached == [global_id("Document", document)]
    assert (await _node(client, core, reached[0]))["fileName"] == "invoice.pdf"
    # The other core enterprise (not the buyer) reaches neither.
    other = await access_token(client, m.chain.other_core_user.email)
    assert await _node(client, other, reached[0]) is None


async def test_deal_applicant_needs_the_persons_scope_like_node(client, app_state) -> None:
    m = await market(app_state)
    outcome = await apply(app_state, m.young.actor(), **consumer_deal(m))
    narrow = await access_token(client, m.world.a.admin_email, scope="deals:read")
    deal = await _deal(client, narrow, outcome.deal.id)
    assert deal is not None and deal["applicant"] is None
    assert await _node(client, narrow, global_id("Person", m.young.person_id)) is None
    wide = await access_token(client, m.world.a.admin_email, scope="deals:read persons:read")
    assert (await _deal(client, wide, outcome.deal.id))["applicant"]["__typename"] == "Person"


MARKET = "{ marketplace(first: 50) { edges { node { id funder { slug } } } } }"
SET_STATUS = """
mutation($id: TenantID!, $status: Status!) {
  setTenantStatus(input: {id: $id, status: $status}) {
    tenant { slug status } userErrors { field code message }
  }
}"""


async def test_a_disabled_funders_products_are_read_by_one_rule(client, app_state) -> None:
    m = await market(app_state)
    outcome = await apply(app_state, m.young.actor(), **consumer_deal(m))
    submitted, errors = await submit(app_state, m.young.actor(), outcome.deal.id)
    assert submitted is not None, errors
    product = global_id("Product", m.product("a", ProductLine.CONSUMER_CREDIT))
    partner = (await client_token(client, m.partner.credentials)).json()["access_token"]
    young = await access_token(client, m.young.email)
    funder = await access_token(client, m.world.a.admin_email)
    operator = await access_token(client, m.world.admin_email)

    async def offered() -> set[str]:
        body = (await gql(client, partner, MARKET)).json()
        return {e["node"]["funder"]["slug"] for e in body["data"]["marketplace"]["edges"]}

    assert await offered() == {"bank-a", "bank-b"}
    assert (await _node(client, partner, product))["id"] == product
    assert (await _deal(client, young, outcome.deal.id))["product"]["id"] == product

    response = await gql(
        client,
        operator,
        SET_STATUS,
        {"id": global_id("Tenant", m.world.a.id), "status": "DISABLED"},
    )
    assert response.json()["data"]["setTenantStatus"] == {
        "tenant": {"slug": "bank-a", "status": "DISABLED"},
        "userErrors": [],
    }
    # Off the marketplace, not readable by ID, not through the deal; the terms the deal
    # applied under stay the applicant's to read.
    assert await offered() == {"bank-b"}
    assert await _node(client, partner, product) is None
    deal = await _deal(client, young, outcome.deal.id)
    assert deal["product"] is None
    assert deal["terms"] == {"version": 1}
    # The funder's own people lose access at once.
    refused = await gql(client, funder, "{ viewer { kind } }")
    assert refused.status_code == 401, refused.text
    # Disabling twice is refused with a code; enabling again lists the products again.
    again = await gql(
        client,
        operator,
        SET_STATUS,
        {"id": global_id("Tenant", m.world.a.id), "status": "DISABLED"},
    )
    assert again.json()["data"]["setTenantStatus"]["userErrors"][0]["code"] == "ALREADY_DISABLED"
    back = await gql(
        client, operator, SET_STATUS, {"id": global_id("Tenant", m.world.a.id), "status": "ACTIVE"}
    )
    assert back.json()["data"]["setTenantStatus"]["tenant"]["status"] == "ACTIVE"
    assert await offered() == {"bank-a", "bank-b"}
    assert (await _node(client, partner, product))["id"] == product


async def test_set_tenant_status_is_the_operators(client, app_state) -> None:
    m = await market(app_state)
    funder = await access_token(client, m.world.a.admin_email)
    response = await gql(
        client, funder, SET_STATUS, {"id": global_id("Tenant", m.world.a.id), "status": "DISABLED"}
    )
    body = response.json()
    assert (body.get("data") or {}).get("setTenantStatus") is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        tenant = await tenant_service.set_tenant_status(
            s, SEEDER, tenant_id=m.world.b.id, status=Status.DISABLED
        )
        await s.commit()
    assert tenant.status == Status.DISABLED
