"""Writing an ID never widens what a session reads (DESIGN.md section 5), checked against
PostgreSQL as the application role with the scope bound by hand: every column of a deal, an
order or a receipt that names another party is refused by the database unless the writer has
a recorded relationship with that party (or is that party), and a deal's claims and request
change only through the transitions that allow it."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.collateral import service as collateral_service
from domain.kernel.money import Money
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products.models import ProductLine
from lendgraph.demo import SEEDER
from tests.collateral_support import issue_receipt, session_of, social_credit_code
from tests.deals_support import (
    Market,
    apply,
    confirm_order,
    market,
    order_deal,
    pledge_deal,
    resident_id,
    submit,
)
from tests.integration.test_deal_rls import as_app

INSERT_DEAL = (
    "insert into deals (tenant_id, id, product_id, product_version, product_line, status,"
    " channel, channel_client_id, channel_organization_id, applicant_person_id,"
    " applicant_organization_id, currency, amount_minor, term, term_unit, purpose,"
    " purchase_order_id, warehouse_receipt_ids) values (:t, :id, :p, 1, :line, 'DRAFT',"
    " :channel, :client, :channel_org, :person, :org, 'CNY', 500000, :term, :unit, 'x', :po,"
    " cast(:receipts as uuid[]))"
)


def _refused(caught: pytest.ExceptionInfo[DBAPIError], *why: str) -> None:
    message = str(caught.value)
    assert any(w in message for w in why), message


async def _stranger(m: Market) -> uuid.UUID:
    """A person nobody in the market acts for: Li Wei, registered by the operator."""
    return m.world.person_id


def _deal_row(m: Market, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "t": m.world.a.id,
        "id": uuid.uuid4(),
        "p": m.product("a", ProductLine.CONSUMER_CREDIT),
        "line": "CONSUMER_CREDIT",
        "channel": "PARTNER_APP",
        "client": m.partner.credentials[0],
        "channel_org": m.partner.organization_id,
        "person": m.young.person_id,
        "org": None,
        "term": 12,
        "unit": "MONTH",
        "po": None,
        "receipts": [],
    }
    row.update(kw)
    return row


def _partner(m: Market) -> dict[str, str]:
    return {
        "client_id": m.partner.credentials[0],
        "organization_id": str(m.partner.organization_id),
    }


async def _insert(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(text(INSERT_DEAL), row)


# -- deals: the applicant -------------------------------------------------------------------------


async def test_a_partner_app_applies_only_for_parties_it_acts_for(app_state) -> None:
    m = await market(app_state)
    stranger = await _stranger(m)
    # Control: the young borrower onboarded with (authorised) the partner.
    async with as_app(app_state, **_partner(m)) as conn:
        await _insert(conn, _deal_row(m))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **_partner(m)) as conn:
            await _insert(conn, _deal_row(m, person=stranger))
    _refused(caught, "ck_deals_applicant_agent", "does not act for")
    # A revoked relationship no longer counts.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await party_service.revoke_agent(
            s,
            SEEDER,
            agent=party_service.Agent(organization_id=m.partner.organization_id),
            party=party_service.Party(person_id=m.young.person_id),
        )
        await s.commit()
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **_partner(m)) as conn:
            await _insert(conn, _deal_row(m))
    _refused(caught, "does not act for")


async def test_a_funders_app_applies_only_for_its_customers(app_state) -> None:
    m = await market(app_state)
    funder = {"tenant_id": str(m.world.a.id), "client_id": "svc-a"}
    row = {"channel": "FUNDER_APP", "client": "svc-a", "channel_org": None}
    async with as_app(app_state, **funder) as conn:
        await _insert(conn, _deal_row(m, **row))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **funder) as conn:
            await _insert(conn, _deal_row(m, **row, person=await _stranger(m)))
    _refused(caught, "does not act for")


async def test_an_applicant_applies_only_for_itself(app_state) -> None:
    m = await market(app_state)
    young = {"person_id": str(m.young.person_id), "user_id": str(m.young.user_id)}
    row = {"channel": "DIRECT", "client": "test-console", "channel_org": None}
    async with as_app(app_state, **young, client_id="test-console") as conn:
        await _insert(conn, _deal_row(m, **row))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **young, client_id="test-console") as conn:
            await _insert(conn, _deal_row(m, **row, person=await _stranger(m)))
    _refused(caught, "row-level security")


# -- deals: the collateral ------------------------------------------------------------------------


async def _foreign_order(app_state, m: Market) -> uuid.UUID:
    """A confirmed order of another seller than the market's trading company."""
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        seller = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.TRADE_ENTERPRISE,
            name="Other Trader",
            social_credit_code=social_credit_code(77),
        )
        await s.commit()
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        order = await collateral_service.create_purchase_order(
            s,
            SEEDER,
            seller_organization_id=seller.id,
            buyer_organization_id=m.world.core_enterprise_id,
            number="PO-FOREIGN",
            amount=Money.parse("900000.00", "CNY"),
            issue_date=date(2026, 12, 1),
            due_date=date(2027, 3, 1),
        )
        await s.commit()
    await confirm_order(app_state, m.chain, order.id)
    return order.id


