"""Deals over GraphQL: each product-line rule broken once is refused with its own code and
writes nothing; a partner app sees only its channel's deals, a borrower only their own, a
funder only its own; withdrawing frees a receipt for another deal; the timeline lists every
transition with who made it and when."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.collateral import service as collateral_service
from domain.kernel.money import Money
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products import service as product_service
from domain.products.models import ProductLine
from lendgraph.demo import SEEDER
from tests.collateral_support import issue_receipt, session_of, social_credit_code
from tests.deals_support import (
    Market,
    confirm_order,
    counts,
    line_terms,
    live_claims,
    market,
    publish,
)
from tests.products_support import cny, order_terms, warehouse_terms
from tests.support import access_token, client_token, global_id, gql, relate

DEAL_FIELDS = """
    id status productLine channel channelClientId productVersion
    request { amount { amount currency } term termUnit purpose }
    consent { textVersion method givenAt }
    funder { slug }
    applicant { __typename ... on Person { fullName } ... on Organization { name } }
    partner { name }
    purchaseOrder { number }
    warehouseReceipts { number }
    terms { version minAmount { amount } }
    timeline {
      action fromStatus toStatus actorKind actorClientId occurredAt
      actorUser { email }
    }
"""
CREATE = f"""
mutation($input: CreateDealInput!) {{
  createDeal(input: $input) {{
    deal {{ {DEAL_FIELDS} }} userErrors {{ field code message }}
  }}
}}"""
UPDATE = f"""
mutation($input: UpdateDealInput!) {{
  updateDeal(input: $input) {{ deal {{ {DEAL_FIELDS} }} userErrors {{ field code message }} }}
}}"""
SUBMIT = f"""
mutation($input: SubmitDealInput!) {{
  submitDeal(input: $input) {{
    deal {{ {DEAL_FIELDS} }} userErrors {{ field code message }}
  }}
}}"""
WITHDRAW = f"""
mutation($input: WithdrawDealInput!) {{
  withdrawDeal(input: $input) {{ deal {{ {DEAL_FIELDS} }} userErrors {{ field code message }} }}
}}"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Deal {{ {DEAL_FIELDS} }} }} }}"
MY_DEALS = "{ myDeals(first: 50) { edges { node { id status channel } } } }"
DEALS = """
query($status: DealStatus, $line: ProductLine, $after: String) {
  deals(first: 2, status: $status, productLine: $line, after: $after) {
    edges { cursor node { id status productLine } }
    pageInfo { hasNextPage endCursor }
  }
}"""

CONSENT = {"textVersion": "credit-consent-v3", "method": "ONLINE_CHECKBOX"}


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


