"""The VALUATION integration call end to end: a submitted warehouse-receipt pledge, its
funder's recorded prices on PostgreSQL, and the sandbox price feed on a loopback port, run
by the integration-call service as a worker runs it (the funder's scope). Figures by hand.

The sandbox quotes (integrations/valuation/sandbox.py), per tonne in CNY: CU 71,230.00,
AL 19,420.00, RB 3,580.00; ``<CODE>-STALE`` as of ten days ago; XAU is not quoted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from domain.collateral import service as collateral_service
from domain.integration_calls import service as calls
from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import CallRequest, PermanentFailure, PortRegistry
from domain.integration_calls.service import Outcome
from domain.kernel.money import Money
from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope
from domain.risk.ports import RiskProviders
from domain.risk.valuation import ValuationPort, valuation_from_json
from integrations.risk import close_risk_providers
from integrations.sandboxes import SandboxServer
from tests.collateral_support import session_of
from tests.deals_support import Market, apply, consumer_deal, market, pledge_deal
from tests.integrations.conftest import HANG_SECONDS, SHORT_TIMEOUT, open_providers
from tests.jobs_support import RecordingQueue, calls_of, submit_with, tenant_uow
from workers.actors.integrations import backoff_ms


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(latency=0.0, hang_seconds=HANG_SECONDS) as server:
        yield server


@pytest.fixture
async def providers(sandbox: SandboxServer) -> AsyncIterator[RiskProviders]:
    opened = await open_providers(sandbox)
    yield opened
    await close_risk_providers(opened)


@pytest.fixture
async def impatient(sandbox: SandboxServer) -> AsyncIterator[RiskProviders]:
    opened = await open_providers(sandbox, provider_timeout_seconds=SHORT_TIMEOUT)
    yield opened
    await close_risk_providers(opened)


async def issue(
    app_state: Any,
    m: Market,
    number: str,
    *,
    code: str | None,
    quantity: str,
    unit: str = "t",
) -> uuid.UUID:
    """An issued receipt to the cargo owner, declared at 68,000.00 CNY a unit."""
    actor = m.chain.warehouse_user.actor()
    async with session_of(app_state, actor) as s:
        receipt = await collateral_service.issue_warehouse_receipt(
            s,
            actor,
            owner_organization_id=m.chain.cargo_owner_id,
            number=number,
            goods_description=f"goods {number}",
            quantity=Decimal(quantity),
            unit=unit,
            location="Shed 4",
            unit_price=Money.parse("68000.00", "CNY"),
            commodity_code=code,
        )
        await s.commit()
    return receipt.id


async def price(
    owner_engine: Any,
    tenant: uuid.UUID,
    code: str,
    amount: str,
    *,
    age: timedelta,
    unit: str = "t",
) -> uuid.UUID:
    """A funder's recorded price (CNY), ``age`` old."""
    pid = uuid.uuid4()
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "insert into commodity_prices (tenant_id, id, commodity_code, currency, unit,"
                " price_minor, as_of, source) values (:t, :id, :c, 'CNY', :u, :m, :at, 'desk')"
            ),
            {
                "t": tenant,
                "id": pid,
                "c": code,
                "u": unit,
                "m": Money.parse(amount, "CNY").amount_minor,
                "at": datetime.now(UTC) - age,
            },
        )
    return pid


async def submitted_pledge(  # type: ignore[no-untyped-def]
    app_state: Any,
    owner_engine: Any,
    m: Market,
    receipts: list[uuid.UUID],
    amount: str = "1000000.00",
):
    """Bank A's pledge of ``receipts`` by the cargo owner, submitted; its VALUATION call.
    (The amount must be within 63 % of the receipts' declared value: 0.9 x 0.70.)"""
    owner = m.chain.owner_user.actor()
    terms = pledge_deal(m, warehouse_receipt_ids=receipts, amount=Money.parse(amount, "CNY"))
    deal = (await apply(app_state, owner, **terms)).deal
    assert await submit_with(app_state, owner, deal.id, RecordingQueue()) == []
    row = next(c for c in await calls_of(owner_engine, deal.id) if c["kind"] == "VALUATION")
    return deal.id, row["id"]


