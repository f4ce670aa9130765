"""Reviews over GraphQL: the approval path from the first review to the second with a lower
amount, and the timeline that records it; the second reviewer reads the first's decision and
notes; four eyes; another funder's reviewer finds none of bank A's deals; the queues and their
filters; the applicant and the operator see no reviews.

The world (tests.deals_support.market): bank A's consumer product lends 1,000.00 to
200,000.00 CNY at 12 %; the young borrower applies for 50,000.00 over 12 months; order
financing of the confirmed order asks 800,000.00. reviewer@bank-a.test is a first reviewer;
the second reviewer, a person with both roles and bank B's reviewer with both roles are made
here. No use case moves a deal from SUBMITTED to FIRST_REVIEW yet: the tests do it by hand
and open its first review, as the intake step will."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.idempotency import REPLAYED_HEADER
from api.state import AppState
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.reviews import service
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tests.collateral_support import tenant_session
from tests.deals_support import Market, apply, consumer_deal, market, order_deal, submit
from tests.support import PASSWORD, access_token, content_without_cost, global_id, gql

REVIEW_FIELDS = """
    stage round claimedAt decision notes decidedAt systemDecision expiresAt
    approvedTerms { amount { amount currency } annualRate }
    assignee { email } decidedBy { email }
"""
PAYLOAD = f"deal {{ id status }} review {{ {REVIEW_FIELDS} }} userErrors {{ field code message }}"
CLAIM = f"""
mutation($input: ClaimReviewInput!) {{ claimReview(input: $input) {{ {PAYLOAD} }} }}"""
RELEASE = f"""
mutation($input: ReleaseReviewInput!) {{ releaseReview(input: $input) {{ {PAYLOAD} }} }}"""
DECIDE_FIRST = f"""
mutation($input: DecideFirstReviewInput!) {{ decideFirstReview(input: $input) {{ {PAYLOAD} }} }}"""
DECIDE_SECOND = f"""
mutation($input: DecideSecondReviewInput!) {{
  decideSecondReview(input: $input) {{ {PAYLOAD} }}
}}"""
DEAL = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Deal {{
  status
  reviews {{ {REVIEW_FIELDS} }}
  timeline {{ action fromStatus toStatus note actorUser {{ email }} }}
}} }} }}"""
QUEUE = """
query($stage: ReviewStage!, $line: ProductLine, $assignee: ReviewAssigneeFilter,
      $olderThan: DateTime, $first: Int!, $after: String) {
  reviewQueue(stage: $stage, productLine: $line, assignee: $assignee, olderThan: $olderThan,
              first: $first, after: $after) {
    edges {
      cursor queuedAt productLine amount { amount currency }
      review { stage round assignee { email } }
      deal { id status }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

FIRST_EMAIL = "reviewer@bank-a.test"
SECOND_EMAIL = "second@bank-a.test"
BOTH_EMAIL = "both@bank-a.test"
B_EMAIL = "both@bank-b.test"


@dataclass(frozen=True)
class Reviews:
    """The market and a token for each reviewer and for the applicant and the operator."""

    m: Market
    first: str
    second: str
    both: str
    b_both: str
    applicant: str
    operator: str


async def _users(state: AppState, m: Market) -> None:
    wanted = [
        (SECOND_EMAIL, m.world.a.id, ["SECOND_REVIEWER"]),
        (BOTH_EMAIL, m.world.a.id, ["FIRST_REVIEWER", "SECOND_REVIEWER"]),
        (B_EMAIL, m.world.b.id, ["FIRST_REVIEWER", "SECOND_REVIEWER"]),
    ]
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        for email, tenant, roles in wanted:
            await tenant_service.create_user(
                s,
                SEEDER,
                email=email,
                display_name=email.split("@")[0],
                roles=roles,
                tenant_id=tenant,
                password=PASSWORD,
            )
        await s.commit()


@pytest.fixture
async def world(client: httpx.AsyncClient, app_state: AppState) -> Reviews:
    m = await market(app_state)
    await _users(app_state, m)
    return Reviews(
        m=m,
        first=await access_token(client, FIRST_EMAIL),
        second=await access_token(client, SECOND_EMAIL),
        both=await access_token(client, BOTH_EMAIL),
        b_both=await access_token(client, B_EMAIL),
        applicant=await access_token(client, m.young.email),
        operator=await access_token(client, m.world.admin_email),
    )


async def _in_first_review(state: AppState, m: Market, deal_id: uuid.UUID) -> None:
    """SUBMITTED -> FIRST_REVIEW in the funder's scope and its first review opened, in one
    transaction (the intake step, which has no use case yet)."""
    async with tenant_session(state, m.world.a.id) as s:
        deal = await deals_repository.deal(s, deal_id, for_update=True)
        assert deal is not None and deal.status is DealStatus.SUBMITTED
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await service.open_first_review(s, deal)
        await s.commit()


async def _consumer_in_review(state: AppState, m: Market) -> uuid.UUID:
    deal_id = (await apply(state, m.young.actor(), **consumer_deal(m))).deal.id
    outcome, errors = await submit(state, m.young.actor(), deal_id)
    assert outcome is not None, errors
    await _in_first_review(state, m, deal_id)
    return deal_id


async def _order_in_review(state: AppState, m: Market) -> uuid.UUID:
    seller = m.chain.seller_user.actor()
    deal_id = (await apply(state, seller, **order_deal(m))).deal.id
    outcome, errors = await submit(state, seller, deal_id)
    assert outcome is not None, errors
    await _in_first_review(state, m, deal_id)
    return deal_id


async def _call(
    client: httpx.AsyncClient, token: str, document: str, field: str, **input_: Any
) -> dict[str, Any]:
    response = await gql(client, token, document, {"input": input_})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][field]
    return payload


async def _ok(
    client: httpx.AsyncClient, token: str, document: str, field: str, **input_: Any
) -> dict[str, Any]:
    payload = await _call(client, token, document, field, **input_)
    assert payload["userErrors"] == [], payload
    return payload


async def _codes(
    client: httpx.AsyncClient, token: str, document: str, field: str, **input_: Any
) -> list[tuple[str, str]]:
    payload = await _call(client, token, document, field, **input_)
    assert payload["deal"] is None and payload["review"] is None, payload
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def _deal(client: httpx.AsyncClient, token: str, deal_id: uuid.UUID) -> dict[str, Any]:
    response = await gql(client, token, DEAL, {"id": global_id("Deal", deal_id)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    node: dict[str, Any] = body["data"]["node"]
    return node


async def _reviews(owner: AsyncEngine, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text(
                "select stage, round, assignee_id, decision, notes, decided_by,"
                " approved_amount_minor from deal_reviews where deal_id = :d order by round, stage"
            ),
            {"d": deal_id},
        )
        return [tuple(r) for r in rows]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- the approval path ----------------------------------------------------------------------------


async def test_first_then_second_approval_with_a_lower_amount(
    client: httpx.AsyncClient, app_state: AppState, world: Reviews
) -> None:
    deal_id = await _consumer_in_review(app_state, world.m)
    gid = global_id("Deal", deal_id)

    claimed = await _ok(client, world.first, CLAIM, "claimReview", dealId=gid, stage="FIRST")
    assert claimed["deal"] == {"id": gid, "status": "FIRST_REVIEW"}
    review = claimed["review"]
    assert (review["stage"], review["round"], review["decision"]) == ("FIRST", 1, None)
    assert review["assignee"] == {"email": FIRST_EMAIL} and review["claimedAt"]

    first = await _ok(
        client,
        world.first,
        DECIDE_FIRST,
        "decideFirstReview",
        dealId=gid,
        decision="APPROVE",
        notes="Income and identity verified",
    )
    assert first["deal"] == {"id": gid, "status": "SECOND_REVIEW"}
    assert (first["review"]["decision"], first["review"]["notes"]) == (
        "APPROVE",
        "Income and identity verified",
    )

    # The second reviewer reads the first review's decision and notes before deciding.
    seen = await _deal(client, world.second, deal_id)
    assert [(r["stage"], r["round"], r["decision"], r["notes"]) for r in seen["reviews"]] == [
        ("FIRST", 1, "APPROVE", "Income and identity verified"),
        ("SECOND", 1, None, None),
    ]
    assert seen["reviews"][0]["systemDecision"] is False

    # 40,000.00 of the 50,000.00 requested, at 9.5 % instead of the product's 12 %.
    second = await _ok(
        client,
        world.second,
        DECIDE_SECOND,
        "decideSecondReview",
        dealId=gid,
        decision="APPROVE",
        notes="Approved at a lower amount",
        amount={"amount": "40000.00", "currency": "CNY"},
        annualRate="0.095",
    )
    assert second["deal"] == {"id": gid, "status": "APPROVED"}
    decided = second["review"]
    assert decided["approvedTerms"] == {
        "amount": {"amount": "40000.00", "currency": "CNY"},
        "annualRate": "0.095",
    }
    assert decided["assignee"] == {"email": SECOND_EMAIL}
    assert decided["decidedBy"] == {"email": SECOND_EMAIL}
    # The approval stands 30 days from the decision.
    assert _at(decided["expiresAt"]) - _at(decided["decidedAt"]) == timedelta(days=30)

    deal = await _deal(client, world.first, deal_id)
    assert deal["status"] == "APPROVED"
    assert [(r["stage"], r["decision"]) for r in deal["reviews"]] == [
        ("FIRST", "APPROVE"),
        ("SECOND", "APPROVE"),
    ]
    assert deal["reviews"][1]["approvedTerms"]["amount"]["amount"] == "40000.00"
    timeline = [(e["action"], e["fromStatus"], e["toStatus"], e["note"]) for e in deal["timeline"]]
    assert timeline == [
        ("deal.create", None, "DRAFT", None),
        ("deal.submit", "DRAFT", "SUBMITTED", None),
        # The notes stay in the reviews: the applicant reads the timeline too.
        ("deal.pass_first_review", "FIRST_REVIEW", "SECOND_REVIEW", None),
        ("deal.approve", "SECOND_REVIEW", "APPROVED", None),
    ]


async def test_the_applicant_and_the_operator_see_no_reviews(
    client: httpx.AsyncClient, app_state: AppState, world: Reviews
) -> None:
    deal_id = await _consumer_in_review(app_state, world.m)
    gid = global_id("Deal", deal_id)
    await _ok(
        client,
        world.first,
        DECIDE_FIRST,
        "decideFirstReview",
        dealId=gid,
        decision="APPROVE",
        notes="Verified",
    )
    # The applicant sees the deal and its timeline, not the funder's reviews.
    mine = await _deal(client, world.applicant, deal_id)
    assert mine["status"] == "SECOND_REVIEW" and mine["reviews"] == []
    assert [e["action"] for e in mine["timeline"]][-1] == "deal.pass_first_review"
    # The operator follows deals across funders, not their reviews.
    operator = await _deal(client, world.operator, deal_id)
    assert operator["status"] == "SECOND_REVIEW" and operator["reviews"] == []
    # The funder's staff do.
    assert len((await _deal(client, world.second, deal_id))["reviews"]) == 2


async def test_terms_refusals_name_the_input_fields(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: Reviews
) -> None:
    deal_id = await _consumer_in_review(app_state, world.m)
    gid = global_id("Deal", deal_id)
    await _ok(
        client,
        world.first,
        DECIDE_FIRST,
        "decideFirstReview",
        dealId=gid,
        decision="APPROVE",
        notes="ok",
    )
    # 50,000.01 is one fen above the request; 12.5 % above the product's 12 %; notes blank.
    codes = await _codes(
        client,
        world.second,
        DECIDE_SECOND,
        "decideSecondReview",
        dealId=gid,
        decision="APPROVE",
        notes="on terms",
        amount={"amount": "50000.01", "currency": "CNY"},
        annualRate="0.125",
    )
    assert codes == [("amount", "AMOUNT_ABOVE_REQUEST"), ("annualRate", "ANNUAL_RATE_OUT_OF_RANGE")]
    codes = await _codes(
        client,
        world.second,
        DECIDE_SECOND,
        "decideSecondReview",
        dealId=gid,
        decision="APPROVE",
        notes="  ",
    )
    assert codes == [("notes", "REQUIRED")]
    assert [r[3] for r in await _reviews(owner_engine, deal_id)] == ["APPROVE", None]


# -- four eyes ------------------------------------------------------------------------------------


async def test_four_eyes_over_the_api(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: Reviews
) -> None:
    deal_id = await _consumer_in_review(app_state, world.m)
    gid = global_id("Deal", deal_id)
    await _ok(
        client,
        world.both,
        DECIDE_FIRST,
        "decideFirstReview",
        dealId=gid,
        decision="APPROVE",
        notes="Looks fine",
    )
    # The person who decided the first review holds the second role too: refused.
    codes = await _codes(
        client,
        world.both,
        DECIDE_SECOND,
        "decideSecondReview",
        dealId=gid,
        decision="APPROVE",
        notes="Approving my own",
    )
    assert codes == [("dealId", "FOUR_EYES")]
    codes = await _codes(client, world.both, CLAIM, "claimReview", dealId=gid, stage="SECOND")
    assert codes == [("dealId", "FOUR_EYES")]
    rows = await _reviews(owner_engine, deal_id)
    assert [(r[0], r[2], r[3]) for r in rows][1] == ("SECOND", None, None)
    # Someone else may.
    second = await _ok(
        client,
        world.second,
        DECIDE_SECOND,
        "decideSecondReview",
        dealId=gid,
        decision="APPROVE",
        notes="Second pair of eyes",
    )
    assert second["deal"]["status"] == "APPROVED"


# -- another funder -------------------------------------------------------------------------------


async def test_another_funders_reviewer_finds_no_deal(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: Reviews
) -> None:
    in_first = await _consumer_in_review(app_state, world.m)
    in_second = await _consumer_in_review(app_state, world.m)
    await _ok(
        client,
        world.first,
        DECIDE_FIRST,
        "decideFirstReview",
        dealId=global_id("Deal", in_second),
        decision="APPROVE",
        notes="ok",
    )
    first, second = global_id("Deal", in_first), global_id("Deal", in_second)
    before = [await _reviews(owner_engine, d) for d in (in_first, in_second)]
    calls = [
        (CLAIM, "claimReview", {"dealId": first, "stage": "FIRST"}),
        (CLAIM, "claimReview", {"dealId": second, "stage": "SECOND"}),
        (RELEASE, "releaseReview", {"dealId": first, "stage": "FIRST"}),
        (
            DECIDE_FIRST,
            "decideFirstReview",
            {"dealId": first, "decision": "REJECT", "notes": "not mine"},
        ),
        (
            DECIDE_SECOND,
            "decideSecondReview",
            {"dealId": second, "decision": "APPROVE", "notes": "not mine"},
        ),
    ]
    for document, field, input_ in calls:
        codes = await _codes(client, world.b_both, document, field, **input_)
        assert codes == [("dealId", "NOT_FOUND")], (field, input_)
    assert [await _reviews(owner_engine, d) for d in (in_first, in_second)] == before
    # Bank B's reviewer reads none of bank A's reviews, and bank B's queues are empty.
    response = await gql(client, world.b_both, DEAL, {"id": first})
    assert response.json()["data"]["node"] is None
    for stage in ("FIRST", "SECOND"):
        response = await gql(client, world.b_both, QUEUE, {"stage": stage, "first": 10})
        assert response.json()["data"]["reviewQueue"]["edges"] == []


# -- queues ---------------------------------------------------------------------------------------


async def _queue(
    client: httpx.AsyncClient, token: str, **variables: Any
) -> tuple[list[str], dict[str, Any], list[dict[str, Any]]]:
    """The deal IDs of a queue page, its page info and its edges."""
    response = await gql(client, token, QUEUE, {"first": 10, **variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    page = body["data"]["reviewQueue"]
    return [e["deal"]["id"] for e in page["edges"]], page["pageInfo"], page["edges"]


async def test_the_queues_and_their_filters(
    client: httpx.AsyncClient, app_state: AppState, world: Reviews
) -> None:
    m = world.m
    consumer = [global_id("Deal", await _consumer_in_review(app_state, m)) for _ in range(3)]
    order = global_id("Deal", await _order_in_review(app_state, m))
    await _ok(client, world.first, CLAIM, "claimReview", dealId=consumer[1], stage="FIRST")

    # Oldest first: the three consumer deals, then the order.
    ids, info, edges = await _queue(client, world.first, stage="FIRST")
    assert ids == [*consumer, order] and not info["hasNextPage"]
    assert [e["productLine"] for e in edges] == ["CONSUMER_CREDIT"] * 3 + ["ORDER_FINANCING"]
    assert [e["amount"]["amount"] for e in edges] == ["50000.00"] * 3 + ["800000.00"]
    assert [e["review"]["assignee"] for e in edges] == [None, {"email": FIRST_EMAIL}, None, None]
    assert {(e["review"]["stage"], e["review"]["round"]) for e in edges} == {("FIRST", 1)}
    assert {e["deal"]["status"] for e in edges} == {"FIRST_REVIEW"}
    # By product line.
    assert (await _queue(client, world.first, stage="FIRST", line="ORDER_FINANCING"))[0] == [order]
    assert (await _queue(client, world.first, stage="FIRST", line="CONSUMER_CREDIT"))[0] == (
        consumer
    )
    # By whom they are held: the one I claimed; the other three.
    assert (await _queue(client, world.first, stage="FIRST", assignee="ME"))[0] == [consumer[1]]
    assert (await _queue(client, world.both, stage="FIRST", assignee="ME"))[0] == []
    assert (await _queue(client, world.first, stage="FIRST", assignee="UNASSIGNED"))[0] == [
        consumer[0],
        consumer[2],
        order,
    ]
    unassigned_orders = await _queue(
        client, world.first, stage="FIRST", assignee="UNASSIGNED", line="ORDER_FINANCING"
    )
    assert unassigned_orders[0] == [order]
    # Opened before the third consumer deal's review: the first two.
    older = await _queue(client, world.first, stage="FIRST", olderThan=edges[2]["queuedAt"])
    assert older[0] == consumer[:2]
    # Pages of two, by cursor.
    ids, info, _ = await _queue(client, world.first, stage="FIRST", first=2)
    assert ids == consumer[:2] and info["hasNextPage"]
    rest = await _queue(client, world.first, stage="FIRST", first=2, after=info["endCursor"])
    assert rest[0] == [consumer[2], order] and not rest[1]["hasNextPage"]

    # A decided first review leaves the first queue; its second review is in the second.
    await _ok(
        client,
        world.first,
        DECIDE_FIRST,
        "decideFirstReview",
        dealId=consumer[1],
        decision="APPROVE",
        notes="ok",
    )
    assert (await _queue(client, world.first, stage="FIRST"))[0] == [
        consumer[0],
        consumer[2],
        order,
    ]
    assert (await _queue(client, world.second, stage="SECOND"))[0] == [consumer[1]]
    assert (await _queue(client, world.second, stage="SECOND", assignee="UNASSIGNED"))[0] == [
        consumer[1]
    ]

    # Each queue needs its stage's scope.
    for token, stage, scope in (
        (world.first, "SECOND", "reviews:second"),
        (world.second, "FIRST", "reviews:first"),
    ):
        response = await gql(client, token, QUEUE, {"stage": stage, "first": 10})
        body = response.json()
        assert body["data"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["message"] == f"Requires the {scope} scope"


async def test_claim_and_release(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: Reviews
) -> None:
    deal_id = await _consumer_in_review(app_state, world.m)
    gid = global_id("Deal", deal_id)
    await _ok(client, world.first, CLAIM, "claimReview", dealId=gid, stage="FIRST")
    # Held: another first reviewer may neither take nor release it.
    codes = await _codes(client, world.both, CLAIM, "claimReview", dealId=gid, stage="FIRST")
    assert codes == [("dealId", "REVIEW_TAKEN")]
    codes = await _codes(client, world.both, RELEASE, "releaseReview", dealId=gid, stage="FIRST")
    assert codes == [("dealId", "FORBIDDEN")]
    released = await _ok(client, world.first, RELEASE, "releaseReview", dealId=gid, stage="FIRST")
    assert released["review"]["assignee"] is None and released["review"]["claimedAt"] is None
    taken = await _ok(client, world.both, CLAIM, "claimReview", dealId=gid, stage="FIRST")
    assert taken["review"]["assignee"] == {"email": BOTH_EMAIL}
    # A first reviewer has no second-review scope.
    response = await gql(client, world.first, CLAIM, {"input": {"dealId": gid, "stage": "SECOND"}})
    body = response.json()
    assert body["data"] is None or body["data"]["claimReview"] is None, body
    assert [(e["extensions"]["code"], e["message"]) for e in body["errors"]] == [
        ("FORBIDDEN", "Requires the reviews:second scope")
    ]
    rows = await _reviews(owner_engine, deal_id)
    assert [r[3] for r in rows] == [None]


# -- idempotency ----------------------------------------------------------------------------------


async def test_a_decision_with_a_key_replays_its_first_answer(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, world: Reviews
) -> None:
    deal_id = await _consumer_in_review(app_state, world.m)
    variables = {
        "input": {
            "dealId": global_id("Deal", deal_id),
            "decision": "RETURN",
            "notes": "Attach the payslips",
            "idempotencyKey": "decide-1",
        }
    }
    first = await gql(client, world.first, DECIDE_FIRST, variables)
    assert first.json()["data"]["decideFirstReview"]["deal"]["status"] == "RETURNED"
    assert REPLAYED_HEADER not in first.headers
    rows = await _reviews(owner_engine, deal_id)
    # A retry gets the first answer, not INVALID_TRANSITION, and writes nothing.
    again = await gql(client, world.first, DECIDE_FIRST, variables)
    assert content_without_cost(again.content) == content_without_cost(first.content)
    assert again.headers[REPLAYED_HEADER] == "decideFirstReview"
    assert await _reviews(owner_engine, deal_id) == rows
    # The same key with another decision is refused.
    variables["input"]["decision"] = "REJECT"
    other = await gql(client, world.first, DECIDE_FIRST, variables)
    errors = other.json()["data"]["decideFirstReview"]["userErrors"]
    assert [e["code"] for e in errors] == ["IDEMPOTENCY_KEY_REUSED"], other.json()
