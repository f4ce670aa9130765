"""The funder's loans over GraphQL: ``loans`` (a connection, oldest first, by status), a loan by
ID, ``Deal.loan``, and what a loan shows: its deal, its borrower, its schedule, its balances and
its ledger entries.

The loan read through the whole path: bank A's finance officer disburses the young borrower's
100,000.00 CNY consumer deal at 12 % over 12 months with the product's 2 % fee withheld
(tests/disbursement_support.py) and the rail settles the payout. Figures by hand:

* the disbursement's entry (domain.loans.service.disbursement_postings): line 1 principal
  receivable +100,000.00 (debit), line 2 settlement cash -98,000.00 (credit: 100,000.00 -
  2,000.00 paid out), line 3 fee income -2,000.00 (credit); +100,000.00 - 98,000.00 - 2,000.00
  = 0;
* the loan's balances on their normal side: principal receivable 100,000.00 (debit-normal,
  +100,000.00), fee income 2,000.00 (credit-normal, -(-2,000.00)), the eight other accounts
  0.00; settlement cash is the funder's, not the loan's;
* the first instalment: 1 % of 100,000.00 = 1,000.00 interest; the annuity 100,000.00 x 0.01 /
  (1 - 1.01^-12) = 8,884.88; principal 8,884.88 - 1,000.00 = 7,884.88, leaving 92,115.12."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from api.state import AppState
from domain.kernel.money import Money
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from tests.api.test_disburse_api import DISBURSE, _input, _settle
from tests.deals_support import CONSENT, apply
from tests.disbursement_support import World, build_world, rows, signed_deal
from tests.loans_support import seed_loans
from tests.support import access_token, global_id, gql, without_cost

LOAN_FIELDS = """
    id status principal { amount currency } fee { amount } annualRate valueDate maturityDate
    deal { id status }
    borrower { __typename ... on Person { fullName } ... on Organization { name } }
    schedule { number dueDate principal { amount } interest { amount } total { amount }
      closingBalance { amount } }
    balances { kind balance { amount currency } }
"""
ENTRIES = (
    "ledgerEntries { cause reference valueDate lines { number kind ownAccount amount { amount } } }"
)
LOANS = (
    "query($first: Int!, $after: String, $status: LoanStatus) {"
    " loans(first: $first, after: $after, status: $status) {"
    " edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }"
)
NODE = "query($id: ID!) { node(id: $id) { ... on Loan { %s } } }"
DEAL_LOAN = (
    "query($id: ID!) { node(id: $id) { ... on Deal {"
    " applicant { ... on Person { fullName } } loan { id } } } }"
)

# The loan's accounts in kind order (their names' order), each 0.00 but two.
KINDS = (
    "BORROWER_CREDIT",
    "FEE_INCOME",
    "FEE_RECEIVABLE",
    "INTEREST_INCOME",
    "INTEREST_RECEIVABLE",
    "PENALTY_INCOME",
    "PENALTY_RECEIVABLE",
    "PRINCIPAL_RECEIVABLE",
    "RECOVERY_INCOME",
    "WRITE_OFF_EXPENSE",
)
BALANCES = [
    {
        "kind": k,
        "balance": {
            "amount": {"PRINCIPAL_RECEIVABLE": "100000.00", "FEE_INCOME": "2000.00"}.get(k, "0.00"),
            "currency": "CNY",
        },
    }
    for k in KINDS
]


@pytest.fixture
async def world(app_state: AppState) -> World:
    return await build_world(app_state)


def _data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _disbursed(client: Any, app_state: AppState, owner_engine: Any, w: World) -> Any:
    deal_id = await signed_deal(app_state, owner_engine, w)
    token = await access_token(client, "finance@disburse.test")
    response = await gql(client, token, DISBURSE, {"input": _input(deal_id, "loans-1")})
    assert response.json()["data"]["disburse"]["userErrors"] == [], response.text
    [(payout_id,)] = await rows(
        owner_engine, "select id from payouts where deal_id = :d", d=deal_id
    )
    settled = await _settle(client, payout_id, "98000.00")
    assert settled.status_code == 200, settled.text
    [(loan_id,)] = await rows(owner_engine, "select id from loans where deal_id = :d", d=deal_id)
    return deal_id, payout_id, loan_id, token


async def test_the_disbursed_loan_in_the_connection_by_id_and_from_its_deal(
    uncapped_client, app_state, owner_engine, world
) -> None:
    # A page with every schedule line costs more than the default maximum (api/cost.py).
    client = uncapped_client
    deal_id, payout_id, loan_id, finance = await _disbursed(client, app_state, owner_engine, world)
    gid = global_id("Loan", loan_id)
    page = (
        "query { loans(first: 10) { edges { node { "
        + LOAN_FIELDS
        + ENTRIES
        + " } } pageInfo { hasNextPage } } }"
    )
    found = _data(await gql(client, finance, page))["loans"]
    assert found["pageInfo"] == {"hasNextPage": False}
    (edge,) = found["edges"]
    loan = edge["node"]
    applicant = _data(await gql(client, finance, DEAL_LOAN, {"id": global_id("Deal", deal_id)}))
    assert applicant["node"]["loan"] == {"id": gid}
    assert loan["borrower"] == {
        "__typename": "Person",
        "fullName": applicant["node"]["applicant"]["fullName"],
    }
    assert {k: loan[k] for k in ("id", "status", "principal", "fee", "annualRate")} == {
        "id": gid,
        "status": "ACTIVE",
        "principal": {"amount": "100000.00", "currency": "CNY"},
        "fee": {"amount": "2000.00"},
        "annualRate": "0.12",
    }
    assert (loan["valueDate"], loan["maturityDate"]) == ("2026-12-07", "2027-12-07")
    assert loan["deal"] == {"id": global_id("Deal", deal_id), "status": "ACTIVE"}
    assert len(loan["schedule"]) == 12
    assert loan["schedule"][0] == {
        "number": 1,
        "dueDate": "2027-01-07",
        "principal": {"amount": "7884.88"},
        "interest": {"amount": "1000.00"},
        "total": {"amount": "8884.88"},
        "closingBalance": {"amount": "92115.12"},
    }
    assert loan["schedule"][-1]["closingBalance"] == {"amount": "0.00"}
    assert loan["balances"] == BALANCES
    assert loan["ledgerEntries"] == [
        {
            "cause": "DISBURSEMENT",
            "reference": f"payout:{payout_id}",
            "valueDate": "2026-12-07",
            "lines": [
                {
                    "number": 1,
                    "kind": "PRINCIPAL_RECEIVABLE",
                    "ownAccount": True,
                    "amount": {"amount": "100000.00"},
                },
                {
                    "number": 2,
                    "kind": "SETTLEMENT_CASH",
                    "ownAccount": False,
                    "amount": {"amount": "-98000.00"},
                },
                {
                    "number": 3,
                    "kind": "FEE_INCOME",
                    "ownAccount": True,
                    "amount": {"amount": "-2000.00"},
                },
            ],
        }
    ]
    # node(id:) answers the same loan.
    by_id = _data(await gql(client, finance, NODE % (LOAN_FIELDS + ENTRIES), {"id": gid}))
    assert by_id["node"] == loan

    # A first reviewer (no ledger:read) reads the loan, not its entries.
    first = await access_token(client, "first@disburse.test")
    response = await gql(client, first, NODE % ("id balances { kind } " + ENTRIES), {"id": gid})
    body = response.json()
    assert body["data"]["node"]["id"] == gid
    assert body["data"]["node"]["ledgerEntries"] is None
    assert [e["message"] for e in body["errors"]] == ["Requires the ledger:read scope"]

    # Bank B's finance officer and the borrower see no loan, by any path.
    for token in (
        await access_token(client, "b-finance@disburse.test"),
        await access_token(client, world.market.young.email),
    ):
        listed = _data(await gql(client, token, LOANS, {"first": 10}))
        assert listed["loans"]["edges"] == []
        assert without_cost(
            (await gql(client, token, NODE % "id principal { amount }", {"id": gid})).json()
        ) == {"data": {"node": None}}
    mine = _data(
        await gql(
            client,
            await access_token(client, world.market.young.email),
            DEAL_LOAN,
            {"id": global_id("Deal", deal_id)},
        )
    )
    assert mine["node"]["loan"] is None


async def _seeded(app_state: AppState, w: World, count: int) -> list[uuid.UUID]:
    """``count`` ACTIVE loans of bank A on copies of one of the young borrower's deals."""
    template = (
        await apply(
            app_state,
            w.market.young.actor(),
            product_id=w.product,
            amount=Money.parse("100000.00", "CNY"),
            term=12,
            purpose="Home renovation",
            consent=CONSENT,
        )
    ).deal.id
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        loans = await seed_loans(s, tenant_id=w.a, template_deal_id=template, count=count)
        await s.commit()
    return loans


