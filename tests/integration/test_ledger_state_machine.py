"""A hypothesis state machine over the real ledger: loans opened, disbursements with a withheld
fee, fees charged, repayments (fees first, then principal, any excess to the borrower's credit),
reversals of random earlier entries, and replays of earlier requests under their reference.

After every step: the tenant's trial balance balances in total and as of a value date, its
total debits are what the machine posted, and each loan's balance by account (and the
settlement account's) equals the sum of that account's lines as the machine itself recorded
them, computed here in Python from the postings sent, never read back from the ledger.

Hypothesis drives a synchronous machine: it runs the service on an event loop of its own, with
engines made on that loop. Each example works in a fresh tenant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.ledger import policy, service
from domain.ledger.models import AccountKind, EntryCause, Side
from domain.ledger.policy import AccountRef, Posting
from domain.persistence.engine import create_engine, open_session, session_factory
from domain.persistence.scope import DbScope
from lendgraph import runtime
from lendgraph.settings import Settings

K = AccountKind
T = TypeVar("T")
CURRENCY = "CNY"
DAYS = st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 1, 31))
#: The as-of date the invariants also check.
MID_MONTH = date(2027, 1, 15)
AMOUNTS = st.integers(min_value=1, max_value=10**10)


@dataclass
class Context:
    loop: asyncio.AbstractEventLoop
    sessions: async_sessionmaker[AsyncSession]
    owner: AsyncEngine


@dataclass
class Posted:
    """What the machine posted: the request, and whether it was reversed since."""

    id: uuid.UUID
    reference: str
    cause: EntryCause
    value_date: date
    postings: list[Posting]
    reverses: uuid.UUID | None = None
    reversed: bool = False


@dataclass
class Model:
    """The machine's own record of every line it posted: (value date, account, signed)."""

    lines: list[tuple[date, AccountRef, int]] = field(default_factory=list)
    entries: list[Posted] = field(default_factory=list)

    def record(self, entry: Posted) -> None:
        self.entries.append(entry)
        for p in entry.postings:
            self.lines.append((entry.value_date, p.account, p.amount.amount_minor))

    def signed(self, account: AccountRef, as_of: date | None = None) -> int:
        return sum(
            minor
            for day, ref, minor in self.lines
            if ref == account and (as_of is None or day <= as_of)
        )

    def normal(self, account: AccountRef, as_of: date | None = None) -> int:
        signed = self.signed(account, as_of)
        return signed if policy.NORMAL_SIDE[account.kind] is Side.DEBIT else -signed

    def debits(self, as_of: date | None = None) -> int:
        return sum(m for day, _, m in self.lines if m > 0 and (as_of is None or day <= as_of))


def cny(minor: int) -> Money:
    return Money(minor, CURRENCY)


