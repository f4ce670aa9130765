"""A funder's commodity prices over GraphQL and on PostgreSQL: recordCommodityPrice and its
refusals, the commodityPrices connection (newest first, per commodity, paged), the funder's
prices hidden from another funder by row-level security (as the application role), and the
warehouse receipt's commodity code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope
from domain.prices import repository
from tests.collateral_support import supply_chain
from tests.support import access_token, global_id, gql, seed_world

RECORD = """
mutation ($input: RecordCommodityPriceInput!) {
  recordCommodityPrice(input: $input) {
    commodityPrice { commodityCode price { amount currency } unit asOf source recordedAt }
    userErrors { field code message }
  }
}
"""

PRICES = """
query ($first: Int!, $after: String, $code: String) {
  commodityPrices(first: $first, after: $after, commodityCode: $code) {
    edges { cursor node { commodityCode price { amount currency } unit asOf source } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def price_input(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "commodityCode": "cu",
        "price": {"amount": "3456.78", "currency": "CNY"},
        "unit": "t",
        "asOf": (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat(),
        "source": "Desk quote",
    }
    value.update(overrides)
    return value


async def record(client: httpx.AsyncClient, token: str, **overrides: Any) -> dict[str, Any]:
    response = await gql(client, token, RECORD, {"input": price_input(**overrides)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"]["recordCommodityPrice"])


async def page(client: httpx.AsyncClient, token: str, **variables: Any) -> dict[str, Any]:
    response = await gql(client, token, PRICES, {"first": 10, **variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"]["commodityPrices"])


async def test_a_funder_admin_records_a_price(client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    as_of = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    out = await record(client, token, asOf=as_of.isoformat(), commodityCode=" cu ")
    assert out["userErrors"] == []
    price = out["commodityPrice"]
    assert price["commodityCode"] == "CU"  # upper-cased
    assert price["price"] == {"amount": "3456.78", "currency": "CNY"}
    assert (price["unit"], price["source"]) == ("t", "Desk quote")
    assert datetime.fromisoformat(price["asOf"]) == as_of
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "select tenant_id, commodity_code, currency, unit, price_minor, as_of,"
                    " source, created_by_user_id from commodity_prices"
                )
            )
        ).one()
        audit = (
            await conn.execute(
                text("select tenant_id from audit_log where action = 'commodity_price.record'")
            )
        ).all()
        events = (
            await conn.execute(
                text("select tenant_id from events where type = 'commodity_price.recorded'")
            )
        ).all()
    assert tuple(row) == (
        world.a.id,
        "CU",
        "CNY",
        "t",
        345678,
        as_of,
        "Desk quote",
        world.a.admin_user_id,
    )
    assert [r[0] for r in audit] == [world.a.id]
    assert [r[0] for r in events] == [world.a.id]


async def test_refusals_are_typed_and_write_nothing(client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    cases = [
        ({"commodityCode": "C U"}, [("commodityCode", "INVALID")]),
        ({"commodityCode": "X" * 33}, [("commodityCode", "TOO_LONG")]),
        (
            {"price": {"amount": "1.00", "currency": "XXY"}},
            [("price.currency", "INVALID_CURRENCY")],
        ),
        ({"price": {"amount": "1.001", "currency": "CNY"}}, [("price.amount", "INVALID_AMOUNT")]),
        ({"price": {"amount": "0.00", "currency": "CNY"}}, [("price", "INVALID_AMOUNT")]),
        ({"price": {"amount": "-5.00", "currency": "CNY"}}, [("price", "INVALID_AMOUNT")]),
        ({"asOf": future}, [("asOf", "INVALID_DATE_RANGE")]),
        ({"unit": " ", "source": ""}, [("unit", "REQUIRED"), ("source", "REQUIRED")]),
        ({"unit": "x" * 17}, [("unit", "TOO_LONG")]),
    ]
    for overrides, expected in cases:
        out = await record(client, token, **overrides)
        assert out["commodityPrice"] is None, overrides
        assert [(e["field"], e["code"]) for e in out["userErrors"]] == expected, overrides
    async with owner_engine.connect() as conn:
        count = (await conn.execute(text("select count(*) from commodity_prices"))).scalar_one()
    assert count == 0


async def test_a_second_price_for_the_same_moment_is_a_duplicate(client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    as_of = "2026-12-01T08:00:00+08:00"
    assert (await record(client, token, asOf=as_of))["userErrors"] == []
    again = await record(client, token, asOf=as_of, price={"amount": "3500.00", "currency": "CNY"})
    assert again["commodityPrice"] is None
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("asOf", "DUPLICATE")]
    # Another unit or currency at the same moment is another price.
    assert (await record(client, token, asOf=as_of, unit="kg"))["userErrors"] == []
    other_currency = {"amount": "480.00", "currency": "USD"}
    assert (await record(client, token, asOf=as_of, price=other_currency))["userErrors"] == []


async def test_a_reviewer_reads_prices_but_cannot_record(client, app_state) -> None:
    world = await seed_world(app_state)
    admin = await access_token(client, world.a.admin_email)
    await record(client, admin)
    reviewer = await access_token(client, world.a.reviewer_email)
    response = await gql(client, reviewer, RECORD, {"input": price_input()})
    body = response.json()
    assert (body.get("data") or {}).get("recordCommodityPrice") is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["message"] == "Requires the products:write scope"
    listed = await page(client, reviewer)
    assert [e["node"]["commodityCode"] for e in listed["edges"]] == ["CU"]


async def test_prices_are_listed_newest_first_by_commodity_and_paged(client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    base = datetime(2026, 11, 20, tzinfo=UTC)
    for days, code, amount in (
        (0, "CU", "70000.00"),
        (2, "AL", "19000.00"),
        (1, "CU", "71000.00"),
        (3, "CU", "72000.00"),
    ):
        out = await record(
            client,
            token,
            commodityCode=code,
            asOf=(base + timedelta(days=days)).isoformat(),
            price={"amount": amount, "currency": "CNY"},
        )
        assert out["userErrors"] == []
    everything = await page(client, token)
    assert [
        (e["node"]["commodityCode"], e["node"]["price"]["amount"]) for e in everything["edges"]
    ] == [
        ("CU", "72000.00"),
        ("AL", "19000.00"),
        ("CU", "71000.00"),
        ("CU", "70000.00"),
    ]
    first = await page(client, token, first=2, code="cu")
    assert [e["node"]["price"]["amount"] for e in first["edges"]] == ["72000.00", "71000.00"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await page(client, token, first=2, code="CU", after=first["pageInfo"]["endCursor"])
    assert [e["node"]["price"]["amount"] for e in rest["edges"]] == ["70000.00"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_another_funder_sees_none_of_the_prices(
    client, app_state, owner_engine, settings
) -> None:
    world = await seed_world(app_state)
    a_token = await access_token(client, world.a.admin_email)
    assert (await record(client, a_token))["userErrors"] == []
    b_token = await access_token(client, world.b.admin_email)
    assert (await page(client, b_token))["edges"] == []

    # Below the API, as the application role in B's scope: no row of A's, even by name.
    async with open_session(app_state.sessions, DbScope(tenant_id=world.b.id)) as s:
        role = (await s.execute(text("select current_user"))).scalar_one()
        assert role == settings.app_db_role
        count = (await s.execute(text("select count(*) from commodity_prices"))).scalar_one()
        assert count == 0
        latest = await repository.latest_prices(
            s, tenant_id=world.a.id, currency="CNY", commodity_codes={"CU"}
        )
        assert latest == []
    # A's own scope sees its price.
    async with open_session(app_state.sessions, DbScope(tenant_id=world.a.id)) as s:
        latest = await repository.latest_prices(
            s, tenant_id=world.a.id, currency="CNY", commodity_codes={"CU"}
        )
        assert [(p.commodity_code, p.price_minor) for p in latest] == [("CU", 345678)]
    # And B cannot write a price into A's tenant.
    async with open_session(app_state.sessions, DbScope(tenant_id=world.b.id)) as s:
        try:
            await s.execute(
                text(
                    "insert into commodity_prices (tenant_id, id, commodity_code, currency, unit,"
                    " price_minor, as_of, source) values (:t, :id, 'CU', 'CNY', 't', 1, now(),"
                    " 'forged')"
                ),
                {"t": world.a.id, "id": uuid.uuid4()},
            )
        except Exception as exc:  # the database's refusal is what is tested
            assert "row-level security" in str(exc)
        else:
            raise AssertionError("B wrote a price into A's tenant")
    # Prices are append-only for the application role.
    async with open_session(app_state.sessions, DbScope(tenant_id=world.a.id)) as s:
        for statement in (
            "update commodity_prices set price_minor = 1",
            "delete from commodity_prices",
        ):
            try:
                async with s.begin_nested():
                    await s.execute(text(statement))
            except Exception as exc:
                assert "permission denied" in str(exc)
            else:
                raise AssertionError(f"{statement} was allowed")


async def test_latest_prices_are_per_commodity_and_unit_in_the_currency(
    app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        ("CU", "CNY", "t", 7000000, now - timedelta(days=3)),
        ("CU", "CNY", "t", 7100000, now - timedelta(days=1)),
        ("CU", "CNY", "kg", 7100, now - timedelta(days=2)),
        ("CU", "USD", "t", 980000, now),
        ("AL", "CNY", "t", 1940000, now - timedelta(days=9)),
        ("RB", "CNY", "t", 358000, now),
    ]
    async with owner_engine.begin() as conn:
        for code, currency, unit, minor, as_of in rows:
            await conn.execute(
                text(
                    "insert into commodity_prices (tenant_id, id, commodity_code, currency, unit,"
                    " price_minor, as_of, source) values (:t, :id, :c, :cur, :u, :m, :at, 'x')"
                ),
                {
                    "t": world.a.id,
                    "id": uuid.uuid4(),
                    "c": code,
                    "cur": currency,
                    "u": unit,
                    "m": minor,
                    "at": as_of,
                },
            )
    async with open_session(app_state.sessions, DbScope(tenant_id=world.a.id)) as s:
        latest = await repository.latest_prices(
            s, tenant_id=world.a.id, currency="CNY", commodity_codes={"CU", "AL"}
        )
    # Stale or not is the valuation rule's call: the latest of each pair is returned.
    assert sorted((p.commodity_code, p.unit, p.price_minor) for p in latest) == [
        ("AL", "t", 1940000),
        ("CU", "kg", 7100),
        ("CU", "t", 7100000),
    ]


ISSUE = """
mutation ($input: IssueWarehouseReceiptInput!) {
  issueWarehouseReceipt(input: $input) {
    warehouseReceipt { number commodityCode }
    userErrors { field code }
  }
}
"""


async def test_a_receipt_carries_its_commodity_code(client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    token = await access_token(client, chain.warehouse_user.email)

    def receipt(number: str, **extra: Any) -> dict[str, Any]:
        return {
            "input": {
                "ownerId": global_id("Organization", chain.cargo_owner_id),
                "number": number,
                "goodsDescription": "Copper cathode",
                "quantity": "120.5",
                "unit": "t",
                "location": "Shed 1",
                "unitPrice": {"amount": "68000.00", "currency": "CNY"},
                **extra,
            }
        }

    issued = await gql(client, token, ISSUE, receipt("WR-CODE-1", commodityCode=" cu "))
    assert issued.json()["data"]["issueWarehouseReceipt"] == {
        "warehouseReceipt": {"number": "WR-CODE-1", "commodityCode": "CU"},
        "userErrors": [],
    }
    without = await gql(client, token, ISSUE, receipt("WR-CODE-2"))
    assert without.json()["data"]["issueWarehouseReceipt"]["warehouseReceipt"] == {
        "number": "WR-CODE-2",
        "commodityCode": None,
    }
    bad = await gql(client, token, ISSUE, receipt("WR-CODE-3", commodityCode="CU/AL"))
    assert bad.json()["data"]["issueWarehouseReceipt"] == {
        "warehouseReceipt": None,
        "userErrors": [{"field": "commodityCode", "code": "INVALID"}],
    }
    async with owner_engine.connect() as conn:
        codes = dict(
            (
                await conn.execute(text("select number, commodity_code from warehouse_receipts"))
            ).all()
        )
    assert codes == {"WR-CODE-1": "CU", "WR-CODE-2": None}
