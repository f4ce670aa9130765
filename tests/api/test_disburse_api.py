"""disburse over GraphQL, and the loan a deal shows once its payout settled: bank A's finance
officer disburses the 100,000.00 CNY consumer deal (2 % fee withheld: 98,000.00 paid out)
with an idempotency key; a retry replays the first answer, another body under the key is
refused; the rail's settlement (signed, posted to /webhooks/payments) makes the deal ACTIVE
and ``Deal.loan`` shows the loan: principal, dates, the 12-line schedule and the ledger
balances. Figures by hand: 8,884.88 a month (100,000.00 at 1 % a month over 12), the first
month 1,000.00 interest and 7,884.88 principal; principal receivable 100,000.00 and fee
income 2,000.00."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.payments.callbacks import sign_callback
from tests.conftest import PAYMENTS_CALLBACK_SECRET
from tests.disbursement_support import ACCOUNT, BANK, World, build_world, rows, signed_deal
from tests.support import access_token, global_id, gql, without_cost

DISBURSE = """
mutation($input: DisburseInput!) {
  disburse(input: $input) {
    deal { id status }
    payout { state amount { amount currency } fee { amount } netAmount { amount } valueDate }
    userErrors { field code message }
  }
}"""

LOAN = """
query($id: ID!) {
  node(id: $id) {
    ... on Deal {
      status
      loan {
        status
        principal { amount currency }
        fee { amount }
        annualRate
        valueDate
        maturityDate
        schedule { number dueDate principal { amount } interest { amount } total { amount } }
        balances { kind balance { amount } }
      }
    }
  }
}"""


@pytest.fixture
async def world(app_state) -> World:  # type: ignore[no-untyped-def]
    return await build_world(app_state)


def _input(deal_id: uuid.UUID, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "dealId": global_id("Deal", deal_id),
        "idempotencyKey": key,
        "beneficiary": {"name": "Wang Fang", "accountNumber": ACCOUNT, "bankCode": BANK},
        "valueDate": "2026-12-07",
        **extra,
    }


async def _settle(client: Any, payout_id: uuid.UUID, net: str) -> Any:
    event = {
        "event_id": f"EV-{uuid.uuid4().hex[:20].upper()}",
        "type": "payout.settled",
        "payout_id": "PO-API-0001",
        "reference": str(payout_id),
        "amount": {"amount": net, "currency": "CNY"},
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = sign_callback(
        body, PAYMENTS_CALLBACK_SECRET, event_id=event["event_id"], timestamp=datetime.now(UTC)
    )
    return await client.post("/webhooks/payments", content=body, headers=headers)


async def test_disburse_then_the_settled_loan(client, app_state, owner_engine, world) -> None:
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    token = await access_token(client, "finance@disburse.test")
    response = await gql(client, token, DISBURSE, {"input": _input(deal_id, "api-1")})
    assert response.status_code == 200, response.text
    first = without_cost(response.json())
    assert first == {
        "data": {
            "disburse": {
                "deal": {"id": global_id("Deal", deal_id), "status": "DISBURSING"},
                "payout": {
                    "state": "REQUESTED",
                    "amount": {"amount": "100000.00", "currency": "CNY"},
                    "fee": {"amount": "2000.00"},
                    "netAmount": {"amount": "98000.00"},
                    "valueDate": "2026-12-07",
                },
                "userErrors": [],
            }
        }
    }
    # A retry with the key and the same request replays the first answer.
    again = await gql(client, token, DISBURSE, {"input": _input(deal_id, "api-1")})
    assert without_cost(again.json()) == first
    assert again.headers.get("Idempotent-Replayed") == "disburse"
    # The key with another body is refused.
    other = await gql(
        client, token, DISBURSE, {"input": _input(deal_id, "api-1", valueDate="2026-12-08")}
    )
    assert other.json()["data"]["disburse"]["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    [(payout_id,)] = await rows(
        owner_engine, "select id from payouts where deal_id = :d", d=deal_id
    )

    # Before the settlement there is no loan.
    loan = await gql(client, token, LOAN, {"id": global_id("Deal", deal_id)})
    assert loan.json()["data"]["node"] == {"status": "DISBURSING", "loan": None}

    settled = await _settle(client, payout_id, "98000.00")
    assert settled.status_code == 200, settled.text
    assert settled.json() == {"received": True, "duplicate": False}

    found = (await gql(client, token, LOAN, {"id": global_id("Deal", deal_id)})).json()
    node = found["data"]["node"]
    assert node["status"] == "ACTIVE"
    got = node["loan"]
    assert {k: got[k] for k in ("status", "principal", "fee", "annualRate", "valueDate")} == {
        "status": "ACTIVE",
        "principal": {"amount": "100000.00", "currency": "CNY"},
        "fee": {"amount": "2000.00"},
        "annualRate": "0.12",
        "valueDate": "2026-12-07",
    }
    assert got["maturityDate"] == "2027-12-07"
    assert len(got["schedule"]) == 12
    assert got["schedule"][0] == {
        "number": 1,
        "dueDate": "2027-01-07",
        "principal": {"amount": "7884.88"},
        "interest": {"amount": "1000.00"},
        "total": {"amount": "8884.88"},
    }
    balances = {b["kind"]: b["balance"]["amount"] for b in got["balances"]}
    assert balances["PRINCIPAL_RECEIVABLE"] == "100000.00"
    assert balances["FEE_INCOME"] == "2000.00"
    assert balances["INTEREST_RECEIVABLE"] == "0.00"

    # The borrower sees the deal, not the funder's loan.
    borrower = await access_token(client, w.market.young.email)
    mine = (await gql(client, borrower, LOAN, {"id": global_id("Deal", deal_id)})).json()
    assert mine["data"]["node"] == {"status": "ACTIVE", "loan": None}


async def test_refusals_over_graphql(client, app_state, owner_engine, world) -> None:
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    # The second reviewer (also a finance officer) approved the deal: four eyes.
    second = await access_token(client, "second@disburse.test")
    response = await gql(client, second, DISBURSE, {"input": _input(deal_id, "api-4e")})
    assert response.json()["data"]["disburse"] == {
        "deal": None,
        "payout": None,
        "userErrors": [
            {
                "field": "dealId",
                "code": "FOUR_EYES",
                "message": "you approved this deal: a different person disburses it",
            }
        ],
    }
    # Bank B's finance officer: the deal does not exist.
    other = await access_token(client, "b-finance@disburse.test")
    response = await gql(client, other, DISBURSE, {"input": _input(deal_id, "api-b")})
    assert response.json()["data"]["disburse"]["userErrors"] == [
        {"field": "dealId", "code": "NOT_FOUND", "message": "no such deal"}
    ]
    # A first reviewer has no loans:disburse.
    first = await access_token(client, "first@disburse.test")
    response = await gql(client, first, DISBURSE, {"input": _input(deal_id, "api-r")})
    assert response.json()["errors"][0]["message"] == "Requires the loans:disburse scope"
    assert await rows(owner_engine, "select count(*) from payouts") == [(0,)]
