"""The read path's fixtures: a market with enough deals to fill a page of 100 of every connection
that lists deals, as many loans of one funder, a token per kind of reader, and the GraphQL
document of every list query of the API with the nested fields that go through the batch
loaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from tests.deals_support import Market, apply, consumer_deal, market, order_deal, pledge_deal
from tests.loans_support import seed_loans
from tests.support import access_token, client_token, gql

#: Bank A's ACTIVE loans: one more than the largest page.
LOANS = 101

#: Deals of bank A made through the partner app for the young borrower: one more than the
#: largest page, so that page 100 is full and has a next page.
CONSUMER_DEALS = 101

DEAL_FIELDS = """
    id status productLine channel channelClientId productVersion createdAt
    request { amount { amount currency } term termUnit purpose }
    consent { textVersion method givenAt }
    funder { slug name }
    product { name status }
    terms { version minAmount { amount } }
    applicant { __typename ... on Person { fullName } ... on Organization { name } }
    partner { name }
    purchaseOrder { number seller { name } }
    warehouseReceipts { number warehouse { name } }
    timeline { action fromStatus toStatus actorKind occurredAt actorUser { email } }
    loan { id status balances { kind balance { amount } } }
"""
LOAN_FIELDS = """
    id status principal { amount currency } fee { amount } annualRate valueDate maturityDate
    createdAt
    borrower { __typename ... on Person { fullName } ... on Organization { name } }
    balances { kind balance { amount currency } }
    schedule { number dueDate principal { amount } interest { amount } total { amount }
      closingBalance { amount } }
    deal { id status }
    ledgerEntries { cause reference valueDate lines { number kind ownAccount amount { amount } } }
"""
PRODUCT_FIELDS = """
    id name status productLine version publishedAt
    funder { slug name }
    currentTerms {
      version minAmount { amount currency } maxAmount { amount } allowedTerms annualRate
      orderFinancing { maxAdvanceRate eligibleCoreEnterprises { name } }
      warehousePledge { maxLtv acceptedWarehouses { name } }
    }
    versions { version }
"""
ORDER_FIELDS = """
    id number status amount { amount currency } dueDate
    seller { name } buyer { name } submittedBy { name } documents { fileName }
"""
RECEIPT_FIELDS = """
    id number status goodsDescription declaredValue { amount }
    warehouse { name } owner { name } documents { fileName }
"""


#: Fields that every row of a page has alike (no collateral, no per-line terms), for
#: comparing what pages of different sizes cost.
UNIFORM_FIELDS = {
    "deals": """
        id status productLine channel request { amount { amount currency } term purpose }
        funder { slug } product { name } terms { version } partner { name }
        applicant { __typename ... on Person { fullName } ... on Organization { name } }
        timeline { action fromStatus toStatus actorKind occurredAt actorUser { email } }
        loan { id status balances { kind balance { amount } } }
    """,
    "products": """
        id name status funder { slug name } currentTerms { version minAmount { amount } }
        versions { version }
    """,
}


def page(field: str, fields: str) -> str:
    """A document asking one page of ``field`` with ``fields`` on each node."""
    return (
        f"query($first: Int!, $after: String) {{ {field}(first: $first, after: $after) {{"
        f" edges {{ cursor node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )


#: Every list query of the API: the reader who lists it, its field, every nested field of
#: its nodes, and the fields alike on every row (see UNIFORM_FIELDS).
CONNECTIONS: dict[str, tuple[str, str, str, str]] = {
    "deals": ("bank_a", "deals", DEAL_FIELDS, UNIFORM_FIELDS["deals"]),
    "myDeals (partner app)": ("partner", "myDeals", DEAL_FIELDS, UNIFORM_FIELDS["deals"]),
    "myDeals (borrower)": ("young", "myDeals", DEAL_FIELDS, UNIFORM_FIELDS["deals"]),
    "products": ("bank_a", "products", PRODUCT_FIELDS, UNIFORM_FIELDS["products"]),
    "marketplace": ("partner", "marketplace", PRODUCT_FIELDS, UNIFORM_FIELDS["products"]),
    "myPurchaseOrders": ("seller", "myPurchaseOrders", ORDER_FIELDS, ORDER_FIELDS),
    "myWarehouseReceipts": ("owner", "myWarehouseReceipts", RECEIPT_FIELDS, RECEIPT_FIELDS),
    "loans": ("bank_a", "loans", LOAN_FIELDS, LOAN_FIELDS),
}


@dataclass
class ReadWorld:
    """The market, its deals and a token per reader."""

    m: Market
    tokens: dict[str, str]
    client: httpx.AsyncClient

    async def list(
        self,
        name: str,
        first: int,
        after: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        fields: str | None = None,
    ) -> dict[str, Any]:
        """One page of the connection ``name`` (its nodes' ``fields``; by default every
        nested field), refused loudly on any error."""
        who, field, full, _ = CONNECTIONS[name]
        variables = {"first": first, "after": after}
        response = await gql(
            client or self.client, self.tokens[who], page(field, fields or full), variables
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"][field])


async def read_world(client: httpx.AsyncClient, state: AppState) -> ReadWorld:
    """The market with an order-financing and a pledge deal from the partner app for the
    trading company and the cargo owner, and :data:`CONSUMER_DEALS` consumer deals for the
    young borrower, all at bank A."""
    m = await market(state)
    partner = m.partner.actor()
    # Consumer deals first: every page of up to 100 holds rows of one shape (a person
    # applicant, no collateral), so that what a page asks of the loaders is the same at any
    # size; the collateral deals follow on the second page.
    consumer = []
    for _ in range(CONSUMER_DEALS):
        made = await apply(
            state, partner, **consumer_deal(m), applicant_person_id=m.young.person_id
        )
        consumer.append(made.deal.id)
    await apply(
        state,
        partner,
        **order_deal(m),
        applicant_organization_id=m.world.borrower_org_id,
    )
    await apply(
        state,
        partner,
        **pledge_deal(m),
        applicant_organization_id=m.chain.cargo_owner_id,
    )
    # Bank A's loans, on copies of the first consumer deal made ACTIVE (after the deals
    # above, so that the first pages of deals hold the same rows as before).
    async with open_session(state.sessions, PLATFORM_SCOPE) as session:
        await seed_loans(session, tenant_id=m.world.a.id, template_deal_id=consumer[0], count=LOANS)
        await session.commit()
    tokens = {
        "bank_a": await access_token(client, m.world.a.admin_email, tenant="bank-a"),
        "young": await access_token(client, m.young.email),
        "seller": await access_token(client, m.chain.seller_user.email),
        "owner": await access_token(client, m.chain.owner_user.email),
    }
    response = await client_token(client, m.partner.credentials)
    assert response.status_code == 200, response.text
    tokens["partner"] = response.json()["access_token"]
    return ReadWorld(m, tokens, client)


async def analyze(owner: AsyncEngine) -> None:
    """Fresh planner statistics, as autovacuum would have them on a live database."""
    async with owner.connect() as conn:
        await conn.execute(text("ANALYZE"))


__all__ = ["CONNECTIONS", "CONSUMER_DEALS", "LOANS", "ReadWorld", "analyze", "read_world"]
