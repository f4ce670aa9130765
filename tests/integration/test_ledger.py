"""The ledger on PostgreSQL, as the application role: posting, balances as of a date,
reversals, idempotency (concurrent posts included), the trial balance, and what the database
refuses whoever asks (an unbalanced or one-line entry at commit, a line in another currency
than its account, a line added to a posted entry, a reversal that is not its original
negated, any UPDATE or DELETE), and another tenant's ledger out of sight and out of reach.

Figures by hand. The disbursement withholds its fee: the borrower owes the whole 100,000.00,
the funder pays out 98,000.00 and earns the 2,000.00 fee at once (Dr principal receivable
100,000.00; Cr settlement cash 98,000.00; Cr fee income 2,000.00), so no fee receivable is
left to collect. Settlement cash is debit-normal: money paid out shows as a negative balance
until repayments bring it back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from domain.kernel.actor import Actor
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.ledger import service
from domain.ledger.models import AccountKind, EntryCause, Side
from domain.ledger.policy import AccountRef, Posting, credit, debit
from domain.persistence.constraints import Violation, violation_of
from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope
from tests.support import World, seed_world, wait_until_blocked

K = AccountKind
MARCH_1 = date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money.parse(amount, "CNY")


def actor_of(world: World) -> Actor:
    return Actor(user_id=world.a.admin_user_id, client_id="test-console", tenant_id=world.a.id)


@asynccontextmanager
async def scoped(state: AppState, tenant: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """A session of the application role in ``tenant``'s scope (the caller commits)."""
    async with open_session(state.sessions, DbScope(tenant_id=tenant)) as session:
        yield session


def disbursement(loan: uuid.UUID) -> list[Posting]:
    return [
        debit(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), cny("100000.00")),
        credit(AccountRef(K.SETTLEMENT_CASH), cny("98000.00")),
        credit(AccountRef(K.FEE_INCOME, loan), cny("2000.00")),
    ]


def repayment(loan: uuid.UUID, amount: str) -> list[Posting]:
    return [
        debit(AccountRef(K.SETTLEMENT_CASH), cny(amount)),
        credit(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), cny(amount)),
    ]


async def open_loan(state: AppState, world: World) -> uuid.UUID:
    loan = uuid.uuid4()
    async with scoped(state, world.a.id) as s:
        await service.open_loan_accounts(s, tenant_id=world.a.id, loan_id=loan, currency="CNY")
        await service.tenant_account(
            s, tenant_id=world.a.id, kind=K.SETTLEMENT_CASH, currency="CNY"
        )
        await s.commit()
    return loan


async def post(
    s: AsyncSession,
    world: World,
    postings: list[Posting],
    *,
    reference: str,
    value_date: date = MARCH_1,
    cause: EntryCause = EntryCause.DISBURSEMENT,
) -> uuid.UUID:
    entry = await service.post(
        s,
        tenant_id=world.a.id,
        cause=cause,
        idempotency_reference=reference,
        value_date=value_date,
        postings=postings,
        actor=actor_of(world),
        memo="test",
    )
    return entry.id


def non_zero(balances: dict[AccountKind, Money]) -> dict[AccountKind, str]:
    return {k: v.to_decimal_string() for k, v in balances.items() if not v.is_zero()}


# --- posting, balances, the trial balance ----------------------------------------------------


