"""The trial balance over GraphQL: a funder admin reads its own books, summed by account kind;
another funder's books read as none; the operator names the funder; staff without ledger:read
are refused.

The books: two loans of bank A disbursed with a withheld fee (100,000.00 each: Dr principal
receivable 100,000.00, Cr settlement cash 98,000.00, Cr fee income 2,000.00), then 5,000.00
repaid on the first (Dr settlement cash, Cr principal receivable), dated 1 and 15 March."""

from __future__ import annotations

import uuid
from datetime import date

import httpx

from api.state import AppState
from domain.kernel.actor import Actor
from domain.kernel.money import Money
from domain.ledger import service
from domain.ledger.models import AccountKind as K
from domain.ledger.models import EntryCause
from domain.ledger.policy import AccountRef, credit, debit
from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope
from tests.support import World, access_token, global_id, gql, seed_world

QUERY = """
query($funder: TenantID, $asOf: Date) { trialBalance(funderId: $funder, asOf: $asOf) {
  currency asOf balanced totalDebits { amount } totalCredits { amount }
  lines { kind debits { amount } credits { amount } balance { amount } }
} }"""


def cny(amount: str) -> Money:
    return Money.parse(amount, "CNY")


async def _books(state: AppState, world: World) -> None:
    tenant = world.a.id
    actor = Actor(user_id=world.a.admin_user_id, client_id="test-console", tenant_id=tenant)
    async with open_session(state.sessions, DbScope(tenant_id=tenant)) as s:
        loans = [uuid.uuid4(), uuid.uuid4()]
        for n, loan in enumerate(loans):
            await service.open_loan_accounts(s, tenant_id=tenant, loan_id=loan, currency="CNY")
            await service.post(
                s,
                tenant_id=tenant,
                cause=EntryCause.DISBURSEMENT,
                idempotency_reference=f"disburse-{n}",
                value_date=date(2027, 3, 1),
                postings=[
                    debit(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), cny("100000.00")),
                    credit(AccountRef(K.SETTLEMENT_CASH), cny("98000.00")),
                    credit(AccountRef(K.FEE_INCOME, loan), cny("2000.00")),
                ],
                actor=actor,
            )
        await service.post(
            s,
            tenant_id=tenant,
            cause=EntryCause.REPAYMENT,
            idempotency_reference="repay-0",
            value_date=date(2027, 3, 15),
            postings=[
                debit(AccountRef(K.SETTLEMENT_CASH), cny("5000.00")),
                credit(AccountRef(K.PRINCIPAL_RECEIVABLE, loans[0]), cny("5000.00")),
            ],
            actor=actor,
        )
        await s.commit()


def _lines(body: dict) -> dict[str, tuple[str, str, str]]:
    (book,) = body["data"]["trialBalance"]
    return {
        line["kind"]: (
            line["debits"]["amount"],
            line["credits"]["amount"],
            line["balance"]["amount"],
        )
        for line in book["lines"]
    }


async def test_a_funder_admin_reads_its_books_by_account_kind(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    world = await seed_world(app_state)
    await _books(app_state, world)
    token = await access_token(client, world.a.admin_email, tenant=world.a.slug)

    body = (await gql(client, token, QUERY)).json()
    assert "errors" not in body, body
    (book,) = body["data"]["trialBalance"]
    # 200,000.00 + 5,000.00 debited; 196,000.00 + 4,000.00 + 5,000.00 credited.
    assert (book["currency"], book["balanced"]) == ("CNY", True)
    assert (book["totalDebits"]["amount"], book["totalCredits"]["amount"]) == (
        "205000.00",
        "205000.00",
    )
    assert _lines(body) == {
        "PRINCIPAL_RECEIVABLE": ("200000.00", "5000.00", "195000.00"),
        "FEE_INCOME": ("0.00", "4000.00", "4000.00"),
        # Debit-normal: 5,000.00 in, 196,000.00 paid out.
        "SETTLEMENT_CASH": ("5000.00", "196000.00", "-191000.00"),
    }

    # As of the 1st, the repayment of the 15th is not in the books.
    before = (await gql(client, token, QUERY, {"asOf": "2027-03-14"})).json()
    assert _lines(before)["PRINCIPAL_RECEIVABLE"] == ("200000.00", "0.00", "200000.00")

    # Naming its own funder is the same; naming another, or none that exists, is no books.
    own = (await gql(client, token, QUERY, {"funder": global_id("Tenant", world.a.id)})).json()
    assert own["data"] == body["data"]
    for other in (world.b.id, uuid.uuid4()):
        found = (await gql(client, token, QUERY, {"funder": global_id("Tenant", other)})).json()
        assert found == {"data": {"trialBalance": []}, "extensions": found["extensions"]}


async def test_another_funder_and_the_operator(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    world = await seed_world(app_state)
    await _books(app_state, world)
    b_admin = await access_token(client, world.b.admin_email, tenant=world.b.slug)
    a_books = {"funder": global_id("Tenant", world.a.id)}
    assert (await gql(client, b_admin, QUERY, a_books)).json()["data"]["trialBalance"] == []
    assert (await gql(client, b_admin, QUERY)).json()["data"]["trialBalance"] == []

    operator = await access_token(client, world.admin_email)
    body = (await gql(client, operator, QUERY, a_books)).json()
    assert _lines(body)["FEE_INCOME"] == ("0.00", "4000.00", "4000.00")
    # The operator names the funder.
    unnamed = (await gql(client, operator, QUERY)).json()
    assert unnamed["data"] is None
    assert unnamed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_staff_without_ledger_read_are_refused(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    world = await seed_world(app_state)
    await _books(app_state, world)
    reviewer = await access_token(client, world.a.reviewer_email, tenant=world.a.slug)
    body = (await gql(client, reviewer, QUERY)).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
