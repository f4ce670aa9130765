"""From approval to a funded loan, per product line, with every step on its real path: the
funder's staff call the served API over HTTP (prepareContract, sendContractForSigning,
disburse); the API's jobs go to RabbitMQ, where a real `lendgraph worker` process wired with
the production e-signature and payment-rail clients creates the envelope and requests the
payout from the sandbox services; the sandboxes call the served app back over HTTP with signed
callbacks (every signature in, then the payout settled). A pledge's receipt is filed at the
sandbox pledge registry by the worker and its custody confirmed by the warehouse before the
disbursement. The deal goes APPROVED -> SIGNING -> SIGNED -> DISBURSING -> ACTIVE; the
loan's schedule and the ledger's lines are checked against figures worked out by hand, each
with its withheld origination fee.

Set-up with the use cases: the application, its submission and both reviews (the review path
over HTTP is tests/workers/test_review_flow.py); each line gets a product of bank A with an
origination fee."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from api.app import build_state, create_app
from domain.kernel.money import Money
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products.models import FeeKind, ProductLine
from domain.products.policy import OriginationFee
from integrations.sandboxes import LoopbackServer, SandboxServer
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tests.deals_support import consumer_deal, order_deal, pledge_deal, publish
from tests.disbursement_support import ACCOUNT, BANK, ledger_lines, rows
from tests.integration.test_contracts import World, approve, in_first_review, make_world
from tests.products_support import cny, consumer_terms, order_terms, warehouse_terms
from tests.support import PASSWORD, access_token, global_id, gql
from tests.workers.conftest import Worker, until

FINANCE = "finance@lifecycle.test"
#: The value date every contract and loan starts from (a Tuesday; no holiday in its months).
VALUE_DATE = date(2030, 1, 15)

PREPARE = """
mutation($dealId: DealID!, $valueDate: Date) {
  prepareContract(input: {dealId: $dealId, valueDate: $valueDate}) {
    contract { version status } userErrors { code field message } } }"""
SEND = """
mutation($dealId: DealID!) { sendContractForSigning(input: {dealId: $dealId}) {
  deal { status } contract { status } userErrors { code field message } } }"""
CONFIRM_CUSTODY = """
mutation($receipt: WarehouseReceiptID!) {
  confirmPledgeCustody(input: {warehouseReceiptId: $receipt}) {
    pledge { status filingNumber } userErrors { code field message } } }"""
DISBURSE = """
mutation($input: DisburseInput!) { disburse(input: $input) {
  deal { status } payout { state amount { amount } fee { amount } netAmount { amount } }
  userErrors { code field message } } }"""
READ = """
query($id: ID!) { node(id: $id) { ... on Deal {
  status
  contract { version status signers { role order status } }
  pledges { status filingNumber }
  loan {
    status principal { amount currency } fee { amount } valueDate maturityDate
    schedule { number dueDate principal { amount } interest { amount } total { amount }
               closingBalance { amount } }
    balances { kind balance { amount } }
  }
  timeline { action fromStatus toStatus }
} } }"""


@dataclass(frozen=True)
class Line:
    """What a line lends and what the hand-worked figures of its loan are."""

    line: ProductLine
    amount: str
    fee: OriginationFee
    #: The fee withheld and the net paid out, by hand.
    fee_amount: str
    net: str
    maturity: date
    signers: list[str]
    #: (number, due date, principal, interest, total, closing balance) of some lines.
    schedule: list[tuple[int, str, str, str, str, str]]
    lines: int


LINES = {
    # 50,000.00 at 12 % over 12 months, equal instalments: 1 % a month, payment
    # 50,000 x 0.01 / (1 - 1.01^-12) = 4,442.439... -> 4,442.44; first month's interest
    # 500.00, principal 3,942.44, balance 46,057.56. Fee 1.5 % x 50,000.00 = 750.00.
    ProductLine.CONSUMER_CREDIT: Line(
        ProductLine.CONSUMER_CREDIT,
        "50000.00",
        OriginationFee(kind=FeeKind.PERCENT, rate=Decimal("0.015")),
        "750.00",
        "49250.00",
        date(2031, 1, 15),
        ["BORROWER", "FUNDER"],
        [(1, "2030-02-15", "3942.44", "500.00", "4442.44", "46057.56")],
        12,
    ),
    # 800,000.00 at 12 % over 3 months, interest only: 8,000.00 a month, the principal with
    # the last. Flat fee 800.00 (a product's flat fee stays under its smallest loan, 1,000.00).
    ProductLine.ORDER_FINANCING: Line(
        ProductLine.ORDER_FINANCING,
        "800000.00",
        OriginationFee(kind=FeeKind.FLAT, flat=cny("800.00")),
        "800.00",
        "799200.00",
        date(2030, 4, 15),
        ["BORROWER", "CORE_ENTERPRISE", "FUNDER"],
        [
            (1, "2030-02-15", "0.00", "8000.00", "8000.00", "800000.00"),
            (2, "2030-03-15", "0.00", "8000.00", "8000.00", "800000.00"),
            (3, "2030-04-15", "800000.00", "8000.00", "808000.00", "0.00"),
        ],
        3,
    ),
    # 1,000,000.00 at 12 % for 90 days, bullet, actual/365: interest
    # 1,000,000 x 0.12 x 90 / 365 = 29,589.041... -> 29,589.04; due 2030-01-15 + 90 days =
    # 2030-04-15. Fee 0.5 % x 1,000,000.00 = 5,000.00.
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE: Line(
        ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
        "1000000.00",
        OriginationFee(kind=FeeKind.PERCENT, rate=Decimal("0.005")),
        "5000.00",
        "995000.00",
        date(2030, 4, 15),
        ["BORROWER", "FUNDER"],
        [(1, "2030-04-15", "1000000.00", "29589.04", "1029589.04", "0.00")],
        1,
    ),
}


def _minor(amount: str) -> int:
    """Fen of a yuan amount written with two decimals."""
    yuan, fen = amount.split(".")
    return int(yuan) * 100 + int(fen)


@dataclass
class Served:
    sandbox: SandboxServer
    base_url: str


@contextmanager
def served(settings: Any, rabbitmq_url: str) -> Iterator[Served]:
    """The sandbox services and the app they call back, the app sending its jobs to
    RabbitMQ and verifying both providers' callbacks with their secrets."""
    with SandboxServer(latency=0.0, callback_backoff=0.2, callback_attempts=8) as sandbox:
        app_settings = settings.model_copy(
            update={
                "broker_url": rabbitmq_url,
                "esign_callback_secret": SecretStr(sandbox.callback_secret.decode()),
                "payments_callback_secret": SecretStr(sandbox.payouts.callback_secret),
            }
        )
        state = build_state(app_settings)
        try:
            with LoopbackServer(create_app(app_settings, state=state)) as app:
                yield Served(sandbox, app.base_url)
        finally:
            state.engine.sync_engine.dispose(close=False)