async def test_a_disbursement_with_a_withheld_fee(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    async with scoped(app_state, world.a.id) as s:
        entry = await service.post(
            s,
            tenant_id=world.a.id,
            cause=EntryCause.DISBURSEMENT,
            idempotency_reference="disburse-1",
            value_date=MARCH_1,
            postings=disbursement(loan),
            actor=actor_of(world),
            memo="first drawdown",
        )
        posted_at = await transaction_now(s)
        await s.commit()
    assert (entry.cause, entry.value_date, entry.reverses_entry_id) == (
        EntryCause.DISBURSEMENT,
        MARCH_1,
        None,
    )
    assert entry.posted_at == posted_at
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "select tenant_id, cause, idempotency_reference, value_date, memo,"
                    " created_by_user_id, created_by_client_id from journal_entries"
                )
            )
        ).one()
        lines = (
            await conn.execute(
                text(
                    "select l.line_no, a.code, a.loan_id, l.currency, l.amount_minor"
                    " from journal_lines l join ledger_accounts a"
                    " on a.tenant_id = l.tenant_id and a.id = l.account_id"
                    " where l.entry_id = :e order by l.line_no"
                ),
                {"e": entry.id},
            )
        ).all()
    assert tuple(row) == (
        world.a.id,
        "DISBURSEMENT",
        "disburse-1",
        MARCH_1,
        "first drawdown",
        world.a.admin_user_id,
        "test-console",
    )
    assert [tuple(r) for r in lines] == [
        (1, "PRINCIPAL_RECEIVABLE", loan, "CNY", 10_000_000),
        (2, "SETTLEMENT_CASH", None, "CNY", -9_800_000),
        (3, "FEE_INCOME", loan, "CNY", -200_000),
    ]

    async with scoped(app_state, world.a.id) as s:
        balances = await service.loan_balances(s, tenant_id=world.a.id, loan_id=loan)
        assert set(balances) == set(AccountKind) - {K.SETTLEMENT_CASH, K.SUSPENSE}
        assert non_zero(balances) == {K.PRINCIPAL_RECEIVABLE: "100000.00", K.FEE_INCOME: "2000.00"}
        cash = await service.tenant_account(
            s, tenant_id=world.a.id, kind=K.SETTLEMENT_CASH, currency="CNY"
        )
        assert await service.balance(s, tenant_id=world.a.id, account_id=cash.id) == cny(
            "-98000.00"
        )
        [trial] = await service.trial_balance(s, tenant_id=world.a.id)
    assert trial.currency == "CNY"
    assert (trial.total_debits, trial.total_credits) == (cny("100000.00"), cny("100000.00"))
    assert trial.balanced
    rows = {(a.kind, a.loan_id): a for a in trial.accounts}
    assert len(rows) == 11  # ten accounts of the loan and the settlement account
    principal = rows[(K.PRINCIPAL_RECEIVABLE, loan)]
    assert (principal.normal_side, principal.debits, principal.credits, principal.balance) == (
        Side.DEBIT,
        cny("100000.00"),
        cny("0.00"),
        cny("100000.00"),
    )
    fee = rows[(K.FEE_INCOME, loan)]
    assert (fee.normal_side, fee.debits, fee.credits, fee.balance) == (
        Side.CREDIT,
        cny("0.00"),
        cny("2000.00"),
        cny("2000.00"),
    )
    cash_row = rows[(K.SETTLEMENT_CASH, None)]
    assert (cash_row.debits, cash_row.credits, cash_row.balance) == (
        cny("0.00"),
        cny("98000.00"),
        cny("-98000.00"),
    )


async def test_balances_as_of_a_value_date(app_state) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    async with scoped(app_state, world.a.id) as s:
        await post(s, world, disbursement(loan), reference="d")
        await post(
            s,
            world,
            repayment(loan, "10000.00"),
            reference="r1",
            value_date=date(2027, 4, 1),
            cause=EntryCause.REPAYMENT,
        )
        await post(
            s,
            world,
            repayment(loan, "15000.50"),
            reference="r2",
            value_date=date(2027, 5, 1),
            cause=EntryCause.REPAYMENT,
        )
        await s.commit()

    async def principal_as_of(day: date | None) -> str:
        async with scoped(app_state, world.a.id) as s:
            found = await service.loan_balances(s, tenant_id=world.a.id, loan_id=loan, as_of=day)
        return found[K.PRINCIPAL_RECEIVABLE].to_decimal_string()

    assert await principal_as_of(date(2027, 2, 28)) == "0.00"
    assert await principal_as_of(MARCH_1) == "100000.00"
    assert await principal_as_of(date(2027, 3, 31)) == "100000.00"
    assert await principal_as_of(date(2027, 4, 1)) == "90000.00"
    # 100,000.00 - 10,000.00 - 15,000.50
    assert await principal_as_of(date(2027, 5, 1)) == "74999.50"
    assert await principal_as_of(None) == "74999.50"

    async with scoped(app_state, world.a.id) as s:
        [april] = await service.trial_balance(s, tenant_id=world.a.id, as_of=date(2027, 4, 30))
        [now] = await service.trial_balance(s, tenant_id=world.a.id)
        before = await service.trial_balance(s, tenant_id=world.a.id, as_of=date(2027, 2, 1))
        assert await service.unbalanced_entries(s, tenant_id=world.a.id) == []
    # Debits: principal 100,000.00 and cash 10,000.00 by the end of April.
    assert (april.total_debits, april.total_credits) == (cny("110000.00"), cny("110000.00"))
    assert (now.total_debits, now.total_credits) == (cny("125000.50"), cny("125000.50"))
    assert april.balanced and now.balanced
    cash = {a.kind: a.balance for a in now.accounts}[K.SETTLEMENT_CASH]
    assert cash == cny("-72999.50")  # -98,000.00 + 10,000.00 + 15,000.50
    # Before anything: every account at zero, still balanced.
    assert [t.total_debits for t in before] == [cny("0.00")]
    assert all(a.balance.is_zero() for a in before[0].accounts)


