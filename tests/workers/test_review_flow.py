"""The review of each product line end to end: the applicant submits over HTTP, a real worker
on RabbitMQ runs the risk checks with the production ports against the sandbox providers and
assesses the deal, then a first and a second reviewer decide over HTTP, and the deal is
APPROVED with its whole timeline. The reviewers read the risk data the checks brought back.

The applications are created with the use cases (set-up); everything from submission on goes
through the API and the broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from domain.kernel.money import Money
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from integrations.sandboxes import SandboxServer
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tests.deals_support import apply, consumer_deal, market, order_deal, pledge_deal
from tests.support import PASSWORD, access_token, global_id, gql
from tests.workers.conftest import Worker, until

SECOND = "second@bank-a.test"

SUBMIT = """
mutation($id: DealID!) { submitDeal(input: {id: $id}) {
  deal { status } userErrors { code field message } } }"""
DECIDE_FIRST = """
mutation($input: DecideFirstReviewInput!) { decideFirstReview(input: $input) {
  deal { status } userErrors { code field message } } }"""
DECIDE_SECOND = """
mutation($input: DecideSecondReviewInput!) { decideSecondReview(input: $input) {
  deal { status } review { approvedTerms { amount { amount currency } annualRate } }
  userErrors { code field message } } }"""
READ = """
query($id: ID!) { node(id: $id) { ... on Deal {
  status
  riskChecks { kind state attempts }
  creditReport { score file }
  identityVerification { verified }
  collateralValuation { complete total { amount currency } }
  riskAssessment { recommendation autoApproved results { code outcome } }
  reviews { stage decision notes }
  timeline { action fromStatus toStatus actorKind }
} } }"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(latency=0.0, hang_seconds=10.0) as server:
        yield server


@pytest.fixture
def real_worker(worker: Worker, sandbox: SandboxServer, settings: Any) -> Iterator[Worker]:
    worker.use_sandboxes(sandbox, settings)
    worker.env["LENDGRAPH_PROVIDER_TIMEOUT_SECONDS"] = "5"
    worker.start(recording=False)
    yield worker


@pytest.fixture
def over_rabbit(app_state: Any, rabbit_jobs: Any) -> Iterator[None]:
    """The API's units of work send their jobs to RabbitMQ, as a deployed API does."""
    before = app_state.jobs
    app_state.jobs = rabbit_jobs
    yield
    app_state.jobs = before


async def _call(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    body = (await gql(client, token, query, variables)).json()
    assert "errors" not in body, body
    return body["data"]


async def _status(owner_engine: Any, deal: Any) -> str | None:
    async with owner_engine.connect() as conn:
        found = await conn.scalar(text("select status from deals where id = :d"), {"d": deal})
    return None if found is None else str(found)


@pytest.mark.usefixtures("over_rabbit")
@pytest.mark.parametrize("line", ["CONSUMER_CREDIT", "ORDER_FINANCING", "WAREHOUSE_RECEIPT_PLEDGE"])
async def test_each_line_is_reviewed_to_approval(
    app_state, owner_engine, client, real_worker, line
) -> None:
    m = await market(app_state)
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_user(
            s,
            SEEDER,
            email=SECOND,
            display_name="Second",
            roles=["SECOND_REVIEWER"],
            tenant_id=m.world.a.id,
            password=PASSWORD,
        )
        await s.commit()
    applicant, email, kw = {
        "CONSUMER_CREDIT": (
            m.young.actor(),
            m.young.email,
            consumer_deal(
                m, liveness_session="LS-7f3a9c", monthly_income=Money.parse("20000.00", "CNY")
            ),
        ),
        "ORDER_FINANCING": (m.chain.seller_user.actor(), m.chain.seller_user.email, order_deal(m)),
        "WAREHOUSE_RECEIPT_PLEDGE": (
            m.chain.owner_user.actor(),
            m.chain.owner_user.email,
            pledge_deal(m),
        ),
    }[line]
    deal = (await apply(app_state, applicant, **kw)).deal.id
    deal_id = global_id("Deal", deal)

    token = await access_token(client, email)
    submitted = await _call(client, token, SUBMIT, id=deal_id)
    assert submitted["submitDeal"] == {"deal": {"status": "SUBMITTED"}, "userErrors": []}

    async def in_first_review() -> bool:
        return await _status(owner_engine, deal) == "FIRST_REVIEW"

    await until("the worker assessed the deal", in_first_review, real_worker, within=120)

    first = await access_token(client, m.world.a.reviewer_email, tenant=m.world.a.slug)
    seen = (await _call(client, first, READ, id=deal_id))["node"]
    kinds = {
        "CONSUMER_CREDIT": ["BUREAU", "IDENTITY"],
        "ORDER_FINANCING": ["BUREAU"],
        "WAREHOUSE_RECEIPT_PLEDGE": ["BUREAU", "VALUATION"],
    }[line]
    assert [(c["kind"], c["state"]) for c in seen["riskChecks"]] == [
        (k, "SUCCEEDED") for k in kinds
    ]
    assert seen["creditReport"] == {"score": 742, "file": "FULL"}
    assert (seen["identityVerification"] is not None) == (line == "CONSUMER_CREDIT")
    assert (seen["collateralValuation"] is not None) == (line == "WAREHOUSE_RECEIPT_PLEDGE")
    assessment = seen["riskAssessment"]
    assert assessment is not None and assessment["autoApproved"] is False
    assert seen["reviews"] == [{"stage": "FIRST", "decision": None, "notes": None}]

    decided = await _call(
        client,
        first,
        DECIDE_FIRST,
        input={
            "dealId": deal_id,
            "decision": "APPROVE",
            "notes": "Report and collateral in order.",
        },
    )
    assert decided["decideFirstReview"] == {"deal": {"status": "SECOND_REVIEW"}, "userErrors": []}

    second = await access_token(client, SECOND, tenant=m.world.a.slug)
    approved = await _call(
        client,
        second,
        DECIDE_SECOND,
        input={"dealId": deal_id, "decision": "APPROVE", "notes": "Agreed with the first review."},
    )
    assert approved["decideSecondReview"]["userErrors"] == []
    assert approved["decideSecondReview"]["deal"] == {"status": "APPROVED"}
    requested = kw["amount"]
    assert approved["decideSecondReview"]["review"]["approvedTerms"]["amount"] == {
        "amount": requested.to_decimal_string(),
        "currency": "CNY",
    }

    final = (await _call(client, second, READ, id=deal_id))["node"]
    assert final["status"] == "APPROVED"
    assert [r["stage"] for r in final["reviews"]] == ["FIRST", "SECOND"]
    assert final["reviews"][0]["notes"] == "Report and collateral in order."
    assert [
        (e["action"], e["fromStatus"], e["toStatus"], e["actorKind"]) for e in final["timeline"]
    ] == [
        ("deal.create", None, "DRAFT", "APPLICANT"),
        ("deal.submit", "DRAFT", "SUBMITTED", "APPLICANT"),
        ("deal.start_first_review", "SUBMITTED", "FIRST_REVIEW", "SYSTEM"),
        ("deal.pass_first_review", "FIRST_REVIEW", "SECOND_REVIEW", "FUNDER"),
        ("deal.approve", "SECOND_REVIEW", "APPROVED", "FUNDER"),
    ]
