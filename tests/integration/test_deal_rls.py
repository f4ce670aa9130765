"""Row-level security on deals for the principals outside a tenant, checked against PostgreSQL
as the application role with settings bound by hand: a partner app (client and organization,
no user) sees and writes only its channel's deals, an applicant only its own, and neither can
put a deal into a state that is the funder's to decide or forge another channel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.products.models import ProductLine
from tests.deals_support import Market, apply, consumer_deal, market, pledge_deal

RLS_VIOLATION = "row-level security"


@asynccontextmanager
async def as_app(state: Any, **values: str) -> AsyncIterator[AsyncConnection]:
    """A transaction of the application role with these ``app.*`` settings, rolled back."""
    async with state.engine.connect() as conn:
        tx = await conn.begin()
        try:
            for name, value in values.items():
                await conn.execute(
                    text("select set_config(:n, :v, true)"), {"n": f"app.{name}", "v": value}
                )
            yield conn
        finally:
            if tx.is_active:
                await tx.rollback()


async def _ids(conn: AsyncConnection, sql: str) -> set[uuid.UUID]:
    return {r[0] for r in (await conn.execute(text(sql))).all()}


async def _deals(state: Any) -> tuple[Market, dict[str, uuid.UUID]]:
    m = await market(state)
    young = m.young.person_id
    deals = {
        "partner": (
            await apply(state, m.partner.actor(), **consumer_deal(m, applicant_person_id=young))
        ),
        "other_partner": (
            await apply(
                state, m.other_partner.actor(), **consumer_deal(m, "b", applicant_person_id=young)
            )
        ),
        "young": await apply(state, m.young.actor(), **consumer_deal(m)),
        "owner": await apply(state, m.chain.owner_user.actor(), **pledge_deal(m)),
    }
    return m, {k: v.deal.id for k, v in deals.items()}


def _partner(m: Market) -> dict[str, str]:
    return {
        "client_id": m.partner.credentials[0],
        "organization_id": str(m.partner.organization_id),
    }


async def test_a_partner_app_sees_only_its_channel(app_state) -> None:
    m, deals = await _deals(app_state)
    async with as_app(app_state, **_partner(m)) as conn:
        assert await _ids(conn, "select id from deals") == {deals["partner"]}
        # Its deal's timeline and applicant, and nothing of the audit log.
        assert await _ids(conn, "select deal_id from deal_events") == {deals["partner"]}
        assert await _ids(conn, "select id from persons") == {m.young.person_id}
        assert (await conn.execute(text("select count(*) from audit_log"))).scalar_one() == 0
    # The same client and organization with a user (a user's token through the partner's
    # client) sees none of the channel's deals.
    with_user = {**_partner(m), "user_id": str(m.young.user_id)}
    async with as_app(app_state, **with_user) as conn:
        assert await _ids(conn, "select id from deals") == set()
    # The right client of the wrong organization, or the reverse: nothing.
    for values in (
        {
            "client_id": m.partner.credentials[0],
            "organization_id": str(m.other_partner.organization_id),
        },
        {
            "client_id": m.other_partner.credentials[0],
            "organization_id": str(m.partner.organization_id),
        },
    ):
        async with as_app(app_state, **values) as conn:
            assert await _ids(conn, "select id from deals") == set()


async def test_an_applicant_sees_only_its_own(app_state) -> None:
    m, deals = await _deals(app_state)
    person = {"person_id": str(m.young.person_id), "user_id": str(m.young.user_id)}
    async with as_app(app_state, **person) as conn:
        assert await _ids(conn, "select id from deals") == {
            deals["partner"],
            deals["other_partner"],
            deals["young"],
        }
    owner = {
        "organization_id": str(m.chain.cargo_owner_id),
        "user_id": str(m.chain.owner_user.user_id),
    }
    async with as_app(app_state, **owner) as conn:
        assert await _ids(conn, "select id from deals") == {deals["owner"]}


@pytest.mark.parametrize(
    "status", ["FIRST_REVIEW", "RETURNED", "REJECTED", "APPROVED", "ACTIVE", "SETTLED"]
)
async def test_parties_cannot_decide_for_the_funder(app_state, owner_engine, status: str) -> None:
    """From SUBMITTED, an applicant's or a partner app's session cannot make any of the
    funder's decisions, even along an edge of the lifecycle (FIRST_REVIEW, RETURNED,
    REJECTED are edges from SUBMITTED or later; the rest are not edges at all)."""
    m, deals = await _deals(app_state)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update deals set status = 'SUBMITTED', submitted_at = now() where id = any(:d)"),
            {"d": [deals["young"], deals["partner"]]},
        )
    person = {"person_id": str(m.young.person_id), "user_id": str(m.young.user_id)}
    for values, deal in ((person, deals["young"]), (_partner(m), deals["partner"])):
        with pytest.raises(DBAPIError) as caught:
            async with as_app(app_state, **values) as conn:
                await conn.execute(
                    text("update deals set status = :s where id = :d"), {"s": status, "d": deal}
                )
        refused = str(caught.value)
        assert any(
            why in refused for why in (RLS_VIOLATION, "only the funder makes", "cannot become")
        ), refused
    # What they may do from here: withdraw.
    async with as_app(app_state, **person) as conn:
        result = await conn.execute(
            text("update deals set status = 'WITHDRAWN', withdrawn_at = now() where id = :d"),
            {"d": deals["young"]},
        )
        assert result.rowcount == 1


async def test_nobody_forges_another_channel(app_state) -> None:
    m, _ = await _deals(app_state)
    template = (
        "insert into deals (tenant_id, id, product_id, product_version, product_line, status,"
        " channel, channel_client_id, channel_organization_id, applicant_person_id, currency,"
        " amount_minor, term, term_unit, purpose) values (:t, :id, :p, 1, 'CONSUMER_CREDIT',"
        " 'DRAFT', :channel, :client, :org, :person, 'CNY', 500000, 12, 'MONTH', 'x')"
    )
    base = {
        "t": m.world.a.id,
        "p": m.product("a", ProductLine.CONSUMER_CREDIT),
        "person": m.young.person_id,
    }
    person = {
        "person_id": str(m.young.person_id),
        "user_id": str(m.young.user_id),
        "client_id": "test-console",
    }
    attempts = [
        # The applicant posing as a partner app's channel.
        (
            person,
            {
                "channel": "PARTNER_APP",
                "client": m.partner.credentials[0],
                "org": m.partner.organization_id,
            },
        ),
        # A partner app writing into another partner's channel.
        (
            _partner(m),
            {
                "channel": "PARTNER_APP",
                "client": m.other_partner.credentials[0],
                "org": m.other_partner.organization_id,
            },
        ),
        # A partner app posing as the applicant, or as the funder's app.
        (_partner(m), {"channel": "DIRECT", "client": m.partner.credentials[0], "org": None}),
        # The funder writing a DIRECT application.
        (
            {"tenant_id": str(m.world.a.id), "client_id": "svc-a"},
            {"channel": "DIRECT", "client": "svc-a", "org": None},
        ),
    ]
    for values, row in attempts:
        with pytest.raises(DBAPIError) as caught:
            async with as_app(app_state, **values) as conn:
                await conn.execute(text(template), {**base, **row, "id": uuid.uuid4()})
        assert RLS_VIOLATION in str(caught.value), (values, row)
    # Controls: each may write its own kind of application.
    controls = [
        (person, {"channel": "DIRECT", "client": "test-console", "org": None}),
        (
            _partner(m),
            {
                "channel": "PARTNER_APP",
                "client": m.partner.credentials[0],
                "org": m.partner.organization_id,
            },
        ),
        (
            {"tenant_id": str(m.world.a.id), "client_id": "svc-a"},
            {"channel": "FUNDER_APP", "client": "svc-a", "org": None},
        ),
    ]
    for values, row in controls:
        async with as_app(app_state, **values) as conn:
            result = await conn.execute(text(template), {**base, **row, "id": uuid.uuid4()})
            assert result.rowcount == 1, (values, row)