async def test_a_reversal_undoes_an_entry_once(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    fee = [
        debit(AccountRef(K.FEE_RECEIVABLE, loan), cny("500.00")),
        credit(AccountRef(K.FEE_INCOME, loan), cny("500.00")),
    ]
    march_5, march_6 = date(2027, 3, 5), date(2027, 3, 6)
    async with scoped(app_state, world.a.id) as s:
        original = await post(s, world, fee, reference="fee", value_date=march_5)
        reversal = await service.reverse(
            s,
            tenant_id=world.a.id,
            entry_id=original,
            idempotency_reference="fee-reversed",
            value_date=march_6,
            actor=actor_of(world),
            memo="charged in error",
        )
        await s.commit()
    assert (reversal.cause, reversal.reverses_entry_id, reversal.value_date) == (
        EntryCause.REVERSAL,
        original,
        march_6,
    )
    async with owner_engine.connect() as conn:
        lines = (
            await conn.execute(
                text(
                    "select a.code, l.amount_minor from journal_lines l join ledger_accounts a"
                    " on a.tenant_id = l.tenant_id and a.id = l.account_id"
                    " where l.entry_id = :e order by l.line_no"
                ),
                {"e": reversal.id},
            )
        ).all()
    assert [tuple(r) for r in lines] == [("FEE_RECEIVABLE", -50000), ("FEE_INCOME", 50000)]

    async with scoped(app_state, world.a.id) as s:
        on_5 = await service.loan_balances(s, tenant_id=world.a.id, loan_id=loan, as_of=march_5)
        on_6 = await service.loan_balances(s, tenant_id=world.a.id, loan_id=loan, as_of=march_6)
        [trial] = await service.trial_balance(s, tenant_id=world.a.id)
    assert non_zero(on_5) == {K.FEE_RECEIVABLE: "500.00", K.FEE_INCOME: "500.00"}
    assert non_zero(on_6) == {}
    assert (trial.total_debits, trial.total_credits) == (cny("1000.00"), cny("1000.00"))

    async def reverse(entry_id: uuid.UUID, reference: str, day: date = march_6) -> uuid.UUID:
        async with scoped(app_state, world.a.id) as s:
            entry = await service.reverse(
                s,
                tenant_id=world.a.id,
                entry_id=entry_id,
                idempotency_reference=reference,
                value_date=day,
                actor=actor_of(world),
            )
            await s.commit()
        return entry.id

    # The same request again: the same reversal.
    assert await reverse(original, "fee-reversed") == reversal.id
    refusals = [
        ((original, "fee-reversed-again"), ErrorCode.DUPLICATE),
        ((reversal.id, "reverse-the-reversal"), ErrorCode.INVALID),
        ((uuid.uuid4(), "nothing"), ErrorCode.NOT_FOUND),
        # The reference is the reversal's, for another entry.
        ((reversal.id, "fee-reversed"), ErrorCode.IDEMPOTENCY_KEY_REUSED),
    ]
    for (entry_id, reference), code in refusals:
        with pytest.raises(DomainError) as caught:
            await reverse(entry_id, reference)
        assert caught.value.code is code, reference
    async with scoped(app_state, world.a.id) as s:
        other = await post(s, world, fee, reference="fee-2", value_date=march_6)
        await s.commit()
    with pytest.raises(DomainError) as caught:
        await reverse(other, "too-early", date(2027, 3, 5))
    assert caught.value.code is ErrorCode.INVALID_DATE_RANGE
    async with owner_engine.connect() as conn:
        count = (await conn.execute(text("select count(*) from journal_entries"))).scalar_one()
    assert count == 3


async def test_posting_is_idempotent_by_reference(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    async with scoped(app_state, world.a.id) as s:
        first = await post(s, world, disbursement(loan), reference="d")
        await s.commit()
    async with scoped(app_state, world.a.id) as s:
        # The same postings in another order are the same request.
        again = await post(s, world, list(reversed(disbursement(loan))), reference="d")
        await s.commit()
    assert again == first
    different = [
        {"postings": repayment(loan, "1.00")},
        {"value_date": date(2027, 3, 2)},
        {"cause": EntryCause.ADJUSTMENT},
    ]
    for overrides in different:
        async with scoped(app_state, world.a.id) as s:
            with pytest.raises(DomainError) as caught:
                await post(
                    s,
                    world,
                    overrides.pop("postings", disbursement(loan)),  # type: ignore[arg-type]
                    reference="d",
                    **overrides,  # type: ignore[arg-type]
                )
        assert caught.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    async with owner_engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "select (select count(*) from journal_entries),"
                    " (select count(*) from journal_lines)"
                )
            )
        ).one()
    assert tuple(counts) == (1, 3)