async def run(app_state: Any, tenant: uuid.UUID, call_id: uuid.UUID, port: ValuationPort):  # type: ignore[no-untyped-def]
    registry = PortRegistry()
    registry.register(IntegrationKind.VALUATION, port)
    return await calls.run_call(
        tenant_uow(app_state, tenant, RecordingQueue()),
        registry,
        tenant_id=tenant,
        call_id=call_id,
        backoff_ms=backoff_ms,
    )


async def row_of(owner_engine: Any, call_id: uuid.UUID) -> dict[str, Any]:
    async with owner_engine.connect() as conn:
        found = await conn.execute(
            text("select * from integration_calls where id = :i"), {"i": call_id}
        )
        return dict(found.one()._mapping)


async def test_a_pledge_is_valued_line_by_line(
    app_state, owner_engine, providers: RiskProviders, sandbox: SandboxServer
) -> None:
    m = await market(app_state)
    a = m.world.a.id
    cu = await issue(app_state, m, "WR-V1", code="cu", quantity="120.5")
    al = await issue(app_state, m, "WR-V2", code="AL", quantity="10")
    xau = await issue(app_state, m, "WR-V3", code="XAU", quantity="1")
    rb = await issue(app_state, m, "WR-V4", code="RB", quantity="5000", unit="kg")
    stale = await issue(app_state, m, "WR-V5", code="A-STALE", quantity="2")
    bare = await issue(app_state, m, "WR-V6", code=None, quantity="3")
    # A's fresh copper price wins over the feed; its aluminium price is 9 days old, so the
    # feed prices aluminium. Bank B's fresh aluminium price is not A's.
    cu_price = await price(owner_engine, a, "CU", "3456.78", age=timedelta(days=1))
    await price(owner_engine, a, "AL", "18000.00", age=timedelta(days=9))
    await price(owner_engine, m.world.b.id, "AL", "1.00", age=timedelta(hours=1))
    deal, call_id = await submitted_pledge(
        app_state, owner_engine, m, [cu, al, xau, rb, stale, bare]
    )
    before = len(sandbox.log.entries())

    result = await run(
        app_state, a, call_id, ValuationPort(providers.price_feed, client_timeout=5.0)
    )

    assert result.outcome is Outcome.SUCCEEDED
    row = await row_of(owner_engine, call_id)
    assert (row["state"], row["attempts"], row["deal_id"]) == ("SUCCEEDED", 1, deal)
    stored = row["result"]
    # The feed was asked once for each commodity without a fresh funder price, never for CU.
    asked = sorted(e.path for e in sandbox.log.entries()[before:])
    assert asked == [
        "/prices/v1/quotes/A-STALE",
        "/prices/v1/quotes/AL",
        "/prices/v1/quotes/RB",
        "/prices/v1/quotes/XAU",
    ]
    lines = {line["number"]: line for line in stored["lines"]}
    # 120.5 t x 3,456.78 = 416,541.99 (the funder's price).
    assert lines["WR-V1"]["source"] == "FUNDER"
    assert lines["WR-V1"]["reference"] == str(cu_price)
    assert lines["WR-V1"]["unit_price"] == {"minor": 345678, "currency": "CNY"}
    assert lines["WR-V1"]["value"] == {"minor": 41654199, "currency": "CNY"}
    # 10 t x 19,420.00 = 194,200.00 (the feed's).
    assert lines["WR-V2"]["source"] == "FEED"
    assert lines["WR-V2"]["market"] == "SANDBOX-SHFE"
    assert lines["WR-V2"]["reference"].startswith("PQ-")
    assert lines["WR-V2"]["value"] == {"minor": 19420000, "currency": "CNY"}
    assert {n: lines[n]["reason"] for n in ("WR-V3", "WR-V4", "WR-V5", "WR-V6")} == {
        "WR-V3": "UNKNOWN_COMMODITY",
        "WR-V4": "UNIT_MISMATCH",  # priced per t, held in kg
        "WR-V5": "STALE_PRICE",  # quoted as of ten days ago
        "WR-V6": "NO_COMMODITY_CODE",
    }
    assert all(lines[n]["value"] is None for n in ("WR-V3", "WR-V4", "WR-V5", "WR-V6"))
    # 416,541.99 + 194,200.00 = 610,741.99; incomplete.
    assert stored["total"] == {"minor": 61074199, "currency": "CNY"}
    assert stored["complete"] is False
    assert [line["receipt_id"] for line in stored["lines"]] == [
        str(r) for r in (cu, al, xau, rb, stale, bare)
    ]
    assert valuation_from_json(stored).total == Money.parse("610741.99", "CNY")