async def test_an_order_deal_names_only_an_order_of_its_applicant(app_state) -> None:
    m = await market(app_state)
    foreign = await _foreign_order(app_state, m)
    seller = {
        "organization_id": str(m.world.borrower_org_id),
        "user_id": str(m.chain.seller_user.user_id),
        "client_id": "test-console",
    }
    row = {
        "p": m.product("a", ProductLine.ORDER_FINANCING),
        "line": "ORDER_FINANCING",
        "channel": "DIRECT",
        "client": "test-console",
        "channel_org": None,
        "person": None,
        "org": m.world.borrower_org_id,
        "term": 3,
    }
    async with as_app(app_state, **seller) as conn:
        await _insert(conn, _deal_row(m, **row, po=m.order))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **seller) as conn:
            await _insert(conn, _deal_row(m, **row, po=foreign))
    _refused(caught, "ck_deals_order_seller", "another seller")
    # Nor by editing a draft.
    draft = await apply(app_state, m.chain.seller_user.actor(), **order_deal(m))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **seller) as conn:
            await conn.execute(
                text("update deals set purchase_order_id = :po where id = :d"),
                {"po": foreign, "d": draft.deal.id},
            )
    _refused(caught, "another seller")


async def test_a_pledge_names_only_receipts_of_its_applicant(app_state) -> None:
    m = await market(app_state)
    owner = {
        "organization_id": str(m.chain.cargo_owner_id),
        "user_id": str(m.chain.owner_user.user_id),
        "client_id": "test-console",
    }
    # A receipt of another cargo owner, which the warehouse stores goods for too.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        other = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.CARGO_OWNER,
            name="Other Cargo",
            social_credit_code=social_credit_code(78),
        )
        await party_service.authorize_agent(
            s,
            SEEDER,
            agent=party_service.Agent(organization_id=m.chain.warehouse_id),
            party=party_service.Party(organization_id=other.id),
        )
        await s.commit()
    foreign = await issue_receipt(app_state, m.chain, "WR-FOREIGN", owner_id=other.id)
    row = {
        "p": m.product("a", ProductLine.WAREHOUSE_RECEIPT_PLEDGE),
        "line": "WAREHOUSE_RECEIPT_PLEDGE",
        "channel": "DIRECT",
        "client": "test-console",
        "channel_org": None,
        "person": None,
        "org": m.chain.cargo_owner_id,
        "term": 90,
        "unit": "DAY",
    }
    async with as_app(app_state, **owner) as conn:
        await _insert(conn, _deal_row(m, **row, receipts=[m.receipt]))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **owner) as conn:
            await _insert(conn, _deal_row(m, **row, receipts=[m.receipt, foreign]))
    _refused(caught, "ck_deals_receipt_owner", "another owner")
    draft = await apply(app_state, m.chain.owner_user.actor(), **pledge_deal(m))
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **owner) as conn:
            await conn.execute(
                text(
                    "update deals set warehouse_receipt_ids = array[cast(:r as uuid)] where id = :d"
                ),
                {"r": foreign, "d": draft.deal.id},
            )
    _refused(caught, "another owner")