async def test_what_the_service_refuses(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    never_opened = uuid.uuid4()
    cases: list[tuple[list[Posting], ErrorCode, str | None]] = [
        (
            [
                debit(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), cny("100.00")),
                credit(AccountRef(K.SETTLEMENT_CASH), cny("99.99")),
            ],
            ErrorCode.INVALID,
            "postings",
        ),
        ([debit(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), cny("1.00"))], ErrorCode.INVALID, None),
        (
            [
                debit(AccountRef(K.PRINCIPAL_RECEIVABLE, never_opened), cny("1.00")),
                credit(AccountRef(K.SETTLEMENT_CASH), cny("1.00")),
            ],
            ErrorCode.NOT_FOUND,
            "postings[0].account",
        ),
        (
            # The loan's accounts are in CNY.
            [
                Posting(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), Money(100, "USD")),
                Posting(AccountRef(K.SETTLEMENT_CASH), Money(-100, "USD")),
            ],
            ErrorCode.NOT_FOUND,
            "postings[0].account",
        ),
    ]
    for n, (postings, code, field) in enumerate(cases):
        async with scoped(app_state, world.a.id) as s:
            with pytest.raises(DomainError) as caught:
                await post(s, world, postings, reference=f"bad-{n}")
        assert caught.value.code is code, n
        if field is not None:
            assert caught.value.field == field, n
    async with scoped(app_state, world.a.id) as s:
        with pytest.raises(DomainError) as caught:
            await post(s, world, disbursement(loan), reference="r", cause=EntryCause.REVERSAL)
        assert caught.value.code is ErrorCode.INVALID
        with pytest.raises(DomainError) as caught:
            await service.open_loan_accounts(s, tenant_id=world.a.id, loan_id=loan, currency="USD")
        assert caught.value.code is ErrorCode.CURRENCY_MISMATCH
        with pytest.raises(DomainError) as caught:
            await service.open_loan_accounts(
                s, tenant_id=world.a.id, loan_id=uuid.uuid4(), currency="XXX"
            )
        assert caught.value.code is ErrorCode.INVALID_CURRENCY
        with pytest.raises(DomainError) as caught:
            await service.tenant_account(s, tenant_id=world.a.id, kind=K.FEE_INCOME, currency="CNY")
        assert caught.value.code is ErrorCode.INVALID
        with pytest.raises(DomainError) as caught:
            await service.balance(s, tenant_id=world.a.id, account_id=uuid.uuid4())
        assert caught.value.code is ErrorCode.NOT_FOUND
        # Acting for tenant A as B's staff.
        b_actor = Actor(user_id=None, client_id="svc-b", tenant_id=world.b.id)
        with pytest.raises(DomainError) as caught:
            await service.post(
                s,
                tenant_id=world.a.id,
                cause=EntryCause.FEE,
                idempotency_reference="b",
                value_date=MARCH_1,
                postings=repayment(loan, "1.00"),
                actor=b_actor,
            )
        assert caught.value.code is ErrorCode.FORBIDDEN
        # Opening again returns the same accounts.
        first = await service.open_loan_accounts(
            s, tenant_id=world.a.id, loan_id=loan, currency="CNY"
        )
        second = await service.open_loan_accounts(
            s, tenant_id=world.a.id, loan_id=loan, currency="CNY"
        )
        assert {k: a.id for k, a in first.items()} == {k: a.id for k, a in second.items()}
        await s.commit()
    async with owner_engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "select (select count(*) from journal_entries),"
                    " (select count(*) from ledger_accounts)"
                )
            )
        ).one()
    assert tuple(counts) == (0, 11)


