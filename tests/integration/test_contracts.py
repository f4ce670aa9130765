"""Contracts of approved deals on PostgreSQL: version 1 written from the approved terms and its
PDF stored under its SHA-256, the same terms returning it, changed terms voiding it for
version 2, the refusals (a deal not approved, an approval lapsed, a value date in the past,
another funder, no contracts:write), the tripartite order-financing contract and the pledge's
receipts, and the database's own rules (one current version, a void version stays void).

The world (tests/deals_support.py): bank A's consumer product lends at 12 % a year in equal
instalments, no fee, late penalty 0.05 % a day after 3 days, prepayment penalty 2 %; its
order-financing product is interest-only and its pledge product a bullet on ACT/365. Value
dates are in 2030, so that they are never before today."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.contracts.mutations import contract_renderer
from domain.contracts import service
from domain.contracts.service import ContractOutcome
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.kernel.scopes import Role, scopes_for_roles
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.reviews import service as reviews
from domain.reviews.models import ReviewDecision
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tests.collateral_support import session_of, tenant_session
from tests.deals_support import (
    Market,
    apply,
    consumer_deal,
    market,
    order_deal,
    pledge_deal,
    resident_id,
    submit,
)
from tests.support import PASSWORD

VALUE_DATE = date(2030, 1, 15)


def _actor(user_id: uuid.UUID, tenant_id: uuid.UUID, *roles: Role) -> Actor:
    return Actor(
        user_id=user_id,
        client_id="test-console",
        tenant_id=tenant_id,
        scopes=frozenset(s.value for s in scopes_for_roles(set(roles))),
        roles=frozenset(roles),
    )


class World:
    """The market, bank A's two reviewers and admin, and bank B's admin."""

    def __init__(self, m: Market, first: Actor, second: Actor) -> None:
        self.m = m
        self.first = first
        self.second = second
        self.admin = _actor(m.world.a.admin_user_id, m.world.a.id, Role.FUNDER_ADMIN)
        self.b_admin = _actor(m.world.b.admin_user_id, m.world.b.id, Role.FUNDER_ADMIN)


async def make_world(app_state: Any) -> World:
    """The market and bank A's reviewers (first@ and second@contracts.test)."""
    m = await market(app_state)
    made = {}
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        for name, role in (("first", Role.FIRST_REVIEWER), ("second", Role.SECOND_REVIEWER)):
            created = await tenant_service.create_user(
                s,
                SEEDER,
                email=f"{name}@contracts.test",
                display_name=name,
                roles=[role.value],
                tenant_id=m.world.a.id,
                password=PASSWORD,
            )
            made[name] = _actor(created.user.id, m.world.a.id, role)
        await s.commit()
    return World(m, made["first"], made["second"])


@pytest.fixture
async def world(app_state: Any) -> World:
    return await make_world(app_state)


async def in_first_review(state: Any, w: World, actor: Actor, kw: dict[str, Any]) -> uuid.UUID:
    """Applied for and submitted by ``actor``, then moved to FIRST_REVIEW with its first
    review opened (intake's step, which has no use case yet)."""
    deal_id = (await apply(state, actor, **kw)).deal.id
    outcome, errors = await submit(state, actor, deal_id)
    assert outcome is not None, errors
    async with tenant_session(state, w.m.world.a.id) as s:
        deal = await deals_repository.deal(s, deal_id, for_update=True)
        assert deal is not None and deal.status is DealStatus.SUBMITTED
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await reviews.open_first_review(s, deal)
        await s.commit()
    return deal_id


async def approve(state: Any, w: World, deal_id: uuid.UUID, **terms: Any) -> None:
    """The first reviewer, then the second (on ``terms``, by default as requested)."""
    async with session_of(state, w.first) as s:
        await reviews.decide_first_review(
            s, w.first, deal_id=deal_id, decision=ReviewDecision.APPROVE, notes="ok"
        )
        await s.commit()
    async with session_of(state, w.second) as s:
        await reviews.decide_second_review(
            s, w.second, deal_id=deal_id, decision=ReviewDecision.APPROVE, notes="ok", **terms
        )
        await s.commit()


async def approved_consumer(state: Any, w: World, **terms: Any) -> uuid.UUID:
    """The young borrower's 100,000.00 over 12 months, approved (as requested by default)."""
    kw = consumer_deal(w.m, amount=Money.parse("100000.00", "CNY"))
    deal_id = await in_first_review(state, w, w.m.young.actor(), kw)
    await approve(state, w, deal_id, **terms)
    return deal_id