# -- the supply chain -----------------------------------------------------------------------------


async def test_a_warehouse_issues_receipts_only_to_owners_it_stores_for(app_state) -> None:
    m = await market(app_state)
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        stranger = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.CARGO_OWNER,
            name="Unrelated Cargo",
            social_credit_code=social_credit_code(79),
        )
        await s.commit()
    warehouse = {
        "organization_id": str(m.chain.warehouse_id),
        "user_id": str(m.chain.warehouse_user.user_id),
    }
    insert = text(
        "insert into warehouse_receipts (id, warehouse_organization_id, owner_organization_id,"
        " number, goods_description, quantity, unit, location, currency, unit_price_minor,"
        " status, issued_by_user_id) values (gen_random_uuid(), :w, :o, :n, 'zinc', 1, 't',"
        " 'A1', 'CNY', 100, 'ISSUED', :u)"
    )
    params = {"w": m.chain.warehouse_id, "u": m.chain.warehouse_user.user_id}
    async with as_app(app_state, **warehouse) as conn:
        await conn.execute(insert, {**params, "o": m.chain.cargo_owner_id, "n": "WR-OK"})
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **warehouse) as conn:
            await conn.execute(insert, {**params, "o": stranger.id, "n": "WR-NO"})
    _refused(caught, "ck_warehouse_receipts_storage", "does not store goods")
    # And the warehouse does not see that owner, either.
    async with as_app(app_state, **warehouse) as conn:
        seen = await conn.execute(
            text("select id from organizations where id = :o"), {"o": stranger.id}
        )
        assert seen.all() == []


async def test_a_partner_submits_orders_only_for_sellers_it_acts_for(app_state) -> None:
    m = await market(app_state)
    insert = text(
        "insert into purchase_orders (id, seller_organization_id, buyer_organization_id,"
        " submitted_by_organization_id, number, currency, amount_minor, issue_date, due_date,"
        " status) values (gen_random_uuid(), :s, :b, :p, :n, 'CNY', 100000, current_date,"
        " current_date + 30, 'PENDING_CONFIRMATION')"
    )
    common = {"b": m.world.core_enterprise_id}
    # The first partner acts for the trading company; the other partner does not.
    async with as_app(app_state, **_partner(m)) as conn:
        await conn.execute(
            insert,
            {**common, "s": m.world.borrower_org_id, "p": m.partner.organization_id, "n": "P1"},
        )
    other = {
        "client_id": m.other_partner.credentials[0],
        "organization_id": str(m.other_partner.organization_id),
    }
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **other) as conn:
            await conn.execute(
                insert,
                {
                    **common,
                    "s": m.world.borrower_org_id,
                    "p": m.other_partner.organization_id,
                    "n": "P2",
                },
            )
    _refused(caught, "ck_purchase_orders_submitter_agent", "does not act for the seller")


# -- claims and requests follow the lifecycle -----------------------------------------------------


async def _submitted_pledge(app_state, m: Market) -> uuid.UUID:
    draft = await apply(app_state, m.chain.owner_user.actor(), **pledge_deal(m))
    outcome, errors = await submit(app_state, m.chain.owner_user.actor(), draft.deal.id)
    assert outcome is not None, errors
    return draft.deal.id


