"""The demo marketplace is what the README says: at each of the two funders, one deal of every
product line in each of the DRAFT, SUBMITTED and WITHDRAWN states, four purchase orders and
four warehouse receipts; a second run adds nothing."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text

from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE

LINES = ("CONSUMER_CREDIT", "ORDER_FINANCING", "WAREHOUSE_RECEIPT_PLEDGE")
STATES = ("DRAFT", "SUBMITTED", "WITHDRAWN")
FUNDERS = ("east-river-bank", "jade-capital")


async def _rows(engine, sql: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql))).all()]


async def test_demo_has_every_line_in_every_state_at_both_funders(app_state, owner_engine) -> None:
    from lendgraph import demo

    for expected in (True, False):
        async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
            assert await demo.seed(s, app_state.cipher) is expected
            await s.commit()

    deals = Counter(
        await _rows(
            owner_engine,
            "select t.slug, d.product_line, d.status from deals d"
            " join tenants t on t.id = d.tenant_id",
        )
    )
    # 2 funders x 3 lines x 3 states, one deal each: 18 deals.
    assert deals == Counter(
        {(f, line, state): 1 for f in FUNDERS for line in LINES for state in STATES}
    )
    assert sum(deals.values()) == 18

    channels = Counter(
        await _rows(
            owner_engine,
            "select t.slug, d.channel from deals d join tenants t on t.id = d.tenant_id",
        )
    )
    # The consumer deals: at each funder two through the partner app, one direct.
    for funder in FUNDERS:
        assert channels[(funder, "PARTNER_APP")] == 2
        assert channels[(funder, "DIRECT")] == 7

    orders = Counter(r[0] for r in await _rows(owner_engine, "select status from purchase_orders"))
    assert orders == {"CONFIRMED": 3, "PENDING_CONFIRMATION": 1}
    receipts = await _rows(owner_engine, "select number from warehouse_receipts order by 1")
    assert receipts == [("BLW-WR-0101",), ("BLW-WR-0102",), ("BLW-WR-0103",), ("BLW-WR-0104",)]

    # Only the submitted deals hold collateral: at each funder its order financing on one
    # order and its pledge on one receipt; the withdrawn pledge released its receipt.
    held = await _rows(
        owner_engine,
        "select t.slug, 'order', o.number from purchase_order_claims c"
        " join purchase_orders o on o.id = c.purchase_order_id"
        " join deals d on d.id = c.deal_id join tenants t on t.id = d.tenant_id"
        " where c.released_at is null"
        " union all"
        " select t.slug, 'receipt', r.number from receipt_claims c"
        " join warehouse_receipts r on r.id = c.receipt_id"
        " join deals d on d.id = c.deal_id join tenants t on t.id = d.tenant_id"
        " where c.released_at is null order by 1, 2",
    )
    assert held == [
        ("east-river-bank", "order", "HX-PO-0815"),
        ("east-river-bank", "receipt", "BLW-WR-0101"),
        ("jade-capital", "order", "HX-PO-0902"),
        ("jade-capital", "receipt", "BLW-WR-0103"),
    ]
    released = await _rows(
        owner_engine, "select count(*) from receipt_claims where released_at is not null"
    )
    assert released == [(1,)]
