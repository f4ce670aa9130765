"""A product version's scorecard on PostgreSQL and over GraphQL: written and read back as
given, frozen with the version once published, and shown in the version's terms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from domain.kernel.money import Money
from domain.products import repository, service
from domain.products.models import ProductLine
from domain.products.policy import ScorecardTerms
from tests.api.test_marketplace import PUBLISH, create, market_world, run, terms_input
from tests.integration.test_products import call, funder, owner_rows, session_for
from tests.integration.test_products import create as create_product
from tests.products_support import cny, consumer_terms, order_terms
from tests.support import access_token, gql, seed_world

CONSUMER_SCORECARD = ScorecardTerms(
    min_bureau_score=650,
    max_current_delinquencies=0,
    max_debt_to_income=Decimal("0.4500"),
    auto_approve_below=cny("20000.00"),
    approval_validity_days=14,
)

SCORECARD_FIELDS = """
    scorecard {
        minBureauScore maxCurrentDelinquencies maxDebtToIncome
        maxCoreEnterpriseExposure { amount currency } autoApproveBelow { amount currency }
        approvalValidityDays
    }
"""

PRODUCT = """
query ($id: ID!) {
  node(id: $id) { ... on Product { status currentTerms { version SCORECARD } } }
}""".replace("SCORECARD", SCORECARD_FIELDS)


async def test_a_published_consumer_scorecard_reads_back_equal(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    terms = consumer_terms(scorecard=CONSUMER_SCORECARD)
    pid = await create_product(app_state, actor, terms=terms)
    await call(app_state, actor, service.publish_product, product_id=pid)
    async with session_for(app_state, actor) as s:
        found = (await repository.products_by_ids(s, [pid]))[pid]
    assert found.terms == terms
    assert found.terms.scorecard == ScorecardTerms(
        min_bureau_score=650,
        max_current_delinquencies=0,
        max_debt_to_income=Decimal("0.45"),
        auto_approve_below=Money(2_000_000, "CNY"),
        approval_validity_days=14,
    )
    rows = await owner_rows(
        owner_engine,
        "select scorecard_min_bureau_score, scorecard_max_current_delinquencies,"
        " scorecard_max_debt_to_income, scorecard_max_exposure_minor,"
        " scorecard_auto_approve_below_minor, approval_validity_days"
        " from product_versions where product_id = :p",
        p=pid,
    )
    assert rows == [(650, 0, Decimal("0.45000000"), None, 2_000_000, 14)]


async def test_an_order_financing_exposure_limit_reads_back_equal(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    scorecard = ScorecardTerms(min_bureau_score=500, max_core_enterprise_exposure=cny("5000000.00"))
    terms = order_terms([world.core_enterprise_id], scorecard=scorecard)
    pid = await create_product(
        app_state, actor, product_line=ProductLine.ORDER_FINANCING, terms=terms
    )
    async with session_for(app_state, actor) as s:
        found = (await repository.products_by_ids(s, [pid]))[pid]
    assert found.terms.scorecard == scorecard
    rows = await owner_rows(
        owner_engine,
        "select scorecard_max_exposure_minor, approval_validity_days"
        " from product_versions where product_id = :p",
        p=pid,
    )
    assert rows == [(500_000_000, 30)]


async def test_terms_without_a_scorecard_read_back_with_no_rules(app_state) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create_product(app_state, actor)
    async with session_for(app_state, actor) as s:
        found = (await repository.products_by_ids(s, [pid]))[pid]
    assert found.terms.scorecard == ScorecardTerms()


async def test_a_drafts_scorecard_is_edited_in_place(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create_product(app_state, actor)
    await call(
        app_state,
        actor,
        service.update_product,
        product_id=pid,
        terms=consumer_terms(scorecard=CONSUMER_SCORECARD),
    )
    rows = await owner_rows(
        owner_engine,
        "select version, scorecard_min_bureau_score, approval_validity_days"
        " from product_versions where product_id = :p",
        p=pid,
    )
    assert rows == [(1, 650, 14)]


@pytest.mark.parametrize(
    "assignment",
    ["scorecard_min_bureau_score = 700", "approval_validity_days = 60"],
)
async def test_a_published_versions_scorecard_is_frozen(app_state, assignment: str) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create_product(app_state, actor, terms=consumer_terms(scorecard=CONSUMER_SCORECARD))
    await call(app_state, actor, service.publish_product, product_id=pid)
    with pytest.raises(DBAPIError) as caught:
        async with session_for(app_state, actor) as s:
            await s.execute(
                text(f"update product_versions set {assignment} where product_id = :p"),
                {"p": pid},
            )
    assert "cannot change" in str(caught.value)


@pytest.mark.parametrize(
    "assignment",
    [
        "scorecard_min_bureau_score = 1001",
        "scorecard_max_current_delinquencies = -1",
        "scorecard_max_debt_to_income = 5.5",
        "scorecard_max_exposure_minor = 0",
        "scorecard_auto_approve_below_minor = 20000001",  # above the maximum amount
        "approval_validity_days = 0",
    ],
)
async def test_the_database_checks_the_scorecard_ranges(app_state, assignment: str) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create_product(app_state, actor)  # a DRAFT: not frozen
    with pytest.raises(DBAPIError) as caught:
        async with session_for(app_state, actor) as s:
            await s.execute(
                text(f"update product_versions set {assignment} where product_id = :p"),
                {"p": pid},
            )
    assert "check constraint" in str(caught.value)


def _scorecard_input() -> dict[str, Any]:
    return {
        "minBureauScore": 650,
        "maxCurrentDelinquencies": 0,
        "maxDebtToIncome": "0.45",
        "autoApproveBelow": {"amount": "20000.00", "currency": "CNY"},
        "approvalValidityDays": 14,
    }


async def test_the_scorecard_appears_in_the_versions_terms_over_graphql(client, app_state) -> None:
    world = await market_world(app_state)
    token = await access_token(client, world.a.admin_email)
    result = await create(
        client,
        token,
        {
            "productLine": "CONSUMER_CREDIT",
            "name": "Scored salary loan",
            "terms": terms_input("CONSUMER_CREDIT", world, scorecard=_scorecard_input()),
        },
    )
    assert result["userErrors"] == [], result
    pid = result["product"]["id"]
    assert (await run(client, token, PUBLISH, id=pid))["publishProduct"]["userErrors"] == []
    data = await run(client, token, PRODUCT, id=pid)
    assert data["node"] == {
        "status": "PUBLISHED",
        "currentTerms": {
            "version": 1,
            "scorecard": {
                "minBureauScore": 650,
                "maxCurrentDelinquencies": 0,
                "maxDebtToIncome": "0.45",
                "maxCoreEnterpriseExposure": None,
                "autoApproveBelow": {"amount": "20000.00", "currency": "CNY"},
                "approvalValidityDays": 14,
            },
        },
    }


async def test_an_omitted_scorecard_shows_no_rules_and_thirty_days(client, app_state) -> None:
    world = await market_world(app_state)
    token = await access_token(client, world.a.admin_email)
    result = await create(
        client,
        token,
        {
            "productLine": "ORDER_FINANCING",
            "name": "Plain order finance",
            "terms": terms_input("ORDER_FINANCING", world),
        },
    )
    assert result["userErrors"] == [], result
    data = await run(client, token, PRODUCT, id=result["product"]["id"])
    assert data["node"]["currentTerms"]["scorecard"] == {
        "minBureauScore": None,
        "maxCurrentDelinquencies": None,
        "maxDebtToIncome": None,
        "maxCoreEnterpriseExposure": None,
        "autoApproveBelow": None,
        "approvalValidityDays": 30,
    }


async def test_scorecard_refusals_over_graphql_name_their_fields(
    client, app_state, owner_engine
) -> None:
    world = await market_world(app_state)
    token = await access_token(client, world.a.admin_email)
    scorecard = {
        "maxDebtToIncome": "0.12345",
        "maxCoreEnterpriseExposure": {"amount": "100.00", "currency": "CNY"},
        "autoApproveBelow": {"amount": "1.001", "currency": "CNY"},
        "approvalValidityDays": 400,
    }
    response = await gql(
        client,
        token,
        "mutation ($input: CreateProductInput!) { createProduct(input: $input) {"
        " product { id } userErrors { field code } } }",
        {
            "input": {
                "productLine": "CONSUMER_CREDIT",
                "name": "Refused",
                "terms": terms_input("CONSUMER_CREDIT", world, scorecard=scorecard),
            }
        },
    )
    body = response.json()
    assert "errors" not in body, body
    # The malformed amount is refused while converting, before the rules run.
    assert body["data"]["createProduct"] == {
        "product": None,
        "userErrors": [
            {"field": "terms.scorecard.autoApproveBelow.amount", "code": "INVALID_AMOUNT"}
        ],
    }
    scorecard["autoApproveBelow"] = {"amount": "1.00", "currency": "CNY"}
    response = await gql(
        client,
        token,
        "mutation ($input: CreateProductInput!) { createProduct(input: $input) {"
        " product { id } userErrors { field code } } }",
        {
            "input": {
                "productLine": "CONSUMER_CREDIT",
                "name": "Refused",
                "terms": terms_input("CONSUMER_CREDIT", world, scorecard=scorecard),
            }
        },
    )
    errors = response.json()["data"]["createProduct"]["userErrors"]
    assert sorted((e["field"], e["code"]) for e in errors) == [
        ("terms.scorecard.approvalValidityDays", "INVALID"),
        ("terms.scorecard.maxCoreEnterpriseExposure", "PRODUCT_LINE_TERMS_NOT_ALLOWED"),
        ("terms.scorecard.maxDebtToIncome", "INVALID_RATE"),
    ]
    rows = await owner_rows(owner_engine, "select count(*) from products where name = 'Refused'")
    assert rows == [(0,)]