async def test_an_applicant_cannot_release_a_live_deals_claim_or_change_its_request(
    app_state, owner_engine
) -> None:
    m = await market(app_state)
    deal = await _submitted_pledge(app_state, m)
    owner = {
        "organization_id": str(m.chain.cargo_owner_id),
        "user_id": str(m.chain.owner_user.user_id),
        "client_id": "test-console",
    }
    for sql, why in (
        (
            "update receipt_claims set released_at = now() where deal_id = :d",
            ("ck_receipt_claims_release_with_deal", "only when its deal lets go"),
        ),
        (
            "update deals set amount_minor = 1 where id = :d",
            ("request and collateral cannot change",),
        ),
        (
            "update deals set warehouse_receipt_ids = '{}' where id = :d",
            ("request and collateral",),
        ),
        ("update deals set term = 30 where id = :d", ("cannot change",)),
        ("update deals set status = 'DRAFT' where id = :d", ("cannot become",)),
    ):
        with pytest.raises(DBAPIError) as caught:
            async with as_app(app_state, **owner) as conn:
                await conn.execute(text(sql), {"d": deal})
        _refused(caught, *why)
    # Ending the deal without letting go of the receipt is refused when it commits.
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **owner) as conn:
            await conn.execute(
                text("update deals set status = 'WITHDRAWN', withdrawn_at = now() where id = :d"),
                {"d": deal},
            )
            await conn.commit()
    _refused(caught, "ck_deals_ended_released", "still holds collateral")
    async with owner_engine.connect() as conn:
        live = await conn.execute(
            text("select count(*) from receipt_claims where deal_id = :d and released_at is null"),
            {"d": deal},
        )
        assert live.scalar_one() == 1
        status = await conn.execute(text("select status from deals where id = :d"), {"d": deal})
        assert status.scalar_one() == "SUBMITTED"
    # The transition and the release together: allowed.
    async with as_app(app_state, **owner) as conn:
        await conn.execute(
            text("update deals set status = 'WITHDRAWN', withdrawn_at = now() where id = :d"),
            {"d": deal},
        )
        released = await conn.execute(
            text("update receipt_claims set released_at = now() where deal_id = :d"), {"d": deal}
        )
        assert released.rowcount == 1
        await conn.commit()


async def test_writing_an_unrelated_id_reveals_nothing(app_state) -> None:
    """The refused writes above are the only way a session could have widened its reads:
    the partner does not see a person it has no relationship with, before or after."""
    m = await market(app_state)
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        person = await party_service.create_person(
            s,
            SEEDER,
            app_state.cipher,
            full_name="Zhou Yi",
            resident_id=resident_id("19880808", 3),
            phone=None,
        )
        await s.commit()
    async with as_app(app_state, **_partner(m)) as conn:
        before = (
            await conn.execute(text("select id from persons where id = :p"), {"p": person.id})
        ).all()
    assert before == []
    with pytest.raises(DBAPIError):
        async with as_app(app_state, **_partner(m)) as conn:
            await _insert(conn, _deal_row(m, person=person.id))
    async with as_app(app_state, **_partner(m)) as conn:
        after = (
            await conn.execute(text("select id from persons where id = :p"), {"p": person.id})
        ).all()
    assert after == []
    # Once the person authorises the partner, it sees them.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await party_service.authorize_agent(
            s,
            SEEDER,
            agent=party_service.Agent(organization_id=m.partner.organization_id),
            party=party_service.Party(person_id=person.id),
        )
        await s.commit()
    async with as_app(app_state, **_partner(m)) as conn:
        now = (
            await conn.execute(text("select id from persons where id = :p"), {"p": person.id})
        ).all()
    assert [r[0] for r in now] == [person.id]


async def test_a_partner_app_onboards_a_person_and_then_acts_for_them(app_state) -> None:
    m = await market(app_state)
    partner = m.partner.actor()
    async with session_of(app_state, partner) as s:
        person = await party_service.create_person(
            s,
            partner,
            app_state.cipher,
            full_name="Qian Lin",
            resident_id=resident_id("19930101", 4),
            phone=None,
        )
        await s.commit()
    async with as_app(app_state, **_partner(m)) as conn:
        rows = (
            await conn.execute(
                text(
                    "select kind, granted_by, agent_organization_id from party_agents"
                    " where person_id = :p"
                ),
                {"p": person.id},
            )
        ).all()
        assert [tuple(r) for r in rows] == [("ACTS_FOR", "ONBOARDING", m.partner.organization_id)]
        await _insert(conn, _deal_row(m, person=person.id))
    # The other partner neither sees the person nor applies for them.
    other = {
        "client_id": m.other_partner.credentials[0],
        "organization_id": str(m.other_partner.organization_id),
    }
    async with as_app(app_state, **other) as conn:
        seen = await conn.execute(text("select id from persons where id = :p"), {"p": person.id})
        assert seen.all() == []