async def _prepare(
    state: Any, actor: Actor, deal_id: uuid.UUID, value_date: date | None = VALUE_DATE
) -> ContractOutcome:
    async with session_of(state, actor) as s:
        outcome = await service.prepare_contract(
            s,
            actor,
            deal_id=deal_id,
            renderer=contract_renderer(),
            store=state.storage,
            cipher=state.cipher,
            value_date=value_date,
        )
        await s.commit()
    return outcome


async def _refused(state: Any, actor: Actor, deal_id: uuid.UUID, **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await _prepare(state, actor, deal_id, **kw)
    return caught.value


async def _rows(owner: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


async def _contracts(owner: AsyncEngine, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return await _rows(
        owner,
        "select version, status, void_reason, voided_at is not null, sha256, document_key"
        " from contracts where deal_id = :d order by version",
        d=deal_id,
    )


async def _stored(state: Any, key: str) -> bytes:
    return b"".join([chunk async for chunk in state.storage.open(key)])


def _text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    text_ = "\n".join(page.get_textpage().get_text_range() for page in document)
    return text_.replace("\r", "").replace("\n", "")


def _amounts(terms: dict[str, Any], column: str) -> list[str]:
    return [Money(line[column]["minor"], "CNY").to_decimal_string() for line in terms["schedule"]]


# -- version 1 ------------------------------------------------------------------------------------


async def test_an_approved_consumer_deal_gets_version_1_with_its_pdf_stored(
    app_state, owner_engine, world
) -> None:
    deal_id = await approved_consumer(app_state, world)
    outcome = await _prepare(app_state, world.admin, deal_id)
    assert outcome.created is True and outcome.voided is None
    contract = outcome.contract
    assert (contract.version, contract.status.value) == (1, "DRAFT")
    assert contract.created_by == world.m.world.a.admin_user_id

    # The PDF is in the store under its SHA-256, which the row keeps.
    pdf = await _stored(app_state, contract.document_key)
    assert hashlib.sha256(pdf).hexdigest() == contract.sha256 == contract.document_key
    assert pdf.startswith(b"%PDF-")
    assert contract.pages >= 1 and len(pdfium.PdfDocument(pdf)) == contract.pages
    body = _text(pdf)
    # The borrower by name and (decrypted) resident ID, and the funder.
    assert "Wang Fang" in body
    assert resident_id("19900307") in body
    assert "Bank A" in body

    # 100,000.00 at 12 % over 12 months, equal instalments: 1 % a month, payment
    # 1,000 / (1 - 1.01^-12) = 8,884.88, the last 8,884.85; interest 1,000.00 then 921.15.
    terms = contract.terms
    assert terms["amount"] == {"currency": "CNY", "minor": 10_000_000}
    assert terms["annual_rate"] == "0.12"
    assert (terms["term"], terms["term_unit"]) == (12, "MONTH")
    assert terms["repayment_method"] == "EQUAL_INSTALLMENT"
    assert _amounts(terms, "total") == ["8884.88"] * 11 + ["8884.85"]
    assert _amounts(terms, "interest")[:2] == ["1000.00", "921.15"]
    assert _amounts(terms, "principal")[0] == "7884.88"
    assert [line["due_date"] for line in terms["schedule"]][::11] == ["2030-02-15", "2031-01-15"]
    # No fee; the product's penalties.
    assert terms["origination_fee"] == {"currency": "CNY", "minor": 0}
    assert terms["late_penalty"] == {"daily_rate": "0.0005", "grace_days": 3}
    assert terms["prepayment_penalty_rate"] == "0.02"
    assert terms["parties"]["borrower"]["name"] == "Wang Fang"
    # The funder by its unified social credit code, as onboarded.
    assert terms["parties"]["funder"] == {"name": "Bank A", "id_number": "91110000MA01ABCD2Q"}
    assert "91110000MA01ABCD2Q" in body
    assert terms["parties"]["core_enterprise"] is None
    assert terms["pledged_receipts"] == []
    assert terms["version"] == 1

    # An audit row; the deal itself is still APPROVED, its timeline unchanged.
    audit = await _rows(
        owner_engine,
        "select action, object_id, tenant_id from audit_log where action = 'contract.prepare'",
    )
    assert audit == [("contract.prepare", str(contract.id), world.m.world.a.id)]
    status = await _rows(owner_engine, "select status from deals where id = :d", d=deal_id)
    assert status == [("APPROVED",)]


async def test_the_approved_terms_not_the_request_are_contracted(
    app_state, owner_engine, world
) -> None:
    # Approved 50,000.00 of the 100,000.00 asked: 1 % a month on 50,000.00 is 500.00; the
    # payment 500 / (1 - 1.01^-12) = 4,442.44, so the first principal is 3,942.44.
    deal_id = await approved_consumer(app_state, world, amount=Money.parse("50000.00", "CNY"))
    terms = (await _prepare(app_state, world.admin, deal_id)).contract.terms
    assert terms["amount"] == {"currency": "CNY", "minor": 5_000_000}
    assert _amounts(terms, "interest")[0] == "500.00"
    assert _amounts(terms, "principal")[0] == "3942.44"
    assert _amounts(terms, "total")[:11] == ["4442.44"] * 11
    assert sum(line["principal"]["minor"] for line in terms["schedule"]) == 5_000_000


async def test_preparing_again_with_the_same_terms_returns_version_1(
    app_state, owner_engine, world
) -> None:
    deal_id = await approved_consumer(app_state, world)
    first = await _prepare(app_state, world.admin, deal_id)
    again = await _prepare(app_state, world.admin, deal_id)
    assert again.created is False
    assert again.contract.id == first.contract.id
    assert await _contracts(owner_engine, deal_id) == [
        (1, "DRAFT", None, False, first.contract.sha256, first.contract.sha256)
    ]
    audit = await _rows(
        owner_engine, "select count(*) from audit_log where action = :a", a="contract.prepare"
    )
    assert audit == [(1,)]


async def test_a_changed_term_voids_version_1_for_version_2(app_state, owner_engine, world) -> None:
    deal_id = await approved_consumer(app_state, world)
    first = await _prepare(app_state, world.admin, deal_id)
    # A month later: every due date moves, so the schedule (a term) changes.
    second = await _prepare(app_state, world.admin, deal_id, value_date=date(2030, 2, 15))
    assert second.created is True
    assert second.voided is not None and second.voided.id == first.contract.id
    assert second.contract.version == 2
    assert second.contract.terms_digest != first.contract.terms_digest
    assert second.contract.terms["schedule"][0]["due_date"] == "2030-03-15"
    rows = await _contracts(owner_engine, deal_id)
    assert [r[:4] for r in rows] == [
        (1, "VOID", "terms changed", True),
        (2, "DRAFT", None, False),
    ]
    # Both PDFs are kept: version 1's is what was voided.
    for version, _, _, _, sha, key in rows:
        assert hashlib.sha256(await _stored(app_state, key)).hexdigest() == sha, version
    # The first value date again is a change too: version 3, version 2 void.
    third = await _prepare(app_state, world.admin, deal_id)
    assert third.contract.version == 3
    assert third.contract.terms_digest == first.contract.terms_digest
    assert [r[:2] for r in await _contracts(owner_engine, deal_id)] == [
        (1, "VOID"),
        (2, "VOID"),
        (3, "DRAFT"),
    ]


# -- refusals -------------------------------------------------------------------------------------


async def test_a_deal_not_approved_has_no_contract(app_state, owner_engine, world) -> None:
    kw = consumer_deal(world.m, amount=Money.parse("100000.00", "CNY"))
    deal_id = await in_first_review(app_state, world, world.m.young.actor(), kw)
    error = await _refused(app_state, world.admin, deal_id)
    assert (error.code, error.field) == (ErrorCode.INVALID_TRANSITION, "dealId")
    assert await _contracts(owner_engine, deal_id) == []


async def test_a_lapsed_approval_has_no_contract(app_state, owner_engine, world) -> None:
    # The sweep has not run yet (the deal is still APPROVED), but the approval has lapsed.
    deal_id = await approved_consumer(app_state, world)
    async with owner_engine.begin() as conn:
        # Below the triggers, as the owner: a decided review never changes otherwise.
        await conn.execute(text("set local session_replication_role = replica"))
        await conn.execute(
            text(
                "update deal_reviews set expires_at = now() - interval '1 minute'"
                " where deal_id = :d and stage = 'SECOND'"
            ),
            {"d": deal_id},
        )
    error = await _refused(app_state, world.admin, deal_id)
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert "expired" in error.message
    assert await _contracts(owner_engine, deal_id) == []


async def test_a_value_date_in_the_past_is_refused(app_state, owner_engine, world) -> None:
    deal_id = await approved_consumer(app_state, world)
    error = await _refused(app_state, world.admin, deal_id, value_date=date(2020, 1, 15))
    assert (error.code, error.field) == (ErrorCode.INVALID, "valueDate")
    assert await _contracts(owner_engine, deal_id) == []


async def test_a_funder_without_a_registration_number_gets_no_contract(
    app_state, owner_engine, world
) -> None:
    deal_id = await approved_consumer(app_state, world)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update tenants set registration_number = null where id = :t"),
            {"t": world.m.world.a.id},
        )
    error = await _refused(app_state, world.admin, deal_id)
    assert (error.code, error.field) == (ErrorCode.FUNDER_NOT_REGISTERED, "dealId")
    assert await _contracts(owner_engine, deal_id) == []


async def test_another_funders_staff_find_no_deal(app_state, owner_engine, world) -> None:
    deal_id = await approved_consumer(app_state, world)
    error = await _refused(app_state, world.b_admin, deal_id)
    assert (error.code, error.field) == (ErrorCode.NOT_FOUND, "dealId")
    # The unknown deal reads the same.
    unknown = await _refused(app_state, world.b_admin, uuid.uuid4())
    assert (unknown.code, unknown.message) == (error.code, error.message)
    assert await _contracts(owner_engine, deal_id) == []


async def test_without_contracts_write_nothing_is_prepared(app_state, owner_engine, world) -> None:
    # A first reviewer reads the deal but writes no contract.
    deal_id = await approved_consumer(app_state, world)
    error = await _refused(app_state, world.first, deal_id)
    assert error.code is ErrorCode.FORBIDDEN
    assert await _contracts(owner_engine, deal_id) == []


# -- the other product lines ----------------------------------------------------------------------


async def test_an_order_financing_contract_names_the_core_enterprise(
    app_state, owner_engine, world
) -> None:
    seller = world.m.chain.seller_user.actor()
    deal_id = await in_first_review(app_state, world, seller, order_deal(world.m))
    await approve(app_state, world, deal_id)
    contract = (await _prepare(app_state, world.admin, deal_id)).contract
    parties = contract.terms["parties"]
    assert parties["core_enterprise"] == {"name": "Core Co", "id_number": "91110000600037341L"}
    assert parties["borrower"] == {"name": "Trader Co", "id_number": "91330200MA2H1Y5X3X"}
    # 800,000.00 interest-only over 3 months at 12 %: 8,000.00 a month, the principal last.
    assert _amounts(contract.terms, "total") == ["8000.00", "8000.00", "808000.00"]
    body = _text(await _stored(app_state, contract.document_key))
    assert "Core Co" in body and "91110000600037341L" in body
    assert "Party C (Core enterprise)" in body


async def test_a_pledge_contract_lists_the_receipts(app_state, owner_engine, world) -> None:
    owner = world.m.chain.owner_user.actor()
    deal_id = await in_first_review(app_state, world, owner, pledge_deal(world.m))
    await approve(app_state, world, deal_id)
    contract = (await _prepare(app_state, world.admin, deal_id)).contract
    assert contract.terms["pledged_receipts"] == [
        {"number": "WR-0001", "goods": "Copper cathode, grade A", "quantity": "25.5", "unit": "t"}
    ]
    assert contract.terms["parties"]["core_enterprise"] is None
    # 1,000,000.00 for 90 days at 12 % on ACT/365: 1,000,000 x 0.12 x 90 / 365 = 29,589.04.
    assert _amounts(contract.terms, "interest") == ["29589.04"]
    assert contract.terms["schedule"][0]["due_date"] == "2030-04-15"
    body = _text(await _stored(app_state, contract.document_key))
    assert "WR-0001" in body and "Copper cathode, grade A" in body


# -- the database's rules -------------------------------------------------------------------------


async def test_the_database_keeps_one_current_version_and_void_stays_void(
    app_state, owner_engine, world
) -> None:
    deal_id = await approved_consumer(app_state, world)
    first = (await _prepare(app_state, world.admin, deal_id)).contract
    insert = text(
        "insert into contracts (tenant_id, id, deal_id, version, status, terms_digest, sha256,"
        " document_key, pages, terms) select tenant_id, :id, deal_id, 9, 'DRAFT', terms_digest,"
        " sha256, document_key, pages, terms from contracts where id = :c"
    )
    async with session_of(app_state, world.admin) as s:
        with pytest.raises(DBAPIError, match="uq_contracts_current"):
            await s.execute(insert, {"id": uuid.uuid4(), "c": first.id})
    await _prepare(app_state, world.admin, deal_id, value_date=date(2030, 2, 15))
    async with session_of(app_state, world.admin) as s:
        with pytest.raises(DBAPIError, match="void contract stays void"):
            await s.execute(
                text(
                    "update contracts set status = 'DRAFT', voided_at = null,"
                    " void_reason = null where id = :c"
                ),
                {"c": first.id},
            )
    assert [r[:2] for r in await _contracts(owner_engine, deal_id)] == [(1, "VOID"), (2, "DRAFT")]