async def test_several_currencies_have_a_trial_balance_each(app_state) -> None:
    world = await seed_world(app_state)
    cny_loan = await open_loan(app_state, world)
    usd_loan = uuid.uuid4()
    async with scoped(app_state, world.a.id) as s:
        await service.open_loan_accounts(s, tenant_id=world.a.id, loan_id=usd_loan, currency="USD")
        await post(s, world, disbursement(cny_loan), reference="cny")
        await post(
            s,
            world,
            [
                Posting(AccountRef(K.PRINCIPAL_RECEIVABLE, usd_loan), Money(50_000, "USD")),
                Posting(AccountRef(K.SETTLEMENT_CASH), Money(-50_000, "USD")),
            ],
            reference="usd",
        )
        await s.commit()
        trials = await service.trial_balance(s, tenant_id=world.a.id)
    assert [(t.currency, t.total_debits, t.total_credits, t.balanced) for t in trials] == [
        ("CNY", cny("100000.00"), cny("100000.00"), True),
        ("USD", Money(50_000, "USD"), Money(50_000, "USD"), True),
    ]


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.parametrize("first_ends", ["commit", "rollback", "commit_other_postings"])
async def test_concurrent_posts_under_one_reference(app_state, owner_engine, first_ends) -> None:
    """The second post waits on the reference's unique index while the first is open (seen in
    pg_stat_activity, no sleep), then returns the first's entry, or posts its own if the first
    rolled back, or is refused if the first posted something else."""
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    theirs = repayment(loan, "1.00") if first_ends == "commit_other_postings" else None
    async with scoped(app_state, world.a.id) as first, scoped(app_state, world.a.id) as second:
        first_id = await post(first, world, theirs or disbursement(loan), reference="same")
        waiting = asyncio.create_task(post(second, world, disbursement(loan), reference="same"))
        await wait_until_blocked(owner_engine)
        assert not waiting.done()
        if first_ends == "rollback":
            await first.rollback()
        else:
            await first.commit()
        if first_ends == "commit_other_postings":
            with pytest.raises(DomainError) as caught:
                await waiting
            assert caught.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
            await second.rollback()
            second_id = None
        else:
            second_id = await waiting
            await second.commit()
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(text("select id from journal_entries"))).all()
        lines = (await conn.execute(text("select count(*) from journal_lines"))).scalar_one()
    if first_ends == "commit":
        assert second_id == first_id
        assert [r[0] for r in rows] == [first_id]
        assert lines == 3
    elif first_ends == "rollback":
        assert second_id != first_id
        assert [r[0] for r in rows] == [second_id]
        assert lines == 3
    else:
        assert [r[0] for r in rows] == [first_id]
        assert lines == 2