@dataclass
class Api:
    """The market and a token per principal."""

    m: Market
    tokens: dict[str, str]
    client: httpx.AsyncClient
    state: AppState

    async def call(self, who: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await gql(self.client, self.tokens[who], document, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    async def create(self, who: str, **input: Any) -> dict[str, Any]:
        payload = (await self.call(who, CREATE, {"input": input}))["createDeal"]
        assert payload["userErrors"] == [], payload
        return dict(payload["deal"])

    async def submit(self, who: str, deal_gid: str, **extra: Any) -> dict[str, Any]:
        data = await self.call(who, SUBMIT, {"input": {"id": deal_gid, **extra}})
        return dict(data["submitDeal"])

    def product(self, bank: str, line: ProductLine) -> str:
        return global_id("Product", self.m.product(bank, line))


async def _api(client: httpx.AsyncClient, app_state: AppState) -> Api:
    m = await market(app_state)
    tokens = {
        "seller": await access_token(client, m.chain.seller_user.email),
        "owner": await access_token(client, m.chain.owner_user.email),
        "young": await access_token(client, m.young.email),
        "bank_a": await access_token(client, m.world.a.admin_email, tenant="bank-a"),
        "bank_b": await access_token(client, m.world.b.admin_email, tenant="bank-b"),
    }
    for name, app in (("partner", m.partner), ("other_partner", m.other_partner)):
        response = await client_token(client, app.credentials)
        assert response.status_code == 200, response.text
        tokens[name] = response.json()["access_token"]
    return Api(m, tokens, client, app_state)


def order_input(a: Api, bank: str = "a", **kw: Any) -> dict[str, Any]:
    base = {
        "productId": a.product(bank, ProductLine.ORDER_FINANCING),
        "amount": money("800000.00"),
        "term": 3,
        "purpose": "Working capital for the Huaxin order",
        "consent": CONSENT,
        "purchaseOrderId": global_id("PurchaseOrder", a.m.order),
    }
    return base | kw


def pledge_input(a: Api, bank: str = "a", **kw: Any) -> dict[str, Any]:
    base = {
        "productId": a.product(bank, ProductLine.WAREHOUSE_RECEIPT_PLEDGE),
        "amount": money("1000000.00"),
        "term": 90,
        "purpose": "Copper inventory finance",
        "consent": CONSENT,
        "warehouseReceiptIds": [global_id("WarehouseReceipt", a.m.receipt)],
    }
    return base | kw


def consumer_input(a: Api, bank: str = "a", **kw: Any) -> dict[str, Any]:
    base = {
        "productId": a.product(bank, ProductLine.CONSUMER_CREDIT),
        "amount": money("50000.00"),
        "term": 12,
        "purpose": "Home renovation",
        "consent": CONSENT,
    }
    return base | kw


# -- each rule broken once ------------------------------------------------------------------------


async def _product(a: Api, line: ProductLine, terms: Any) -> str:
    return global_id("Product", await publish(a.state, a.m.world.a.id, line, terms))


async def _order(
    a: Api, *, number: str, due: date, confirm: bool = True, seller_actor: Any = None
) -> uuid.UUID:
    """Another order the seller's user submits (and the buyer confirms)."""
    state = a.state
    actor = seller_actor or a.m.chain.seller_user.actor()
    async with session_of(state, actor) as s:
        order = await collateral_service.create_purchase_order(
            s,
            actor,
            buyer_organization_id=a.m.world.core_enterprise_id,
            number=number,
            amount=Money.parse("1250000.00", "CNY"),
            issue_date=date(2026, 1, 5),
            due_date=due,
        )
        await s.commit()
    if confirm:
        await confirm_order(state, a.m.chain, order.id)
    return order.id


async def case_not_confirmed(a: Api) -> tuple[str, dict[str, Any]]:
    order = await _order(a, number="PO-PENDING", due=date(2027, 6, 30), confirm=False)
    return "seller", order_input(a, purchaseOrderId=global_id("PurchaseOrder", order))


async def case_core_not_eligible(a: Api) -> tuple[str, dict[str, Any]]:
    terms = order_terms([a.m.chain.other_core_id], max_amount=cny("2000000.00"))
    return "seller", order_input(a, productId=await _product(a, ProductLine.ORDER_FINANCING, terms))


async def case_seller_mismatch(a: Api) -> tuple[str, dict[str, Any]]:
    # The partner submits an order for another trading company (which it acts for too), then
    # applies for the world's trading company with it.
    state = a.state
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        other = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.TRADE_ENTERPRISE,
            name="Other Trader",
            social_credit_code=social_credit_code(77),
        )
        await s.commit()
    await relate(state, agent_organization_id=a.m.partner.organization_id, organization_id=other.id)
    partner = a.m.partner.actor()
    async with session_of(state, partner) as s:
        order = await collateral_service.create_purchase_order(
            s,
            partner,
            seller_organization_id=other.id,
            buyer_organization_id=a.m.world.core_enterprise_id,
            number="PO-OTHER",
            amount=Money.parse("1250000.00", "CNY"),
            issue_date=date(2026, 11, 1),
            due_date=date(2027, 5, 1),
        )
        await s.commit()
    await confirm_order(state, a.m.chain, order.id)
    return "partner", order_input(
        a,
        purchaseOrderId=global_id("PurchaseOrder", order.id),
        applicantId=global_id("Organization", a.m.world.borrower_org_id),
    )


async def case_matured(a: Api) -> tuple[str, dict[str, Any]]:
    order = await _order(a, number="PO-OLD", due=date(2026, 6, 30))
    return "seller", order_input(a, purchaseOrderId=global_id("PurchaseOrder", order))


async def case_advance(a: Api) -> tuple[str, dict[str, Any]]:
    return "seller", order_input(a, amount=money("1000000.01"))


async def case_order_missing(a: Api) -> tuple[str, dict[str, Any]]:
    base = order_input(a)
    del base["purchaseOrderId"]
    return "seller", base


async def case_receipt_cancelled(a: Api) -> tuple[str, dict[str, Any]]:
    state = a.state
    receipt = await issue_receipt(state, a.m.chain, number="WR-GONE")
    gid = global_id("WarehouseReceipt", receipt)
    # Created while the receipt stands; cancelled by the warehouse before submission.
    deal = await a.create("owner", **pledge_input(a, warehouseReceiptIds=[gid]))
    warehouse = a.m.chain.warehouse_user.actor()
    async with session_of(state, warehouse) as s:
        await collateral_service.cancel_warehouse_receipt(
            s, warehouse, receipt_id=receipt, reason="goods released"
        )
        await s.commit()
    return "owner", {"existing": deal["id"]}


async def case_warehouse_not_accepted(a: Api) -> tuple[str, dict[str, Any]]:
    state = a.state
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        depot = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.WAREHOUSE,
            name="Other Depot",
            social_credit_code=social_credit_code(78),
        )
        await s.commit()
    terms = warehouse_terms([depot.id], max_amount=cny("2000000.00"))
    product = await _product(a, ProductLine.WAREHOUSE_RECEIPT_PLEDGE, terms)
    return "owner", pledge_input(a, productId=product)