async def test_pages_follow_the_keyset_and_the_status_filter(
    client, app_state, owner_engine, world
) -> None:
    loans = await _seeded(app_state, world, 5)
    # Loans 2 and 4 (oldest first) fall OVERDUE.
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update loans set status = 'OVERDUE' where id = any(:ids)"),
            {"ids": [loans[1], loans[3]]},
        )
    token = await access_token(client, "finance@disburse.test")
    seen: list[str] = []
    after = None
    pages = []
    while True:
        page = _data(await gql(client, token, LOANS, {"first": 2, "after": after}))["loans"]
        pages.append(len(page["edges"]))
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # 5 loans by 2: pages of 2, 2 and 1, oldest first, each once.
    assert pages == [2, 2, 1]
    assert seen == [global_id("Loan", i) for i in loans]

    overdue = _data(await gql(client, token, LOANS, {"first": 10, "status": "OVERDUE"}))["loans"]
    assert [e["node"] for e in overdue["edges"]] == [
        {"id": global_id("Loan", loans[1]), "status": "OVERDUE"},
        {"id": global_id("Loan", loans[3]), "status": "OVERDUE"},
    ]
    active = _data(await gql(client, token, LOANS, {"first": 2, "status": "ACTIVE"}))["loans"]
    assert [e["node"]["id"] for e in active["edges"]] == [
        global_id("Loan", loans[0]),
        global_id("Loan", loans[2]),
    ]
    rest = _data(
        await gql(
            client,
            token,
            LOANS,
            {"first": 2, "status": "ACTIVE", "after": active["pageInfo"]["endCursor"]},
        )
    )["loans"]
    assert [e["node"]["id"] for e in rest["edges"]] == [global_id("Loan", loans[4])]
    assert rest["pageInfo"]["hasNextPage"] is False

    # Bank B's staff list none of them; a cursor of another connection is refused.
    other = await access_token(client, "b-finance@disburse.test")
    assert _data(await gql(client, other, LOANS, {"first": 10}))["loans"]["edges"] == []
    deals = _data(await gql(client, token, "{ deals(first: 1) { pageInfo { endCursor } } }"))
    refused = await gql(
        client, token, LOANS, {"first": 2, "after": deals["deals"]["pageInfo"]["endCursor"]}
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = await gql(client, token, LOANS, {"first": 101})
    assert too_many.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