async def _call(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    body = (await gql(client, token, query, variables)).json()
    assert "errors" not in body, body
    return body["data"]


async def _applied(app_state: Any, w: World, line: Line) -> uuid.UUID:
    """The line's application on bank A's product with the fee, approved as requested."""
    m = w.m
    amount = {"max_amount": cny("2000000.00"), "origination_fee": line.fee}
    if line.line is ProductLine.CONSUMER_CREDIT:
        terms, applicant = consumer_terms(origination_fee=line.fee), m.young.actor()
        kw = consumer_deal(m)
    elif line.line is ProductLine.ORDER_FINANCING:
        terms = order_terms([m.world.core_enterprise_id], **amount)
        applicant, kw = m.chain.seller_user.actor(), order_deal(m)
    else:
        terms = warehouse_terms([m.chain.warehouse_id], **amount)
        applicant, kw = m.chain.owner_user.actor(), pledge_deal(m)
    kw["product_id"] = await publish(app_state, m.world.a.id, line.line, terms)
    kw["amount"] = Money.parse(line.amount, "CNY")
    deal_id = await in_first_review(app_state, w, applicant, kw)
    await approve(app_state, w, deal_id)
    return deal_id


async def _finance_officer(app_state: Any, w: World) -> None:
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_user(
            s,
            SEEDER,
            email=FINANCE,
            display_name="Finance",
            roles=["FINANCE_OFFICER"],
            tenant_id=w.m.world.a.id,
            password=PASSWORD,
        )
        await s.commit()


async def _pledge(
    client: httpx.AsyncClient, owner_engine: Any, w: World, deal_id: uuid.UUID, worker: Worker
) -> None:
    """The signed pledge deal's receipt: filed at the registry by the worker (the signing
    asked for it), then custody confirmed by the warehouse over HTTP. Before the filing, the
    warehouse cannot confirm; before the confirmation, the deal cannot be disbursed (both
    refusals: tests/integration/test_pledges.py)."""

    async def filed() -> bool:
        found = await rows(owner_engine, "select status from pledges where deal_id = :d", d=deal_id)
        return found == [("REGISTERED",)]

    await until("the pledge is filed at the registry", filed, worker)
    chain = w.m.chain
    warehouse = await access_token(client, chain.warehouse_user.email)
    confirmed = await _call(
        client, warehouse, CONFIRM_CUSTODY, receipt=global_id("WarehouseReceipt", w.m.receipt)
    )
    payload = confirmed["confirmPledgeCustody"]
    assert payload["userErrors"] == [] and payload["pledge"]["status"] == "CUSTODY_CONFIRMED"
    assert payload["pledge"]["filingNumber"]


def _status(owner_engine: Any, deal_id: uuid.UUID, wanted: str) -> Any:
    async def check() -> bool:
        found = await rows(owner_engine, "select status from deals where id = :d", d=deal_id)
        return found == [(wanted,)]

    return check


@pytest.fixture
def running(settings: Any, rabbitmq_url: str, worker: Worker) -> Iterator[tuple[Served, Worker]]:
    """The served app and sandboxes, and a worker with the production ports pointed at them."""
    with served(settings, rabbitmq_url) as app:
        worker.use_sandboxes(app.sandbox, settings, app_url=app.base_url)
        worker.start(recording=False)
        yield app, worker


@pytest.mark.parametrize("product_line", list(LINES), ids=[p.value for p in LINES])
async def test_an_approved_deal_becomes_an_active_loan(
    app_state, owner_engine, running, product_line
) -> None:
    line = LINES[product_line]
    app, worker = running
    w = await make_world(app_state)
    await _finance_officer(app_state, w)
    deal_id = await _applied(app_state, w, line)
    deal_gid = global_id("Deal", deal_id)

    async with httpx.AsyncClient(base_url=app.base_url, timeout=30) as client:
        slug = w.m.world.a.slug
        admin = await access_token(client, w.m.world.a.admin_email, tenant=slug)
        finance = await access_token(client, FINANCE, tenant=slug)

        prepared = await _call(
            client, admin, PREPARE, dealId=deal_gid, valueDate=VALUE_DATE.isoformat()
        )
        assert prepared["prepareContract"] == {
            "contract": {"version": 1, "status": "DRAFT"},
            "userErrors": [],
        }
        sent = await _call(client, admin, SEND, dealId=deal_gid)
        assert sent["sendContractForSigning"] == {
            "deal": {"status": "SIGNING"},
            "contract": {"status": "SENT"},
            "userErrors": [],
        }
        # The worker creates the envelope; the service calls back as each signer signs.
        await until("every signature is in", _status(owner_engine, deal_id, "SIGNED"), worker)
        if line.line is ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
            await _pledge(client, owner_engine, w, deal_id, worker)

        disbursed = await _call(
            client,
            finance,
            DISBURSE,
            input={
                "dealId": deal_gid,
                "idempotencyKey": f"lifecycle-{line.line.value}",
                "beneficiary": {
                    "name": "Borrower Account",
                    "accountNumber": ACCOUNT,
                    "bankCode": BANK,
                },
                "valueDate": VALUE_DATE.isoformat(),
                "amount": {"amount": line.amount, "currency": "CNY"},
            },
        )
        assert disbursed["disburse"] == {
            "deal": {"status": "DISBURSING"},
            "payout": {
                "state": "REQUESTED",
                "amount": {"amount": line.amount},
                "fee": {"amount": line.fee_amount},
                "netAmount": {"amount": line.net},
            },
            "userErrors": [],
        }
        # The worker asks the rail; the rail's settlement callback activates the loan.
        await until("the loan is active", _status(owner_engine, deal_id, "ACTIVE"), worker)
        seen = (await _call(client, finance, READ, id=deal_gid))["node"]

    # The rail paid the net amount, once, under the payout's ID.
    [(payout_id, net)] = await rows(
        owner_engine, "select id, net_minor from payouts where deal_id = :d", d=deal_id
    )
    (record,) = app.sandbox.payouts.payouts(str(payout_id))
    assert record.amount == Money(_minor(line.net), "CNY")
    assert net == _minor(line.net)

    assert seen["status"] == "ACTIVE"
    pledged = line.line is ProductLine.WAREHOUSE_RECEIPT_PLEDGE
    assert [p["status"] for p in seen["pledges"]] == (["CUSTODY_CONFIRMED"] if pledged else [])
    assert seen["contract"]["status"] == "SIGNED"
    assert [(s["role"], s["status"]) for s in seen["contract"]["signers"]] == [
        (role, "SIGNED") for role in line.signers
    ]
    loan = seen["loan"]
    assert (loan["status"], loan["principal"], loan["fee"]) == (
        "ACTIVE",
        {"amount": line.amount, "currency": "CNY"},
        {"amount": line.fee_amount},
    )
    assert (loan["valueDate"], loan["maturityDate"]) == (
        VALUE_DATE.isoformat(),
        line.maturity.isoformat(),
    )
    assert len(loan["schedule"]) == line.lines
    by_number = {i["number"]: i for i in loan["schedule"]}
    for number, due, principal, interest, total, closing in line.schedule:
        got = by_number[number]
        assert (
            got["dueDate"],
            got["principal"]["amount"],
            got["interest"]["amount"],
            got["total"]["amount"],
            got["closingBalance"]["amount"],
        ) == (due, principal, interest, total, closing)
    assert sum(_minor(i["principal"]["amount"]) for i in loan["schedule"]) == _minor(line.amount)

    # The ledger: one balanced entry, the principal lent against the cash paid out and the fee
    # earned, and the loan's principal receivable equal to the amount lent.
    assert await ledger_lines(owner_engine, w.m.world.a.id) == [
        (f"payout:{payout_id}", "DISBURSEMENT", "PRINCIPAL_RECEIVABLE", _minor(line.amount)),
        (f"payout:{payout_id}", "DISBURSEMENT", "SETTLEMENT_CASH", -_minor(line.net)),
        (f"payout:{payout_id}", "DISBURSEMENT", "FEE_INCOME", -_minor(line.fee_amount)),
    ]
    balances = {b["kind"]: b["balance"]["amount"] for b in loan["balances"]}
    assert balances["PRINCIPAL_RECEIVABLE"] == line.amount

    assert [
        (e["action"], e["fromStatus"], e["toStatus"])
        for e in seen["timeline"]
        if e["action"] not in ("deal.create", "deal.submit")
    ][-4:] == [
        ("deal.send_for_signing", "APPROVED", "SIGNING"),
        ("deal.sign", "SIGNING", "SIGNED"),
        ("deal.disburse", "SIGNED", "DISBURSING"),
        ("deal.activate", "DISBURSING", "ACTIVE"),
    ]
    async with owner_engine.connect() as conn:
        unbalanced = await conn.scalar(
            text(
                "select count(*) from (select entry_id from journal_lines group by entry_id"
                " having sum(amount_minor) <> 0) x"
            )
        )
    assert unbalanced == 0