async def test_concurrent_reversals_of_one_entry(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    async with scoped(app_state, world.a.id) as s:
        original = await post(s, world, disbursement(loan), reference="d")
        await s.commit()

    async def reverse(s: AsyncSession, reference: str) -> uuid.UUID:
        entry = await service.reverse(
            s,
            tenant_id=world.a.id,
            entry_id=original,
            idempotency_reference=reference,
            value_date=MARCH_1,
            actor=actor_of(world),
        )
        return entry.id

    async with scoped(app_state, world.a.id) as first, scoped(app_state, world.a.id) as second:
        await reverse(first, "undo-1")
        waiting = asyncio.create_task(reverse(second, "undo-2"))
        await wait_until_blocked(owner_engine)
        await first.commit()
        with pytest.raises(DomainError) as caught:
            await waiting
        assert caught.value.code is ErrorCode.DUPLICATE
        # The refusal rolled back its savepoint only: the session is usable.
        assert (await second.execute(text("select 1"))).scalar_one() == 1
    async with owner_engine.connect() as conn:
        count = (
            await conn.execute(
                text("select count(*) from journal_entries where cause = 'REVERSAL'")
            )
        ).scalar_one()
    assert count == 1


# --- what the database refuses ----------------------------------------------------------------

INSERT_ENTRY = (
    "insert into journal_entries (tenant_id, id, cause, idempotency_reference, value_date,"
    " reverses_entry_id) values (:t, :id, :cause, :ref, '2027-03-01', :rev)"
)
INSERT_LINE = (
    "insert into journal_lines (tenant_id, entry_id, line_no, account_id, currency,"
    " amount_minor) values (:t, :e, :n, :a, :c, :m)"
)


async def accounts(
    app_state: AppState, world: World, loan: uuid.UUID
) -> dict[AccountKind, uuid.UUID]:
    async with scoped(app_state, world.a.id) as s:
        opened = await service.open_loan_accounts(
            s, tenant_id=world.a.id, loan_id=loan, currency="CNY"
        )
        cash = await service.tenant_account(
            s, tenant_id=world.a.id, kind=K.SETTLEMENT_CASH, currency="CNY"
        )
        await s.commit()
    return {**{k: a.id for k, a in opened.items()}, K.SETTLEMENT_CASH: cash.id}


async def write_entry(
    s: AsyncSession,
    tenant: uuid.UUID,
    lines: list[tuple[uuid.UUID, str, int]],
    *,
    cause: str = "ADJUSTMENT",
    reverses: uuid.UUID | None = None,
) -> uuid.UUID:
    """An entry and its lines written by hand, below the service."""
    entry = uuid.uuid4()
    await s.execute(
        text(INSERT_ENTRY),
        {"t": tenant, "id": entry, "cause": cause, "ref": str(entry), "rev": reverses},
    )
    for n, (account, currency, minor) in enumerate(lines, start=1):
        await s.execute(
            text(INSERT_LINE),
            {"t": tenant, "e": entry, "n": n, "a": account, "c": currency, "m": minor},
        )
    return entry


async def refused_at_commit(s: AsyncSession) -> Violation:
    with pytest.raises(DBAPIError) as caught:
        await s.commit()
    return violation_of(caught.value)


async def test_an_unbalanced_entry_is_refused_at_commit(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    ids = await accounts(app_state, world, uuid.uuid4())
    principal, cash = ids[K.PRINCIPAL_RECEIVABLE], ids[K.SETTLEMENT_CASH]
    cases = [
        ([(principal, "CNY", 10000), (cash, "CNY", -9999)], "ck_journal_entries_balanced"),
        ([(principal, "CNY", 10000)], "ck_journal_entries_lines"),
        ([], "ck_journal_entries_lines"),
    ]
    for lines, constraint in cases:
        async with scoped(app_state, world.a.id) as s:
            await write_entry(s, world.a.id, lines)
            # Deferred: every statement was accepted; the commit is refused.
            assert await refused_at_commit(s) == Violation("23514", constraint), lines
    # Balanced, the same statements commit.
    async with scoped(app_state, world.a.id) as s:
        await write_entry(s, world.a.id, [(principal, "CNY", 10000), (cash, "CNY", -10000)])
        await s.commit()
    async with owner_engine.connect() as conn:
        count = (await conn.execute(text("select count(*) from journal_entries"))).scalar_one()
    assert count == 1


async def test_a_line_is_in_its_accounts_currency(app_state) -> None:
    world = await seed_world(app_state)
    ids = await accounts(app_state, world, uuid.uuid4())
    async with scoped(app_state, world.a.id) as s:
        with pytest.raises(DBAPIError) as caught:
            await write_entry(
                s,
                world.a.id,
                [(ids[K.PRINCIPAL_RECEIVABLE], "USD", 100), (ids[K.SETTLEMENT_CASH], "USD", -100)],
            )
    assert violation_of(caught.value) == Violation("23503", "fk_journal_lines_account")


async def test_a_posted_entry_gains_no_line(app_state) -> None:
    world = await seed_world(app_state)
    ids = await accounts(app_state, world, uuid.uuid4())
    principal, cash = ids[K.PRINCIPAL_RECEIVABLE], ids[K.SETTLEMENT_CASH]
    async with scoped(app_state, world.a.id) as s:
        entry = await write_entry(s, world.a.id, [(principal, "CNY", 100), (cash, "CNY", -100)])
        await s.commit()
    async with scoped(app_state, world.a.id) as s:
        # Even two lines that balance each other.
        with pytest.raises(DBAPIError) as caught:
            for n, account, minor in ((3, principal, 500), (4, cash, -500)):
                await s.execute(
                    text(INSERT_LINE),
                    {"t": world.a.id, "e": entry, "n": n, "a": account, "c": "CNY", "m": minor},
                )
    assert violation_of(caught.value) == Violation("23514", "ck_journal_lines_with_entry")


async def test_a_reversal_is_its_originals_negation(app_state) -> None:
    world = await seed_world(app_state)
    ids = await accounts(app_state, world, uuid.uuid4())
    principal, cash = ids[K.PRINCIPAL_RECEIVABLE], ids[K.SETTLEMENT_CASH]
    fee = ids[K.FEE_INCOME]
    async with scoped(app_state, world.a.id) as s:
        original = await write_entry(
            s, world.a.id, [(principal, "CNY", 100), (cash, "CNY", -100)], cause="DISBURSEMENT"
        )
        await s.commit()
    wrong = [
        [(principal, "CNY", -90), (cash, "CNY", 90)],  # a partial reversal
        [(fee, "CNY", -100), (cash, "CNY", 100)],  # another account
        [(principal, "CNY", -100), (cash, "CNY", 100), (principal, "CNY", -1), (cash, "CNY", 1)],
    ]
    for lines in wrong:
        async with scoped(app_state, world.a.id) as s:
            await write_entry(s, world.a.id, lines, cause="REVERSAL", reverses=original)
            assert await refused_at_commit(s) == Violation(
                "23514", "ck_journal_entries_reverses"
            ), lines
    async with scoped(app_state, world.a.id) as s:
        reversal = await write_entry(
            s,
            world.a.id,
            [(cash, "CNY", 100), (principal, "CNY", -100)],
            cause="REVERSAL",
            reverses=original,
        )
        await s.commit()
    # A reversal of the reversal, its lines the negation, is refused as well.
    async with scoped(app_state, world.a.id) as s:
        await write_entry(
            s,
            world.a.id,
            [(principal, "CNY", 100), (cash, "CNY", -100)],
            cause="REVERSAL",
            reverses=reversal,
        )
        assert await refused_at_commit(s) == Violation("23514", "ck_journal_entries_reverses")


@pytest.mark.parametrize(
    "sql",
    [
        "update ledger_accounts set currency = 'USD'",
        "delete from ledger_accounts",
        "update journal_entries set value_date = '2027-01-01'",
        "delete from journal_entries",
        "update journal_lines set amount_minor = 1",
        "delete from journal_lines",
    ],
)
async def test_the_ledger_is_append_only(app_state, owner_engine, sql) -> None:
    world = await seed_world(app_state)
    loan = await open_loan(app_state, world)
    async with scoped(app_state, world.a.id) as s:
        await post(s, world, disbursement(loan), reference="d")
        await s.commit()
    async with scoped(app_state, world.a.id) as s:
        with pytest.raises(DBAPIError) as caught:
            await s.execute(text(sql))
    assert "permission denied" in str(caught.value)
    # Not even the owner, below the grants: a trigger refuses it.
    with pytest.raises(DBAPIError) as caught:
        async with owner_engine.begin() as conn:
            await conn.execute(text(sql))
    assert "append-only" in str(caught.value)
    async with owner_engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "select (select count(*) from ledger_accounts),"
                    " (select count(*) from journal_entries),"
                    " (select sum(amount_minor) from journal_lines where amount_minor > 0)"
                )
            )
        ).one()
    assert tuple(counts) == (11, 1, 10_000_000)


