"""The operator's view of deals across funders (``platformDeals``): both funders' deals in one
keyset order, each filter narrowing to the deals counted by hand, pages that continue across a
boundary without repeating a deal, everyone but the operator refused, and no risk data on what
it returns.

Six deals, their creation and submission moments set below row-level security so that the
expected pages can be written down by hand, in page order:

    deal        funder  line                      status     created     submitted
    a_draft     A       CONSUMER_CREDIT           DRAFT      2026-01-01
    b_order     B       ORDER_FINANCING           SUBMITTED  2026-01-02  2026-01-10
    a_pledge    A       WAREHOUSE_RECEIPT_PLEDGE  SUBMITTED  2026-01-02  2026-01-12
    b_consumer  B       CONSUMER_CREDIT           SUBMITTED  2026-01-04  2026-01-11
    a_partner   A       CONSUMER_CREDIT           WITHDRAWN  2026-01-05
    b_draft     B       CONSUMER_CREDIT           DRAFT      2026-01-06

b_order and a_pledge share their creation moment: between them the keyset's next columns
decide (the funder's ID, then the deal's), so their order depends on the generated IDs
(positions 2 and 3, in ``Deals.ordered``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.kernel.scopes import SERVICE_ACCOUNT_SCOPES
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import ClientKind
from tests.deals_support import (
    Market,
    apply,
    consumer_deal,
    market,
    order_deal,
    pledge_deal,
    submit,
    withdraw,
)
from tests.support import access_token, client_token, global_id, gql

PLATFORM_DEALS = """
query(
  $first: Int!, $after: String, $funderId: TenantID, $productLine: ProductLine,
  $status: [DealStatus!], $createdBefore: DateTime, $submittedBefore: DateTime
) {
  platformDeals(
    first: $first, after: $after, funderId: $funderId, productLine: $productLine,
    status: $status, createdBefore: $createdBefore, submittedBefore: $submittedBefore
  ) {
    edges { cursor node { __typename id status productLine funder { slug } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


@dataclass(frozen=True)
class Deals:
    """The market, the operator's token and the six deals' global IDs in page order."""

    m: Market
    operator: str
    ordered: list[str]
    by_key: dict[str, str]

    def ids(self, *positions: int) -> list[str]:
        """The global IDs of the deals at these 1-based positions of the page order."""
        return [self.ordered[p - 1] for p in positions]


async def _deals(client: httpx.AsyncClient, state: AppState, owner: AsyncEngine) -> Deals:
    m = await market(state)
    young = m.young.actor()
    a_draft = await apply(state, young, **consumer_deal(m, "a"))
    b_order = await apply(state, m.chain.seller_user.actor(), **order_deal(m, "b"))
    a_pledge = await apply(state, m.chain.owner_user.actor(), **pledge_deal(m, "a"))
    b_consumer = await apply(state, young, **consumer_deal(m, "b"))
    a_partner = await apply(
        state, m.partner.actor(), **consumer_deal(m, "a", applicant_person_id=m.young.person_id)
    )
    b_draft = await apply(state, young, **consumer_deal(m, "b", purpose="A second car"))
    submissions = (
        (m.chain.seller_user.actor(), b_order),
        (m.chain.owner_user.actor(), a_pledge),
        (young, b_consumer),
    )
    for actor, outcome in submissions:
        submitted, errors = await submit(state, actor, outcome.deal.id)
        assert submitted is not None, errors
    moments = {
        a_draft.deal.id: (_at(1), None),
        b_order.deal.id: (_at(2), _at(10)),
        a_pledge.deal.id: (_at(2), _at(12)),
        b_consumer.deal.id: (_at(4), _at(11)),
        a_partner.deal.id: (_at(5), None),
        b_draft.deal.id: (_at(6), None),
    }
    async with owner.begin() as conn:
        for deal_id, (created, submitted_at) in moments.items():
            await conn.execute(
                text("update deals set created_at = :c, submitted_at = :s where id = :d"),
                {"c": created, "s": submitted_at, "d": deal_id},
            )
    # Withdrawn last: a withdrawn deal never changes again.
    withdrawn, errors = await withdraw(state, m.partner.actor(), a_partner.deal.id)
    assert withdrawn is not None, errors

    tie = sorted(
        [(m.world.b.id, b_order.deal.id, "b_order"), (m.world.a.id, a_pledge.deal.id, "a_pledge")]
    )
    outcomes = {
        "a_draft": a_draft,
        "b_order": b_order,
        "a_pledge": a_pledge,
        "b_consumer": b_consumer,
        "a_partner": a_partner,
        "b_draft": b_draft,
    }
    by_key = {k: global_id("Deal", v.deal.id) for k, v in outcomes.items()}
    order = ["a_draft", tie[0][2], tie[1][2], "b_consumer", "a_partner", "b_draft"]
    return Deals(
        m=m,
        operator=await access_token(client, m.world.admin_email),
        ordered=[by_key[k] for k in order],
        by_key=by_key,
    )


async def _page(client: httpx.AsyncClient, token: str, **variables: Any) -> dict[str, Any]:
    response = await gql(client, token, PLATFORM_DEALS, {"first": 100, **variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["platformDeals"]
    return page


async def _ids(client: httpx.AsyncClient, token: str, **variables: Any) -> list[str]:
    page = await _page(client, token, **variables)
    assert page["pageInfo"]["hasNextPage"] is False
    return [e["node"]["id"] for e in page["edges"]]


async def test_the_operator_lists_the_deals_of_both_funders(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    d = await _deals(client, app_state, owner_engine)
    page = await _page(client, d.operator)
    nodes = [e["node"] for e in page["edges"]]
    assert [n["id"] for n in nodes] == d.ordered
    assert {n["__typename"] for n in nodes} == {"Deal"}
    slugs = {n["id"]: n["funder"]["slug"] for n in nodes}
    assert slugs == {
        d.by_key["a_draft"]: "bank-a",
        d.by_key["b_order"]: "bank-b",
        d.by_key["a_pledge"]: "bank-a",
        d.by_key["b_consumer"]: "bank-b",
        d.by_key["a_partner"]: "bank-a",
        d.by_key["b_draft"]: "bank-b",
    }
    statuses = {n["id"]: n["status"] for n in nodes}
    assert statuses == {
        d.by_key["a_draft"]: "DRAFT",
        d.by_key["b_order"]: "SUBMITTED",
        d.by_key["a_pledge"]: "SUBMITTED",
        d.by_key["b_consumer"]: "SUBMITTED",
        d.by_key["a_partner"]: "WITHDRAWN",
        d.by_key["b_draft"]: "DRAFT",
    }


async def test_each_filter_narrows_to_the_deals_counted_by_hand(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    d = await _deals(client, app_state, owner_engine)
    op = d.operator
    k = d.by_key
    bank_a = global_id("Tenant", d.m.world.a.id)
    bank_b = global_id("Tenant", d.m.world.b.id)

    async def ids(**variables: Any) -> list[str]:
        return await _ids(client, op, **variables)

    # The funder.
    assert await ids(funderId=bank_a) == [k["a_draft"], k["a_pledge"], k["a_partner"]]
    assert await ids(funderId=bank_b) == [k["b_order"], k["b_consumer"], k["b_draft"]]
    # The product line.
    consumer = await ids(productLine="CONSUMER_CREDIT")
    assert consumer == [k["a_draft"], k["b_consumer"], k["a_partner"], k["b_draft"]]
    assert await ids(productLine="ORDER_FINANCING") == [k["b_order"]]
    assert await ids(productLine="WAREHOUSE_RECEIPT_PLEDGE") == [k["a_pledge"]]
    # The statuses: one, several, none.
    assert await ids(status=["SUBMITTED"]) == d.ids(2, 3, 4)
    assert set(d.ids(2, 3, 4)) == {k["b_order"], k["a_pledge"], k["b_consumer"]}
    assert await ids(status=["DRAFT", "WITHDRAWN"]) == [k["a_draft"], k["a_partner"], k["b_draft"]]
    assert await ids(status=["APPROVED"]) == []
    assert await ids(status=[]) == []
    # Age: created before 4 January (strictly: deal 4, created at that moment, is not).
    assert await ids(createdBefore="2026-01-04T00:00:00+00:00") == d.ids(1, 2, 3)
    # The same moment in another offset is the same instant.
    assert len(await ids(createdBefore="2026-01-04T08:00:00+08:00")) == 3
    # Submitted before 12 January: deals 2 (10th) and 4 (11th); deal 3 (12th) is not, and
    # the never submitted are left out.
    assert await ids(submittedBefore="2026-01-12T00:00:00Z") == [k["b_order"], k["b_consumer"]]
    # Filters combine.
    assert await ids(funderId=bank_a, status=["SUBMITTED"]) == [k["a_pledge"]]
    assert await ids(
        funderId=bank_b, productLine="CONSUMER_CREDIT", createdBefore="2026-01-05T00:00:00Z"
    ) == [k["b_consumer"]]
    assert await ids(funderId=bank_a, productLine="ORDER_FINANCING") == []


async def test_an_unknown_funder_has_no_deals_and_another_types_id_is_refused(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    d = await _deals(client, app_state, owner_engine)
    page = await _page(client, d.operator, funderId=global_id("Tenant", uuid.uuid4()))
    assert page == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    # An organization's ID is no funder's: refused by the argument's scalar before anything
    # runs.
    response = await gql(
        client,
        d.operator,
        PLATFORM_DEALS,
        {"first": 10, "funderId": global_id("Organization", d.m.world.borrower_org_id)},
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "TenantID cannot represent" in error["message"]


async def test_pages_continue_across_the_boundary_without_repeating_a_deal(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    d = await _deals(client, app_state, owner_engine)
    pages: list[list[str]] = []
    more: list[bool] = []
    after = None
    while True:
        page = await _page(client, d.operator, first=2, after=after)
        pages.append([e["node"]["id"] for e in page["edges"]])
        more.append(page["pageInfo"]["hasNextPage"])
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Deals 2 and 3, created at the same moment, fall on either side of the first boundary.
    assert pages == [d.ids(1, 2), d.ids(3, 4), d.ids(5, 6)]
    assert more == [True, True, False]
    # So do pages of several statuses (merged from one index range per status).
    statuses = ["WITHDRAWN", "SUBMITTED", "DRAFT"]
    merged: list[list[str]] = []
    after = None
    for _ in range(3):
        page = await _page(client, d.operator, first=2, after=after, status=statuses)
        merged.append([e["node"]["id"] for e in page["edges"]])
        after = page["pageInfo"]["endCursor"]
    assert merged == [d.ids(1, 2), d.ids(3, 4), d.ids(5, 6)]
    assert page["pageInfo"]["hasNextPage"] is False
    # A filtered page continues in the same way.
    bank_b = global_id("Tenant", d.m.world.b.id)
    first = await _page(client, d.operator, first=2, funderId=bank_b)
    second = await _page(
        client, d.operator, first=2, funderId=bank_b, after=first["pageInfo"]["endCursor"]
    )
    assert [e["node"]["id"] for e in first["edges"]] == [
        d.by_key["b_order"],
        d.by_key["b_consumer"],
    ]
    assert [e["node"]["id"] for e in second["edges"]] == [d.by_key["b_draft"]]
    assert second["pageInfo"]["hasNextPage"] is False
    # A cursor of the funders' own connection is not one of this connection's.
    funder = await access_token(client, d.m.world.a.admin_email, tenant="bank-a")
    own = await gql(client, funder, "{ deals(first: 1) { pageInfo { endCursor } } }")
    cursor = own.json()["data"]["deals"]["pageInfo"]["endCursor"]
    response = await gql(client, d.operator, PLATFORM_DEALS, {"first": 2, "after": cursor})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def _service_account_token(
    client: httpx.AsyncClient, state: AppState, tenant_id: uuid.UUID
) -> str:
    """A service account of ``tenant_id`` with every scope a service account may hold."""
    creds = ("platform-deals-svc", "platform-deals-svc-secret")
    scopes = sorted(s.value for s in SERVICE_ACCOUNT_SCOPES)
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_client(
            s,
            SEEDER,
            name="platform deals svc",
            kind=ClientKind.SERVICE_ACCOUNT,
            scopes=scopes,
            tenant_id=tenant_id,
            credentials=creds,
        )
        await s.commit()
    response = await client_token(client, creds)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _refused(body: dict[str, Any], code: str, message: str) -> None:
    # The connection is non-null: a refused field nulls the whole answer.
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["path"] == ["platformDeals"]
    assert error["extensions"]["code"] == code
    assert error["message"] == message


async def test_everyone_but_the_operator_is_refused(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    d = await _deals(client, app_state, owner_engine)
    partner = (await client_token(client, d.m.partner.credentials)).json()["access_token"]
    tokens = {
        "funder admin": await access_token(client, d.m.world.a.admin_email, tenant="bank-a"),
        # Funder staff holding risk:read and deals:read.
        "reviewer": await access_token(client, d.m.world.a.reviewer_email, tenant="bank-a"),
        "service account": await _service_account_token(client, app_state, d.m.world.a.id),
        "partner app": partner,
        "borrower": await access_token(client, d.m.young.email),
    }
    forbidden = "Requires the platform:admin scope"
    for who, token in tokens.items():
        response = await gql(client, token, PLATFORM_DEALS, {"first": 10})
        assert response.status_code == 200, (who, response.text)
        _refused(response.json(), "FORBIDDEN", forbidden)
    response = await gql(client, None, PLATFORM_DEALS, {"first": 10})
    _refused(response.json(), "UNAUTHENTICATED", "Authentication required")
    # The operator's token narrowed to platform:admin alone does not read deals either.
    narrow = await access_token(client, d.m.world.admin_email, scope="platform:admin")
    response = await gql(client, narrow, PLATFORM_DEALS, {"first": 10})
    _refused(response.json(), "FORBIDDEN", "Requires the deals:read scope")
    # And the operator's full token lists all six.
    assert len(await _ids(client, d.operator)) == 6


# Names of fields that would carry risk data: a bureau report, an identity check, a
# valuation, a scorecard, review notes built on them.
RISK_FIELD = re.compile(
    r"risk|bureau|scorecard|valuation|creditreport|identity(check|result|verification)|review",
    re.IGNORECASE,
)
TYPES = """
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
{ __schema { types {
  name kind possibleTypes { name } fields { name args { name } type { ...T } }
} } }"""


def _named(t: dict[str, Any]) -> dict[str, Any]:
    while t.get("ofType"):
        t = t["ofType"]
    return t


async def test_no_risk_data_is_reachable_through_the_operators_deals(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    d = await _deals(client, app_state, owner_engine)
    response = await gql(client, d.operator, TYPES)
    types = {t["name"]: t for t in response.json()["data"]["__schema"]["types"]}
    # Every field of every type reachable from the connection the field returns.
    seen: set[str] = set()
    todo = ["DealConnection"]
    risky: list[tuple[str, dict[str, Any]]] = []
    while todo:
        name = todo.pop()
        if name in seen or name.startswith("__"):
            continue
        seen.add(name)
        for f in types[name]["fields"] or []:
            if (name, f["name"]) == ("ProductVersion", "scorecard"):
                # A product's scorecard is its published configuration (the rules), read with
                # the product; the deal's risk data is what the rules judged.
                continue
            if RISK_FIELD.search(f["name"]):
                risky.append((name, f))
            target = _named(f["type"])
            if target["kind"] in ("OBJECT", "INTERFACE", "UNION"):
                todo.append(target["name"])
        for possible in types[name].get("possibleTypes") or []:
            todo.append(possible["name"])
    assert "Deal" in seen and "Tenant" in seen
    # Any such field must sit on the deal itself and be null for the operator.
    assert all(owner == "Deal" for owner, _ in risky), risky
    for _, f in risky:
        if any(True for _ in f["args"]):
            continue  # pragma: no cover - none takes arguments today
        kind = _named(f["type"])["kind"]
        selection = f["name"] + (" { __typename }" if kind != "SCALAR" else "")
        if kind == "ENUM":
            selection = f["name"]
        query = f"{{ platformDeals(first: 100) {{ edges {{ node {{ {selection} }} }} }} }}"
        body = (await gql(client, d.operator, query)).json()
        edges = (body.get("data") or {}).get("platformDeals", {"edges": []})["edges"]
        assert all(e["node"][f["name"]] in (None, []) for e in edges), (f["name"], body)