class LedgerMachine(RuleBasedStateMachine):
    ctx: Context

    loans = Bundle("loans")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.loan_ids: list[uuid.UUID] = []
        self.tenant = uuid.uuid4()
        self.actor = Actor(user_id=None, client_id="ledger-machine", tenant_id=self.tenant)
        self.references = 0
        self.run(self._create_tenant())

    # -- plumbing ----------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.ctx.loop.run_until_complete(coro)

    async def _create_tenant(self) -> None:
        async with self.ctx.owner.begin() as conn:
            await conn.execute(
                text(
                    "insert into tenants (id, name, slug, kind, time_zone, currency, status)"
                    " values (:id, :slug, :slug, 'BANK', 'Asia/Shanghai', 'CNY', 'ACTIVE')"
                ),
                {"id": self.tenant, "slug": f"ledger-{self.tenant.hex[:12]}"},
            )

    def session(self) -> AsyncSession:
        return open_session(self.ctx.sessions, DbScope(tenant_id=self.tenant))

    def reference(self) -> str:
        self.references += 1
        return f"machine-{self.references}"

    async def _post(
        self, cause: EntryCause, reference: str, day: date, postings: list[Posting]
    ) -> uuid.UUID:
        async with self.session() as s:
            entry = await service.post(
                s,
                tenant_id=self.tenant,
                cause=cause,
                idempotency_reference=reference,
                value_date=day,
                postings=postings,
                actor=self.actor,
            )
            await s.commit()
        return entry.id

    def post(self, cause: EntryCause, day: date, postings: list[Posting]) -> None:
        reference = self.reference()
        entry_id = self.run(self._post(cause, reference, day, postings))
        assert entry_id not in {e.id for e in self.model.entries}
        self.model.record(Posted(entry_id, reference, cause, day, postings))

    # -- rules -------------------------------------------------------------------------------

    async def _open(self, loan: uuid.UUID) -> None:
        async with self.session() as s:
            opened = await service.open_loan_accounts(
                s, tenant_id=self.tenant, loan_id=loan, currency=CURRENCY
            )
            await s.commit()
        assert set(opened) == set(policy.LOAN_KINDS)

    @initialize(target=loans)
    def first_loan(self) -> uuid.UUID:
        return self.open_loan()

    # A few loans, so that the steps go to their entries.
    @precondition(lambda self: len(self.loan_ids) < 3)
    @rule(target=loans)
    def open_loan(self) -> uuid.UUID:
        loan = uuid.uuid4()
        self.run(self._open(loan))
        self.loan_ids.append(loan)
        return loan

    @rule(loan=loans, amount=AMOUNTS, fee_permille=st.integers(0, 50), day=DAYS)
    def disburse(self, loan: uuid.UUID, amount: int, fee_permille: int, day: date) -> None:
        fee = amount * fee_permille // 1000
        postings = [
            Posting(AccountRef(K.PRINCIPAL_RECEIVABLE, loan), cny(amount)),
            Posting(AccountRef(K.SETTLEMENT_CASH), cny(-(amount - fee))),
        ]
        if fee:
            postings.append(Posting(AccountRef(K.FEE_INCOME, loan), cny(-fee)))
        self.post(EntryCause.DISBURSEMENT, day, postings)

    @rule(loan=loans, amount=AMOUNTS, day=DAYS)
    def charge_fee(self, loan: uuid.UUID, amount: int, day: date) -> None:
        self.post(
            EntryCause.FEE,
            day,
            [
                Posting(AccountRef(K.FEE_RECEIVABLE, loan), cny(amount)),
                Posting(AccountRef(K.FEE_INCOME, loan), cny(-amount)),
            ],
        )

    @rule(loan=loans, amount=AMOUNTS, day=DAYS)
    def repay(self, loan: uuid.UUID, amount: int, day: date) -> None:
        postings = [Posting(AccountRef(K.SETTLEMENT_CASH), cny(amount))]
        left = amount
        for kind in (K.FEE_RECEIVABLE, K.PRINCIPAL_RECEIVABLE):
            account = AccountRef(kind, loan)
            paid = min(max(self.model.normal(account), 0), left)
            if paid:
                postings.append(Posting(account, cny(-paid)))
                left -= paid
        if left:
            postings.append(Posting(AccountRef(K.BORROWER_CREDIT, loan), cny(-left)))
        self.post(EntryCause.REPAYMENT, day, postings)

    def reversible(self) -> list[Posted]:
        return [
            e for e in self.model.entries if e.cause is not EntryCause.REVERSAL and not e.reversed
        ]

    async def _reverse(self, entry_id: uuid.UUID, reference: str, day: date) -> uuid.UUID:
        async with self.session() as s:
            entry = await service.reverse(
                s,
                tenant_id=self.tenant,
                entry_id=entry_id,
                idempotency_reference=reference,
                value_date=day,
                actor=self.actor,
            )
            await s.commit()
        return entry.id

    @precondition(lambda self: bool(self.reversible()))
    @rule(data=st.data(), day=DAYS)
    def reverse(self, data: st.DataObject, day: date) -> None:
        original = data.draw(st.sampled_from(self.reversible()), label="reversed")
        value_date = max(day, original.value_date)
        reference = self.reference()
        reversal_id = self.run(self._reverse(original.id, reference, value_date))
        original.reversed = True
        self.model.record(
            Posted(
                reversal_id,
                reference,
                EntryCause.REVERSAL,
                value_date,
                list(policy.reversal_of(original.postings)),
                reverses=original.id,
            )
        )

    @precondition(lambda self: any(e.reversed for e in self.model.entries))
    @rule(data=st.data(), day=DAYS)
    def reverse_again(self, data: st.DataObject, day: date) -> None:
        original = data.draw(st.sampled_from([e for e in self.model.entries if e.reversed]))
        try:
            self.run(self._reverse(original.id, self.reference(), max(day, original.value_date)))
        except DomainError as refused:
            assert refused.code is ErrorCode.DUPLICATE
        else:
            raise AssertionError("an entry was reversed twice")

    @precondition(lambda self: bool(self.model.entries))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """The same request under its reference again: the same entry, nothing posted."""
        entry = data.draw(st.sampled_from(self.model.entries), label="replayed")
        if entry.reverses is not None:
            again = self.run(self._reverse(entry.reverses, entry.reference, entry.value_date))
        else:
            again = self.run(
                self._post(entry.cause, entry.reference, entry.value_date, entry.postings[::-1])
            )
        assert again == entry.id

    # -- invariants --------------------------------------------------------------------------

    async def _read(self) -> tuple[Any, ...]:
        async with self.session() as s:
            trials = {
                as_of: await service.trial_balance(s, tenant_id=self.tenant, as_of=as_of)
                for as_of in (None, MID_MONTH)
            }
            loans = {
                loan: await service.loan_balances(s, tenant_id=self.tenant, loan_id=loan)
                for loan in self.loan_ids
            }
            cash = None
            if any(ref.kind is K.SETTLEMENT_CASH for _, ref, _ in self.model.lines):
                account = await service.tenant_account(
                    s, tenant_id=self.tenant, kind=K.SETTLEMENT_CASH, currency=CURRENCY
                )
                cash = await service.balance(s, tenant_id=self.tenant, account_id=account.id)
            unbalanced = await service.unbalanced_entries(s, tenant_id=self.tenant)
            await s.commit()
        return trials, loans, cash, unbalanced

    @invariant()
    def the_ledger_agrees_with_what_was_posted(self) -> None:
        trials, loans, cash, unbalanced = self.run(self._read())
        assert unbalanced == []
        for as_of, found in trials.items():
            if not self.loan_ids:
                assert found == []
                continue
            [trial] = found
            assert trial.balanced, as_of
            assert trial.total_debits == trial.total_credits == cny(self.model.debits(as_of))
            # Every account's balance as of the date, the tenant's and each loan's.
            for row in trial.accounts:
                ref = AccountRef(row.kind, row.loan_id)
                assert row.balance == cny(self.model.normal(ref, as_of)), (ref, as_of)
            assert {row.loan_id for row in trial.accounts} - {None} == set(self.loan_ids)
        for loan, balances in loans.items():
            expected = {
                kind: cny(self.model.normal(AccountRef(kind, loan))) for kind in policy.LOAN_KINDS
            }
            assert balances == expected, loan
        if cash is not None:
            assert cash == cny(self.model.normal(AccountRef(K.SETTLEMENT_CASH)))

    @invariant()
    def entries_were_posted_once(self) -> None:
        async def count() -> int:
            async with self.ctx.owner.connect() as conn:
                found = await conn.execute(
                    text("select count(*) from journal_entries where tenant_id = :t"),
                    {"t": self.tenant},
                )
                return int(found.scalar_one())

        assert self.run(count()) == len(self.model.entries)


def test_the_ledger_state_machine(owner_url: URL, settings: Settings) -> None:
    loop = asyncio.new_event_loop()
    app_engine = create_engine(runtime.app_url(settings), pool_size=2)
    owner = create_async_engine(owner_url, poolclass=NullPool)
    LedgerMachine.ctx = Context(loop=loop, sessions=session_factory(app_engine), owner=owner)
    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=hypothesis_settings(
                max_examples=20,
                stateful_step_count=15,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        loop.run_until_complete(app_engine.dispose())
        loop.run_until_complete(owner.dispose())
        loop.close()