async def case_ltv(a: Api) -> tuple[str, dict[str, Any]]:
    return "owner", pledge_input(a, amount=money("1092420.01"))


async def case_receipts_missing(a: Api) -> tuple[str, dict[str, Any]]:
    base = pledge_input(a)
    del base["warehouseReceiptIds"]
    return "owner", base


async def case_too_old(a: Api) -> tuple[str, dict[str, Any]]:
    # Li Wei, born 1949-12-31, applies through the partner app: 76, the product takes 22-55.
    await relate(
        a.state, agent_organization_id=a.m.partner.organization_id, person_id=a.m.world.person_id
    )
    return "partner", consumer_input(a, applicantId=global_id("Person", a.m.world.person_id))


async def case_consent(a: Api) -> tuple[str, dict[str, Any]]:
    base = consumer_input(a)
    del base["consent"]
    return "young", base


async def case_retired(a: Api) -> tuple[str, dict[str, Any]]:
    deal = await a.create("young", **consumer_input(a))
    async with open_session(a.state.sessions, PLATFORM_SCOPE) as s:
        await product_service.retire_product(
            s, SEEDER, product_id=a.m.product("a", ProductLine.CONSUMER_CREDIT)
        )
        await s.commit()
    return "young", {"existing": deal["id"]}


Case = Callable[[Api], Awaitable[tuple[str, dict[str, Any]]]]

CASES: list[tuple[str, Case, str]] = [
    ("order not confirmed", case_not_confirmed, "PURCHASE_ORDER_NOT_CONFIRMED"),
    ("buyer not eligible", case_core_not_eligible, "CORE_ENTERPRISE_NOT_ELIGIBLE"),
    ("order fell due", case_matured, "PURCHASE_ORDER_MATURED"),
    ("above the advance rate", case_advance, "ADVANCE_RATE_EXCEEDED"),
    ("no order", case_order_missing, "COLLATERAL_REQUIRED"),
    ("receipt cancelled", case_receipt_cancelled, "RECEIPT_CANCELLED"),
    ("warehouse not accepted", case_warehouse_not_accepted, "WAREHOUSE_NOT_ACCEPTED"),
    ("above the LTV", case_ltv, "LTV_EXCEEDED"),
    ("no receipt", case_receipts_missing, "COLLATERAL_REQUIRED"),
    ("applicant too old", case_too_old, "APPLICANT_AGE_NOT_ELIGIBLE"),
    ("no consent", case_consent, "CONSENT_REQUIRED"),
    ("product retired", case_retired, "PRODUCT_NOT_AVAILABLE"),
]