async def test_another_tenant_neither_reads_nor_posts_to_the_ledger(
    app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    a, b = world.a.id, world.b.id
    loan = await open_loan(app_state, world)
    ids = await accounts(app_state, world, loan)
    async with scoped(app_state, a) as s:
        entry = await post(s, world, disbursement(loan), reference="d")
        await s.commit()
    b_actor = Actor(user_id=None, client_id="svc-b", tenant_id=b)
    async with scoped(app_state, b) as s:
        for table in ("ledger_accounts", "journal_entries", "journal_lines"):
            assert (await s.execute(text(f"select count(*) from {table}"))).scalar_one() == 0
        # A's ledger through the service, naming A: nothing there.
        assert await service.loan_balances(s, tenant_id=a, loan_id=loan) == {}
        assert await service.trial_balance(s, tenant_id=a) == []
        with pytest.raises(DomainError) as caught:
            await service.balance(s, tenant_id=a, account_id=ids[K.SETTLEMENT_CASH])
        assert caught.value.code is ErrorCode.NOT_FOUND
        with pytest.raises(DomainError) as caught:
            await service.reverse(
                s,
                tenant_id=b,
                entry_id=entry,
                idempotency_reference="steal",
                value_date=MARCH_1,
                actor=b_actor,
            )
        assert caught.value.code is ErrorCode.NOT_FOUND
        # B's own posting to A's loan: B has no such accounts.
        with pytest.raises(DomainError) as caught:
            await service.post(
                s,
                tenant_id=b,
                cause=EntryCause.FEE,
                idempotency_reference="x",
                value_date=MARCH_1,
                postings=repayment(loan, "1.00"),
                actor=b_actor,
            )
        assert caught.value.code is ErrorCode.NOT_FOUND
    # Below the service, as the application role in B's scope: rows of A are refused.
    forged: list[tuple[str, dict[str, object]]] = [
        (
            "insert into ledger_accounts (tenant_id, id, code, loan_id, currency, normal_side)"
            " values (:a, gen_random_uuid(), 'SUSPENSE', null, 'USD', 'CREDIT')",
            {"a": a},
        ),
        (INSERT_ENTRY, {"t": a, "id": uuid.uuid4(), "cause": "FEE", "ref": "forged", "rev": None}),
        (INSERT_LINE, {"t": a, "e": entry, "n": 9, "a": ids[K.FEE_INCOME], "c": "CNY", "m": 1}),
    ]
    for sql, params in forged:
        async with scoped(app_state, b) as s:
            with pytest.raises(DBAPIError) as refused:
                await s.execute(text(sql), params)
        assert "row-level security" in str(refused.value), sql
    # B posting in its own ledger, to A's account by ID: the account is not B's.
    async with scoped(app_state, b) as s:
        with pytest.raises(DBAPIError) as refused:
            await write_entry(
                s, b, [(ids[K.FEE_INCOME], "CNY", 1), (ids[K.SETTLEMENT_CASH], "CNY", -1)]
            )
    assert violation_of(refused.value) == Violation("23503", "fk_journal_lines_account")
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(text("select tenant_id, count(*) from journal_entries group by 1"))
        ).all()
    assert [tuple(r) for r in rows] == [(a, 1)]