async def test_a_pledge_priced_by_the_feed_alone_is_complete(
    app_state, owner_engine, providers: RiskProviders
) -> None:
    m = await market(app_state)
    a = m.world.a.id
    # seed_world's receipt has no commodity code; this one is copper.
    receipt = await issue(app_state, m, "WR-F1", code="CU", quantity="25.5")
    # A stale price of A's and a per-kg one do not count; the feed prices it.
    await price(owner_engine, a, "CU", "60000.00", age=timedelta(days=8))
    await price(owner_engine, a, "CU", "60.00", age=timedelta(hours=1), unit="kg")
    _, call_id = await submitted_pledge(app_state, owner_engine, m, [receipt])
    result = await run(
        app_state, a, call_id, ValuationPort(providers.price_feed, client_timeout=5.0)
    )
    assert result.outcome is Outcome.SUCCEEDED
    stored = (await row_of(owner_engine, call_id))["result"]
    # 25.5 t x 71,230.00 = 1,780,750.00 + 35,615.00 = 1,816,365.00.
    assert stored["total"] == {"minor": 181636500, "currency": "CNY"}
    assert stored["complete"] is True
    assert [line["source"] for line in stored["lines"]] == ["FEED"]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("CU-TIMEOUT", "ProviderTimeout"),
        ("CU-UNAVAILABLE", "ProviderUnavailable"),
        ("CU-MALFORMED", "MalformedAnswer"),
    ],
)
async def test_feed_failures_are_retried(
    app_state, owner_engine, impatient: RiskProviders, code: str, error: str
) -> None:
    m = await market(app_state)
    a = m.world.a.id
    receipt = await issue(app_state, m, "WR-T1", code=code, quantity="1")
    _, call_id = await submitted_pledge(app_state, owner_engine, m, [receipt], "40000.00")
    port = ValuationPort(impatient.price_feed, client_timeout=SHORT_TIMEOUT)
    result = await run(app_state, a, call_id, port)
    assert (result.outcome, result.attempt, result.retry_in_ms) == (Outcome.RETRY, 1, 2_000)
    row = await row_of(owner_engine, call_id)
    assert (row["state"], row["attempts"], row["result"]) == ("PENDING", 1, None)
    assert row["last_error"].startswith(f"{error}:"), row["last_error"]


async def test_prepare_refuses_what_is_not_a_pledge_of_the_funder(
    app_state, owner_engine, providers: RiskProviders
) -> None:
    m = await market(app_state)
    a = m.world.a.id
    consumer = (await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id
    port = ValuationPort(providers.price_feed, client_timeout=5.0)

    def request(tenant: uuid.UUID, deal: uuid.UUID) -> CallRequest:
        return CallRequest(
            tenant_id=tenant,
            deal_id=deal,
            call_id=uuid.uuid4(),
            kind=IntegrationKind.VALUATION,
            idempotency_reference=uuid.uuid4(),
            attempt=1,
        )

    async with open_session(app_state.sessions, DbScope(tenant_id=a)) as s:
        with pytest.raises(PermanentFailure, match="only a warehouse-receipt pledge"):
            await port.prepare(s, request(a, consumer))
    receipt = await issue(app_state, m, "WR-P1", code="CU", quantity="1")
    pledge, _ = await submitted_pledge(app_state, owner_engine, m, [receipt], "40000.00")
    # Bank B's scope sees neither A's deal nor its receipts.
    b = m.world.b.id
    async with open_session(app_state.sessions, DbScope(tenant_id=b)) as s:
        with pytest.raises(PermanentFailure, match="not visible to its funder"):
            await port.prepare(s, request(b, pledge))
    # A's scope reads the receipt and its prices.
    await price(owner_engine, a, "CU", "70000.00", age=timedelta(days=2))
    async with open_session(app_state.sessions, DbScope(tenant_id=a)) as s:
        inputs = await port.prepare(s, request(a, pledge))
    assert inputs["currency"] == "CNY"
    assert [(r.receipt_id, r.commodity_code, r.quantity, r.unit) for r in inputs["receipts"]] == [
        (receipt, "CU", Decimal("1.000000"), "t")
    ]
    assert [(p.commodity_code, p.price) for p in inputs["funder_prices"]] == [
        ("CU", Money.parse("70000.00", "CNY"))
    ]
