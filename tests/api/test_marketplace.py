"""Products and the marketplace over GraphQL: funders configure and publish, partner apps see
every funder's published offers (never drafts or retired ones) and get quotes."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod, ScheduleTerms, build_schedule, quote_cost
from domain.parties import repository as party_repository
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import ClientKind
from tests.support import World, access_token, client_token, global_id, gql, seed_world

MARKET_PARTNER = ("test-market-partner", "test-market-partner-secret")

PRODUCT_FIELDS = """
    id name status productLine version
    funder { name }
    currentTerms {
        version currency allowedTerms annualRate repaymentMethod termUnit dayCount
        minAmount { amount currency } maxAmount { amount currency }
        originationFee { kind flat { amount currency } rate }
        latePenalty { dailyRate basis graceDays }
        prepaymentPenalty { rate freeAllowance }
        orderFinancing { maxAdvanceRate eligibleCoreEnterprises { name kind } }
        warehousePledge { maxLtv haircut acceptedWarehouses { name kind } }
        consumerEligibility { minAge maxAge minCreditScore }
    }
    versions { version annualRate }
"""

CREATE = """
mutation ($input: CreateProductInput!) {
  createProduct(input: $input) {
    product { FIELDS }
    userErrors { field code message }
  }
}""".replace("FIELDS", PRODUCT_FIELDS)

UPDATE = """
mutation ($input: UpdateProductInput!) {
  updateProduct(input: $input) { product { FIELDS } userErrors { field code message } }
}""".replace("FIELDS", PRODUCT_FIELDS)

PUBLISH = """
mutation ($id: ProductID!) {
  publishProduct(input: {id: $id}) { product { id status publishedAt } userErrors { field code } }
}"""

RETIRE = """
mutation ($id: ProductID!) {
  retireProduct(input: {id: $id}) { product { id status retiredAt } userErrors { field code } }
}"""

MARKETPLACE = """
query ($first: Int!, $after: String, $line: ProductLine, $amount: MoneyInput, $term: Int) {
  marketplace(first: $first, after: $after, productLine: $line, amount: $amount, term: $term) {
    edges { cursor node { FIELDS } }
    pageInfo { hasNextPage endCursor }
  }
}""".replace("FIELDS", PRODUCT_FIELDS)

QUOTE = """
query ($id: ProductID!, $amount: MoneyInput!, $term: Int!, $start: Date) {
  quote(productId: $id, amount: $amount, term: $term, startDate: $start) {
    quote {
      version term termUnit startDate maturityDate annualRate repaymentMethod apr aprNominal
      product { name funder { name } }
      amount { amount currency }
      installments {
        number dueDate principal { amount } interest { amount } total { amount }
        openingBalance { amount } closingBalance { amount }
      }
      originationFee { amount currency } netDisbursed { amount }
      totalInterest { amount } totalCostOfCredit { amount } totalRepayable { amount }
    }
    userErrors { field code message }
  }
}"""


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


def terms_input(line: str, world: World, **overrides: Any) -> dict[str, Any]:
    """Valid terms of ``line``: 1,000.00-200,000.00 CNY at 12 %, equal instalments."""
    terms: dict[str, Any] = {
        "currency": "CNY",
        "minAmount": cny("1000.00"),
        "maxAmount": cny("200000.00"),
        "allowedTerms": [3, 6, 12, 24],
        "annualRate": "0.12",
        "repaymentMethod": "EQUAL_INSTALLMENT",
        "latePenalty": {"dailyRate": "0.0005", "basis": "OVERDUE_PRINCIPAL", "graceDays": 3},
        "prepaymentPenalty": {"rate": "0.02", "freeAllowance": "0.10"},
    }
    if line == "CONSUMER_CREDIT":
        terms["consumerEligibility"] = {"minAge": 22, "maxAge": 55, "minCreditScore": 600}
    elif line == "ORDER_FINANCING":
        terms["repaymentMethod"] = "INTEREST_ONLY"
        terms["allowedTerms"] = [3, 6]
        terms["orderFinancing"] = {
            "maxAdvanceRate": "0.8",
            "eligibleCoreEnterpriseIds": [global_id("Organization", world.core_enterprise_id)],
        }
    else:
        terms["termUnit"] = "DAY"
        terms["allowedTerms"] = [90, 180]
        terms["repaymentMethod"] = "BULLET"
        terms["warehousePledge"] = {
            "maxLtv": "0.7",
            "haircut": "0.1",
            "acceptedWarehouseIds": [global_id("Organization", world.extra["warehouse_id"])],
        }
    terms.update(overrides)
    return terms


async def market_world(app_state) -> World:  # type: ignore[no-untyped-def]
    """seed_world plus a warehouse and a partner app holding marketplace:read."""
    world = await seed_world(app_state)
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        warehouse = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.WAREHOUSE,
            name="Bonded Warehouse",
            social_credit_code="91310115MA1H8E5A44",
        )
        partner_org = await party_repository.organization_by_code(s, "91440300MA5G0W9T8T")
        assert partner_org is not None
        await tenant_service.create_client(
            s,
            SEEDER,
            name="market partner",
            kind=ClientKind.PARTNER_APP,
            scopes=["viewer:read", "marketplace:read"],
            organization_id=partner_org.id,
            credentials=MARKET_PARTNER,
        )
        await s.commit()
    world.extra["warehouse_id"] = warehouse.id
    return world


async def partner_token(client) -> str:  # type: ignore[no-untyped-def]
    response = await client_token(client, MARKET_PARTNER)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def create(client, token: str, input: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await gql(client, token, CREATE, {"input": input})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"]["createProduct"])


async def product(client, token: str, world: World, line: str, name: str, **terms: Any) -> str:  # type: ignore[no-untyped-def]
    result = await create(
        client,
        token,
        {"productLine": line, "name": name, "terms": terms_input(line, world, **terms)},
    )
    assert result["userErrors"] == [], result
    return str(result["product"]["id"])


async def run(client, token: str, query: str, **variables: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await gql(client, token, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


async def published(client, token: str, world: World, line: str, name: str, **terms: Any) -> str:  # type: ignore[no-untyped-def]
    pid = await product(client, token, world, line, name, **terms)
    data = await run(client, token, PUBLISH, id=pid)
    assert data["publishProduct"]["userErrors"] == [], data
    return pid


async def counts(owner_engine) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "select (select count(*) from products), (select count(*) from"
                    " product_versions), (select count(*) from audit_log where action like"
                    " 'product.%'), (select count(*) from events where type like 'product.%')"
                )
            )
        ).one()
    return tuple(row)


# --- the marketplace -----------------------------------------------------------------------------


async def test_partner_sees_published_products_of_several_funders_only(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    b = await access_token(client, world.b.admin_email)
    await published(client, a, world, "CONSUMER_CREDIT", "A salary loan")
    await published(client, a, world, "ORDER_FINANCING", "A order finance")
    await published(client, b, world, "WAREHOUSE_RECEIPT_PLEDGE", "B grain pledge")
    await product(client, a, world, "CONSUMER_CREDIT", "A draft")
    retired = await published(client, b, world, "CONSUMER_CREDIT", "B retired")
    assert (await run(client, b, RETIRE, id=retired))["retireProduct"]["userErrors"] == []

    partner = await partner_token(client)
    data = await run(client, partner, MARKETPLACE, first=10)
    nodes = [edge["node"] for edge in data["marketplace"]["edges"]]
    assert [(n["name"], n["funder"]["name"]) for n in nodes] == [
        ("A salary loan", "Bank A"),
        ("A order finance", "Bank A"),
        ("B grain pledge", "Bank B"),
    ]
    assert {n["status"] for n in nodes} == {"PUBLISHED"}
    assert data["marketplace"]["pageInfo"]["hasNextPage"] is False

    order, pledge = nodes[1]["currentTerms"], nodes[2]["currentTerms"]
    assert order["orderFinancing"] == {
        "maxAdvanceRate": "0.8",
        "eligibleCoreEnterprises": [{"name": "Core Co", "kind": "CORE_ENTERPRISE"}],
    }
    assert order["warehousePledge"] is None and order["consumerEligibility"] is None
    assert pledge["termUnit"] == "DAY" and pledge["allowedTerms"] == [90, 180]
    assert pledge["warehousePledge"]["acceptedWarehouses"] == [
        {"name": "Bonded Warehouse", "kind": "WAREHOUSE"}
    ]
    consumer = nodes[0]["currentTerms"]
    assert consumer["minAmount"] == {"amount": "1000.00", "currency": "CNY"}
    assert consumer["annualRate"] == "0.12"
    assert consumer["latePenalty"] == {
        "dailyRate": "0.0005",
        "basis": "OVERDUE_PRINCIPAL",
        "graceDays": 3,
    }
    assert consumer["originationFee"] == {"kind": "NONE", "flat": None, "rate": None}

    # The funder's own list has its draft; a reviewer may read it but not write.
    own = await run(client, a, "{ products(first: 10) { edges { node { name status } } } }")
    assert [e["node"] for e in own["products"]["edges"]] == [
        {"name": "A salary loan", "status": "PUBLISHED"},
        {"name": "A order finance", "status": "PUBLISHED"},
        {"name": "A draft", "status": "DRAFT"},
    ]
    reviewer = await access_token(client, world.a.reviewer_email)
    drafts = await run(
        client, reviewer, "{ products(first: 5, status: DRAFT) { edges { node { name } } } }"
    )
    assert drafts["products"]["edges"] == [{"node": {"name": "A draft"}}]
    refused = await gql(
        client,
        reviewer,
        CREATE,
        {
            "input": {
                "productLine": "CONSUMER_CREDIT",
                "name": "x",
                "terms": terms_input("CONSUMER_CREDIT", world),
            }
        },
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A partner app has no products:read and may not write.
    refused = await gql(client, partner, "{ products(first: 1) { edges { cursor } } }")
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Without marketplace:read (the seed partner holds viewer:read only) there is no market.
    plain = (await client_token(client, world.partner_client)).json()["access_token"]
    refused = await gql(client, plain, "{ marketplace(first: 1) { edges { cursor } } }")
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_marketplace_filters_and_pages(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    b = await access_token(client, world.b.admin_email)
    await published(client, a, world, "CONSUMER_CREDIT", "small", maxAmount=cny("5000.00"))
    await published(client, b, world, "CONSUMER_CREDIT", "long", allowedTerms=[36, 48])
    await published(client, b, world, "ORDER_FINANCING", "orders")
    partner = await partner_token(client)

    async def names(**variables: Any) -> list[str]:
        data = await run(client, partner, MARKETPLACE, first=10, **variables)
        return [e["node"]["name"] for e in data["marketplace"]["edges"]]

    assert await names() == ["small", "long", "orders"]
    assert await names(line="ORDER_FINANCING") == ["orders"]
    assert await names(line="CONSUMER_CREDIT") == ["small", "long"]
    assert await names(amount=cny("100000.00")) == ["long", "orders"]
    assert await names(amount=cny("1000.00")) == ["small", "long", "orders"]
    assert await names(amount={"amount": "100000.00", "currency": "USD"}) == []
    assert await names(term=36) == ["long"]
    assert await names(term=3) == ["small", "orders"]
    assert await names(line="CONSUMER_CREDIT", term=3, amount=cny("4000.00")) == ["small"]

    # Keyset pages of one.
    seen, after = [], None
    while True:
        data = await run(client, partner, MARKETPLACE, first=1, after=after)
        page = data["marketplace"]
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["small", "long", "orders"]

    # first is required and capped; cursors are ours only.
    for variables in ({"first": 0}, {"first": 101}, {"first": 5, "after": "bm9wZQ=="}):
        response = await gql(client, partner, MARKETPLACE, variables)
        assert response.json()["data"] is None, variables
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    response = await gql(client, partner, MARKETPLACE, {"first": 5, "amount": cny("1.001")})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    response = await gql(client, partner, MARKETPLACE.replace("$first: Int!", "$first: Int"), {})
    assert "errors" in response.json()


# --- quotes --------------------------------------------------------------------------------------


async def test_quote_matches_the_engine_worked_example(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    pid = await published(client, a, world, "CONSUMER_CREDIT", "Worked example")
    partner = await partner_token(client)
    data = await run(
        client, partner, QUOTE, id=pid, amount=cny("100000.00"), term=12, start="2026-01-15"
    )
    payload = data["quote"]
    assert payload["userErrors"] == []
    q = payload["quote"]
    # 100,000.00 at 12 % over 12 months: 1 % a month, payment 8,884.88 (hand-derived in
    # tests/unit/test_schedule_examples.py); the last instalment absorbs the rounding.
    assert [i["total"]["amount"] for i in q["installments"]] == ["8884.88"] * 11 + ["8884.85"]
    assert q["installments"][0] == {
        "number": 1,
        "dueDate": "2026-02-15",
        "principal": {"amount": "7884.88"},
        "interest": {"amount": "1000.00"},
        "total": {"amount": "8884.88"},
        "openingBalance": {"amount": "100000.00"},
        "closingBalance": {"amount": "92115.12"},
    }
    assert q["installments"][-1]["closingBalance"] == {"amount": "0.00"}
    assert q["totalInterest"] == {"amount": "6618.53"}
    assert q["totalRepayable"] == {"amount": "106618.53"}
    assert q["originationFee"] == {"amount": "0.00", "currency": "CNY"}
    assert q["netDisbursed"] == {"amount": "100000.00"}
    assert q["totalCostOfCredit"] == {"amount": "6618.53"}
    # Without fees the IRR is the contract rate: 1 % a month, 12.68 % effective, 12 % nominal.
    assert (q["apr"], q["aprNominal"]) == ("0.1268", "0.12")
    assert q["maturityDate"] == "2027-01-15"
    assert (q["version"], q["term"], q["termUnit"], q["annualRate"]) == (1, 12, "MONTH", "0.12")
    assert q["product"] == {"name": "Worked example", "funder": {"name": "Bank A"}}
    # Without a start date the quote runs from today in the funder's time zone.
    data = await run(client, partner, QUOTE, id=pid, amount=cny("100000.00"), term=12)
    assert data["quote"]["quote"]["installments"][0]["total"] == {"amount": "8884.88"}


async def test_quote_with_fees_agrees_with_the_engine(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    pid = await published(
        client,
        a,
        world,
        "CONSUMER_CREDIT",
        "With fee",
        originationFee={"percent": "0.01"},
        repaymentMethod="EQUAL_PRINCIPAL",
    )
    partner = await partner_token(client)
    q = (
        await run(
            client, partner, QUOTE, id=pid, amount=cny("100000.00"), term=6, start="2026-01-15"
        )
    )["quote"]["quote"]
    schedule = build_schedule(
        ScheduleTerms(
            principal=Money.parse("100000.00", "CNY"),
            annual_rate=Decimal("0.12"),
            periods=6,
            method=RepaymentMethod.EQUAL_PRINCIPAL,
            start_date=date(2026, 1, 15),
            day_count=DayCountConvention.ACT_365,
        )
    )
    cost = quote_cost(schedule, Money.parse("1000.00", "CNY"))
    assert q["originationFee"] == {"amount": "1000.00", "currency": "CNY"}
    assert q["netDisbursed"] == {"amount": "99000.00"}
    assert q["totalInterest"] == {"amount": cost.total_interest.to_decimal_string()}
    assert q["totalCostOfCredit"] == {"amount": cost.total_cost_of_credit.to_decimal_string()}
    assert Decimal(q["apr"]) == cost.apr > Decimal("0.12")
    assert [i["total"]["amount"] for i in q["installments"]] == [
        line.total.to_decimal_string() for line in schedule.installments
    ]


async def test_quote_refusals_are_typed(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    pid = await published(client, a, world, "CONSUMER_CREDIT", "Offer")
    draft = await product(client, a, world, "CONSUMER_CREDIT", "Draft")
    partner = await partner_token(client)

    async def codes(**variables: Any) -> list[tuple[str | None, str]]:
        variables.setdefault("id", pid)
        variables.setdefault("amount", cny("10000.00"))
        variables.setdefault("term", 12)
        data = await run(client, partner, QUOTE, **variables)
        assert data["quote"]["quote"] is None
        return [(e["field"], e["code"]) for e in data["quote"]["userErrors"]]

    assert await codes(amount=cny("999.99")) == [("amount", "AMOUNT_NOT_OFFERED")]
    assert await codes(amount=cny("200000.01")) == [("amount", "AMOUNT_NOT_OFFERED")]
    assert await codes(term=9) == [("term", "TERM_NOT_OFFERED")]
    assert await codes(amount={"amount": "10000.00", "currency": "USD"}) == [
        ("amount", "CURRENCY_MISMATCH")
    ]
    assert await codes(amount=cny("1.234")) == [("amount.amount", "INVALID_AMOUNT")]
    assert await codes(id=draft) == [("productId", "NOT_FOUND")]
    # Another type's ID is refused by ProductID when the variables are coerced.
    refused = await gql(
        client,
        partner,
        QUOTE,
        {"id": global_id("Tenant", world.a.id), "amount": cny("10000.00"), "term": 12},
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["data"] is None
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["BAD_USER_INPUT"]
    assert await codes(amount=cny("0.00")) == [("amount", "INVALID_AMOUNT")]
    # The funder previews its own draft.
    own = await run(client, a, QUOTE, id=draft, amount=cny("10000.00"), term=3)
    assert own["quote"]["userErrors"] == []


# --- product rules through createProduct ---------------------------------------------------------


def _case(line: str, path: str, value: Any, code: str) -> tuple[str, str, Any, str]:
    return line, path, value, code


_DROP = object()

CC, OF, WRP = "CONSUMER_CREDIT", "ORDER_FINANCING", "WAREHOUSE_RECEIPT_PLEDGE"
RULES = [
    # Each product line's own block and bounds.
    _case(CC, "consumerEligibility", _DROP, "PRODUCT_LINE_TERMS_REQUIRED"),
    _case(CC, "warehousePledge", {"maxLtv": "0.5", "haircut": "0.1", "acceptedWarehouseIds": []},
          "PRODUCT_LINE_TERMS_NOT_ALLOWED"),
    _case(CC, "consumerEligibility.minAge", 16, "ELIGIBILITY_OUT_OF_RANGE"),
    _case(CC, "consumerEligibility.minCreditScore", 1200, "ELIGIBILITY_OUT_OF_RANGE"),
    _case(OF, "orderFinancing", _DROP, "PRODUCT_LINE_TERMS_REQUIRED"),
    _case(OF, "consumerEligibility", {"minAge": 20, "maxAge": 60, "minCreditScore": 1},
          "PRODUCT_LINE_TERMS_NOT_ALLOWED"),
    _case(OF, "orderFinancing.maxAdvanceRate", "0", "ADVANCE_RATE_OUT_OF_RANGE"),
    _case(OF, "orderFinancing.maxAdvanceRate", "1.01", "ADVANCE_RATE_OUT_OF_RANGE"),
    _case(OF, "orderFinancing.eligibleCoreEnterpriseIds", [], "COUNTERPARTIES_REQUIRED"),
    _case(OF, "orderFinancing.eligibleCoreEnterpriseIds", "WAREHOUSE", "WRONG_ORGANIZATION_KIND"),
    _case(OF, "orderFinancing.eligibleCoreEnterpriseIds", "UNKNOWN", "NOT_FOUND"),
    _case(WRP, "warehousePledge", _DROP, "PRODUCT_LINE_TERMS_REQUIRED"),
    _case(WRP, "orderFinancing", {"maxAdvanceRate": "0.5", "eligibleCoreEnterpriseIds": []},
          "PRODUCT_LINE_TERMS_NOT_ALLOWED"),
    _case(WRP, "warehousePledge.maxLtv", "1.5", "LTV_OUT_OF_RANGE"),
    _case(WRP, "warehousePledge.maxLtv", "0", "LTV_OUT_OF_RANGE"),
    _case(WRP, "warehousePledge.haircut", "1", "HAIRCUT_OUT_OF_RANGE"),
    _case(WRP, "warehousePledge.acceptedWarehouseIds", [], "COUNTERPARTIES_REQUIRED"),
    _case(WRP, "warehousePledge.acceptedWarehouseIds", "CORE", "WRONG_ORGANIZATION_KIND"),
    _case(WRP, "allowedTerms", [400], "ALLOWED_TERMS_INVALID"),
    _case(WRP, "repaymentMethod", "EQUAL_INSTALLMENT", "REPAYMENT_METHOD_NOT_ALLOWED"),
    # Rules of every line.
    _case(CC, "minAmount", cny("0.00"), "AMOUNT_RANGE_INVALID"),
    _case(CC, "maxAmount", cny("999.00"), "AMOUNT_RANGE_INVALID"),
    _case(CC, "maxAmount", {"amount": "5000.00", "currency": "USD"}, "CURRENCY_MISMATCH"),
    _case(CC, "maxAmount", cny("5000.001"), "INVALID_AMOUNT"),
    _case(CC, "currency", "XYZ", "INVALID_CURRENCY"),
    _case(CC, "annualRate", "0.3601", "ANNUAL_RATE_OUT_OF_RANGE"),
    _case(CC, "annualRate", "-0.01", "ANNUAL_RATE_OUT_OF_RANGE"),
    _case(CC, "annualRate", "0.123456789", "INVALID_RATE"),
    _case(CC, "allowedTerms", [], "ALLOWED_TERMS_INVALID"),
    _case(CC, "allowedTerms", [12, 61], "ALLOWED_TERMS_INVALID"),
    _case(CC, "allowedTerms", [0], "ALLOWED_TERMS_INVALID"),
    _case(CC, "originationFee", {"percent": "0.11"}, "ORIGINATION_FEE_OUT_OF_RANGE"),
    _case(CC, "originationFee", {"flat": cny("1000.00")}, "ORIGINATION_FEE_OUT_OF_RANGE"),
    _case(CC, "latePenalty.dailyRate", "0.001", "LATE_PENALTY_OUT_OF_RANGE"),
    _case(CC, "latePenalty.graceDays", 31, "LATE_PENALTY_OUT_OF_RANGE"),
    _case(CC, "prepaymentPenalty.rate", "0.06", "PREPAYMENT_PENALTY_OUT_OF_RANGE"),
    _case(CC, "prepaymentPenalty.freeAllowance", "1.5", "PREPAYMENT_PENALTY_OUT_OF_RANGE"),
]  # fmt: skip


def _apply(terms: dict[str, Any], path: str, value: Any, world: World) -> None:
    *parents, leaf = path.split(".")
    target = terms
    for key in parents:
        target = target[key]
    if value is _DROP:
        del target[leaf]
        return
    if value == "WAREHOUSE":
        value = [global_id("Organization", world.extra["warehouse_id"])]
    elif value == "CORE":
        value = [global_id("Organization", world.core_enterprise_id)]
    elif value == "UNKNOWN":
        value = [global_id("Organization", world.borrower_org_id.__class__(int=7))]
    target[leaf] = value


async def test_each_product_rule_violated_once_is_a_typed_user_error_and_writes_nothing(
    client, app_state, owner_engine
) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    before = await counts(owner_engine)
    assert before == (0, 0, 0, 0)
    failures = []
    for line, path, value, code in RULES:
        terms = copy.deepcopy(terms_input(line, world))
        _apply(terms, path, value, world)
        result = await create(client, a, {"productLine": line, "name": "Broken", "terms": terms})
        got = [e["code"] for e in result["userErrors"]]
        if result["product"] is not None or got != [code]:
            failures.append((line, path, value, code, result["userErrors"]))
        if await counts(owner_engine) != before:
            failures.append((line, path, "wrote rows", await counts(owner_engine)))
    assert failures == []
    # A blank name, and an unsupported currency in an amount, are typed too.
    result = await create(
        client, a, {"productLine": CC, "name": "  ", "terms": terms_input(CC, world)}
    )
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("name", "REQUIRED")]
    # Every valid line goes through, for contrast.
    for line in (CC, OF, WRP):
        result = await create(
            client, a, {"productLine": line, "name": line, "terms": terms_input(line, world)}
        )
        assert result["userErrors"] == [] and result["product"]["status"] == "DRAFT"
    assert await counts(owner_engine) == (3, 3, 3, 3)


async def test_several_violations_are_reported_together(client, app_state, owner_engine) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    terms = terms_input(CC, world, annualRate="0.5", allowedTerms=[])
    terms["consumerEligibility"]["minAge"] = 10
    result = await create(client, a, {"productLine": CC, "name": "Broken", "terms": terms})
    assert sorted((e["field"], e["code"]) for e in result["userErrors"]) == [
        ("terms.allowedTerms", "ALLOWED_TERMS_INVALID"),
        ("terms.annualRate", "ANNUAL_RATE_OUT_OF_RANGE"),
        ("terms.consumerEligibility.minAge", "ELIGIBILITY_OUT_OF_RANGE"),
    ]
    assert await counts(owner_engine) == (0, 0, 0, 0)


# --- versions and other funders ------------------------------------------------------------------


async def test_editing_a_published_product_through_the_api_makes_a_version(
    client, app_state
) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    pid = await published(client, a, world, "CONSUMER_CREDIT", "Versioned")
    data = await run(
        client,
        a,
        UPDATE,
        input={"id": pid, "terms": terms_input(CC, world, annualRate="0.10")},
    )
    updated = data["updateProduct"]
    assert updated["userErrors"] == []
    assert updated["product"]["version"] == 2
    assert updated["product"]["currentTerms"]["annualRate"] == "0.1"
    assert updated["product"]["versions"] == [
        {"version": 2, "annualRate": "0.1"},
        {"version": 1, "annualRate": "0.12"},
    ]
    # The marketplace shows the current version only, and quotes under it.
    partner = await partner_token(client)
    node = await run(
        client,
        partner,
        "query ($id: ID!) { node(id: $id) { ... on Product { version versions { version } } } }",
        id=pid,
    )
    assert node["node"] == {"version": 2, "versions": [{"version": 2}]}
    q = await run(client, partner, QUOTE, id=pid, amount=cny("10000.00"), term=12)
    assert q["quote"]["quote"]["version"] == 2
    assert q["quote"]["quote"]["annualRate"] == "0.1"


async def test_a_funder_cannot_touch_another_tenants_product(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    b = await access_token(client, world.b.admin_email)
    draft = await product(client, a, world, "CONSUMER_CREDIT", "A draft")
    offer = await published(client, a, world, "CONSUMER_CREDIT", "A offer")
    for pid in (draft, offer):
        data = await run(client, b, PUBLISH, id=pid)
        assert data["publishProduct"] == {
            "product": None,
            "userErrors": [{"field": "id", "code": "NOT_FOUND"}],
        }
        data = await run(client, b, RETIRE, id=pid)
        assert data["retireProduct"]["userErrors"] == [{"field": "id", "code": "NOT_FOUND"}]
        data = await run(client, b, UPDATE, input={"id": pid, "name": "Hijacked"})
        assert [(e["field"], e["code"]) for e in data["updateProduct"]["userErrors"]] == [
            ("id", "NOT_FOUND")
        ]
    # node(id:) runs the same checks: B sees neither (no marketplace:read), the partner sees
    # only the published one, A both.
    query = "query ($id: ID!) { node(id: $id) { ... on Product { name status } } }"
    partner = await partner_token(client)
    assert (await run(client, b, query, id=draft))["node"] is None
    assert (await run(client, b, query, id=offer))["node"] is None
    assert (await run(client, partner, query, id=draft))["node"] is None
    assert (await run(client, partner, query, id=offer))["node"] == {
        "name": "A offer",
        "status": "PUBLISHED",
    }
    assert (await run(client, a, query, id=draft))["node"] == {"name": "A draft", "status": "DRAFT"}
    # B's own list holds none of A's products.
    own = await run(client, b, "{ products(first: 10) { edges { node { name } } } }")
    assert own["products"]["edges"] == []


async def test_lifecycle_through_the_api(client, app_state) -> None:
    world = await market_world(app_state)
    a = await access_token(client, world.a.admin_email)
    pid = await product(client, a, world, "ORDER_FINANCING", "Lifecycle")
    data = await run(client, a, RETIRE, id=pid)
    assert data["retireProduct"]["userErrors"] == [{"field": None, "code": "INVALID_TRANSITION"}]
    data = await run(client, a, PUBLISH, id=pid)
    assert data["publishProduct"]["product"]["status"] == "PUBLISHED"
    data = await run(client, a, RETIRE, id=pid)
    assert data["retireProduct"]["product"]["status"] == "RETIRED"
    data = await run(client, a, PUBLISH, id=pid)
    assert data["publishProduct"]["userErrors"] == [{"field": None, "code": "INVALID_TRANSITION"}]
    partner = await partner_token(client)
    market = await run(client, partner, MARKETPLACE, first=5)
    assert market["marketplace"]["edges"] == []


async def test_operator_creates_products_for_a_funder(client, app_state) -> None:
    world = await market_world(app_state)
    admin = await access_token(client, world.admin_email)
    result = await create(
        client,
        admin,
        {
            "productLine": CC,
            "name": "By the operator",
            "tenantId": global_id("Tenant", world.b.id),
            "terms": terms_input(CC, world),
        },
    )
    assert result["userErrors"] == []
    assert result["product"]["funder"] == {"name": "Bank B"}
    result = await create(
        client, admin, {"productLine": CC, "name": "Nowhere", "terms": terms_input(CC, world)}
    )
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("tenantId", "REQUIRED")]