async def test_an_order_owed_to_another_seller_is_refused_when_the_deal_is_created(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    """The database refuses a deal whose order is owed to another company than the applicant
    (naming it would have shown the funder another seller's order), so the rule that
    submission checks as well already holds when the draft is created."""
    a = await _api(client, app_state)
    who, input = await case_seller_mismatch(a)
    before = await counts(owner_engine)
    payload = (await a.call(who, CREATE, {"input": input}))["createDeal"]
    assert payload["deal"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("PURCHASE_ORDER_SELLER_MISMATCH", "purchaseOrderId")
    ]
    assert await counts(owner_engine) == before


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"amount": money("200000.01")}, ("AMOUNT_NOT_OFFERED", "amount")),
        ({"term": 9}, ("TERM_NOT_OFFERED", "term")),
    ],
    ids=["amount out of range", "term not offered"],
)
async def test_an_amount_or_term_not_offered_is_refused_when_the_deal_is_created(
    client: httpx.AsyncClient,
    app_state: AppState,
    owner_engine: AsyncEngine,
    overrides: dict[str, Any],
    refusal: tuple[str, str],
) -> None:
    """As a quote refuses them (tests/api/test_amount_refusals.py); submission checks them
    again against the pinned version."""
    a = await _api(client, app_state)
    before = await counts(owner_engine)
    payload = (await a.call("young", CREATE, {"input": consumer_input(a, **overrides)}))[
        "createDeal"
    ]
    assert payload["deal"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [refusal]
    assert await counts(owner_engine) == before


@pytest.mark.parametrize("rule", CASES, ids=[c[0] for c in CASES])
async def test_each_broken_rule_is_refused_with_its_code_and_writes_nothing(
    client: httpx.AsyncClient,
    app_state: AppState,
    owner_engine: AsyncEngine,
    rule: tuple[str, Case, str],
) -> None:
    name, case, code = rule
    a = await _api(client, app_state)
    who, input = await case(a)
    deal_gid = input["existing"] if "existing" in input else (await a.create(who, **input))["id"]
    before = await counts(owner_engine)
    claims_before = await live_claims(owner_engine)

    payload = await a.submit(who, deal_gid, idempotencyKey=f"submit-{name}".replace(" ", "-"))

    assert payload["deal"] is None
    assert [e["code"] for e in payload["userErrors"]] == [code], payload
    assert await counts(owner_engine) == before
    assert await live_claims(owner_engine) == claims_before
    node = (await a.call(who, NODE, {"id": deal_gid}))["node"]
    assert node["status"] == "DRAFT"
    assert [t["action"] for t in node["timeline"]] == ["deal.create"]


async def test_valid_applications_of_every_line_are_submitted(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    a = await _api(client, app_state)
    for who, input in (
        ("seller", order_input(a, amount=money("1000000.00"))),  # exactly the advance limit
        ("owner", pledge_input(a, amount=money("1092420.00"))),  # exactly the pledge limit
        ("young", consumer_input(a)),
        ("partner", consumer_input(a, applicantId=global_id("Person", a.m.young.person_id))),
    ):
        deal = await a.create(who, **input)
        assert deal["status"] == "DRAFT"
        payload = await a.submit(who, deal["id"])
        assert payload["userErrors"] == [], payload
        assert payload["deal"]["status"] == "SUBMITTED"
    assert sorted(kind for kind, _ in await live_claims(owner_engine)) == ["order", "receipt"]


# -- who sees what ----------------------------------------------------------------------------


async def test_each_principal_sees_only_its_own_deals(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    a = await _api(client, app_state)
    young = global_id("Person", a.m.young.person_id)
    deals = {
        "partner_a": await a.create("partner", **consumer_input(a, applicantId=young)),
        "other_partner_b": await a.create(
            "other_partner", **consumer_input(a, "b", applicantId=young)
        ),
        "young_a": await a.create("young", **consumer_input(a)),
        "seller_b": await a.create("seller", **order_input(a, "b")),
        "owner_a": await a.create("owner", **pledge_input(a)),
    }
    gid = {k: v["id"] for k, v in deals.items()}
    assert deals["partner_a"]["channel"] == "PARTNER_APP"
    assert deals["partner_a"]["partner"] == {"name": "Partner Co"}
    assert deals["partner_a"]["channelClientId"] == a.m.partner.credentials[0]
    assert deals["young_a"]["channel"] == "DIRECT"

    async def mine(who: str) -> set[str]:
        data = await a.call(who, MY_DEALS, {})
        return {e["node"]["id"] for e in data["myDeals"]["edges"]}

    async def funder(who: str, **variables: Any) -> set[str]:
        data = await a.call(who, DEALS, variables)
        found = {e["node"]["id"] for e in data["deals"]["edges"]}
        page = data["deals"]["pageInfo"]
        while page["hasNextPage"]:
            data = await a.call(who, DEALS, {**variables, "after": page["endCursor"]})
            found |= {e["node"]["id"] for e in data["deals"]["edges"]}
            page = data["deals"]["pageInfo"]
        return found

    assert await mine("partner") == {gid["partner_a"]}
    assert await mine("other_partner") == {gid["other_partner_b"]}
    assert await mine("young") == {gid["partner_a"], gid["other_partner_b"], gid["young_a"]}
    assert await mine("seller") == {gid["seller_b"]}
    assert await mine("owner") == {gid["owner_a"]}
    assert await funder("bank_a") == {gid["partner_a"], gid["young_a"], gid["owner_a"]}
    assert await funder("bank_b") == {gid["other_partner_b"], gid["seller_b"]}
    assert await funder("bank_a", line="CONSUMER_CREDIT") == {gid["partner_a"], gid["young_a"]}
    assert await funder("bank_a", status="SUBMITTED") == set()
    # The funders' deal lists are not the applicants' business.
    assert await funder("partner") == set()
    assert await funder("young") == set()

    sees = {
        "partner": {"partner_a"},
        "other_partner": {"other_partner_b"},
        "young": {"partner_a", "other_partner_b", "young_a"},
        "seller": {"seller_b"},
        "owner": {"owner_a"},
        "bank_a": {"partner_a", "young_a", "owner_a"},
        "bank_b": {"other_partner_b", "seller_b"},
    }
    for who, visible in sees.items():
        for key, deal_gid in gid.items():
            node = (await a.call(who, NODE, {"id": deal_gid}))["node"]
            if key in visible:
                assert node is not None and node["id"] == deal_gid, (who, key)
            else:
                assert node is None, (who, key)

    # The funder sees the applicant and the collateral through its deal.
    owner_deal = (await a.call("bank_a", NODE, {"id": gid["owner_a"]}))["node"]
    assert owner_deal["applicant"] == {"__typename": "Organization", "name": "Cargo Co"}
    assert owner_deal["warehouseReceipts"] == [{"number": "WR-0001"}]
    assert owner_deal["terms"]["version"] == 1
    young_deal = (await a.call("bank_a", NODE, {"id": gid["young_a"]}))["node"]
    assert young_deal["applicant"] == {"__typename": "Person", "fullName": "Wang Fang"}
    seller_deal = (await a.call("bank_b", NODE, {"id": gid["seller_b"]}))["node"]
    assert seller_deal["purchaseOrder"] == {"number": "PO-0001"}


async def test_a_stranger_cannot_act_on_a_deal(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    a = await _api(client, app_state)
    deal = await a.create("young", **consumer_input(a))
    for who, code in (("partner", "NOT_FOUND"), ("seller", "NOT_FOUND")):
        payload = await a.submit(who, deal["id"])
        assert [e["code"] for e in payload["userErrors"]] == [code], (who, payload)
    # The funder sees the deal but applies for nobody: its staff hold no deals:apply scope.
    response = await gql(client, a.tokens["bank_a"], SUBMIT, {"input": {"id": deal["id"]}})
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- withdraw, timeline, edits --------------------------------------------------------------------


async def test_withdrawing_frees_the_receipt_for_another_deal(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    a = await _api(client, app_state)
    first = await a.create("owner", **pledge_input(a, "a"))
    second = await a.create("owner", **pledge_input(a, "b"))
    assert (await a.submit("owner", first["id"]))["userErrors"] == []
    refused = await a.submit("owner", second["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["RECEIPT_ALREADY_PLEDGED"]

    data = await a.call("owner", WITHDRAW, {"input": {"id": first["id"], "reason": "rates"}})
    assert data["withdrawDeal"]["userErrors"] == []
    assert data["withdrawDeal"]["deal"]["status"] == "WITHDRAWN"
    payload = await a.submit("owner", second["id"])
    assert payload["userErrors"] == [] and payload["deal"]["status"] == "SUBMITTED"
    claims = await live_claims(owner_engine)
    assert len(claims) == 1 and claims[0][0] == "receipt"


async def test_timeline_lists_every_transition_with_actor_and_time(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    a = await _api(client, app_state)
    young = global_id("Person", a.m.young.person_id)
    deal = await a.create("partner", **consumer_input(a, applicantId=young, consent=None))
    data = await a.call(
        "partner",
        UPDATE,
        {"input": {"id": deal["id"], "consent": CONSENT, "amount": money("60000.00")}},
    )
    assert data["updateDeal"]["userErrors"] == []
    assert data["updateDeal"]["deal"]["request"]["amount"] == money("60000.00")
    assert (await a.submit("partner", deal["id"]))["userErrors"] == []
    # The applicant itself withdraws the application the partner made for it.
    data = await a.call("young", WITHDRAW, {"input": {"id": deal["id"]}})
    assert data["withdrawDeal"]["userErrors"] == []

    node = (await a.call("bank_a", NODE, {"id": deal["id"]}))["node"]
    steps = [
        (t["action"], t["fromStatus"], t["toStatus"], t["actorKind"], t["actorClientId"])
        for t in node["timeline"]
    ]
    partner_client = a.m.partner.credentials[0]
    assert steps == [
        ("deal.create", None, "DRAFT", "PARTNER_APP", partner_client),
        ("deal.update", "DRAFT", "DRAFT", "PARTNER_APP", partner_client),
        ("deal.submit", "DRAFT", "SUBMITTED", "PARTNER_APP", partner_client),
        ("deal.withdraw", "SUBMITTED", "WITHDRAWN", "APPLICANT", "test-console"),
    ]
    assert all(t["occurredAt"] for t in node["timeline"])
    # The funder does not see the borrower's user; the borrower sees itself.
    assert node["timeline"][3]["actorUser"] is None
    mine = (await a.call("young", NODE, {"id": deal["id"]}))["node"]
    assert mine["timeline"][3]["actorUser"] == {"email": "wang.fang@borrower.test"}


async def test_only_drafts_and_returned_deals_are_edited(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    a = await _api(client, app_state)
    deal = await a.create("young", **consumer_input(a))
    assert (await a.submit("young", deal["id"]))["userErrors"] == []
    data = await a.call("young", UPDATE, {"input": {"id": deal["id"], "term": 6}})
    assert [e["code"] for e in data["updateDeal"]["userErrors"]] == ["DEAL_NOT_EDITABLE"]


async def test_applications_need_a_visible_published_product_and_collateral(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    a = await _api(client, app_state)
    # A trading company does not pledge receipts, nor a cargo owner finance orders.
    data = await a.call(
        "seller",
        CREATE,
        {"input": pledge_input(a)},
    )
    codes = [(e["field"], e["code"]) for e in data["createDeal"]["userErrors"]]
    assert codes == [("applicantId", "WRONG_ORGANIZATION_KIND")]
    data = await a.call("owner", CREATE, {"input": order_input(a)})
    codes = [(e["field"], e["code"]) for e in data["createDeal"]["userErrors"]]
    assert codes == [("applicantId", "WRONG_ORGANIZATION_KIND")]
    # Collateral of another line.
    data = await a.call(
        "young",
        CREATE,
        {"input": consumer_input(a, purchaseOrderId=global_id("PurchaseOrder", a.m.order))},
    )
    assert [e["code"] for e in data["createDeal"]["userErrors"]] == ["COLLATERAL_NOT_ALLOWED"]
    # A draft product of bank A is nobody else's to apply for.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        draft = await product_service.create_product(
            s,
            SEEDER,
            product_line=ProductLine.CONSUMER_CREDIT,
            name="Not yet",
            terms=line_terms(ProductLine.CONSUMER_CREDIT, a.m.world, a.m.chain),
            tenant_id=a.m.world.a.id,
        )
        await s.commit()
    data = await a.call(
        "young",
        CREATE,
        {"input": consumer_input(a, productId=global_id("Product", draft.product.id))},
    )
    assert [(e["field"], e["code"]) for e in data["createDeal"]["userErrors"]] == [
        ("productId", "NOT_FOUND")
    ]
