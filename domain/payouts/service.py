"""Use cases of disbursement: disburse a SIGNED deal (the payout requested), send the payout to
the payment rail (a worker's job), apply the rail's settlement or failure (webhook handlers),
and find the payouts whose message was lost.

The steps, each its own transaction, so that a worker killed at any line loses nothing:

1. :func:`disburse` (the finance officer's mutation): the deal is locked, the payout inserted
   REQUESTED under the caller's idempotency key, the deal moved SIGNED -> DISBURSING, and
   ``send_payout`` enqueued after commit. Concurrent calls with one key take turns on the
   deal's lock (and the key's unique index backs it): one payout, one job; the others get that
   payout back.
2. :func:`send_payout` (the worker): the payout is claimed for a lease and the rail asked,
   outside any transaction, with the payout's ID as the rail's idempotency key and reference;
   its acceptance is recorded (SENT). A retryable failure leaves the outcome unknown: the same
   request is sent again after a backoff (the rail answers it with the payout it has), at most
   ``policy.MAX_ATTEMPTS`` times. A worker killed after asking leaves a REQUESTED row whose
   lease runs out: the sweeper sends it again, and the rail does not pay twice.
3. :func:`apply_settlement` / :func:`apply_failure` (the rail's callbacks, in the platform
   scope of the webhook inbox): the payout is found by its reference (its own ID) and locked;
   a settlement creates the loan ACTIVE with its schedule, posts the disbursement (reference
   ``payout:<id>``: at most one entry) and moves the deal DISBURSING -> ACTIVE; a failure
   moves the deal back to SIGNED with the outbox event ``deal.payout_failed`` (the alert) and
   posts nothing. A callback may come before the acceptance is recorded (the payout is still
   REQUESTED: the reference is ours, so it applies), twice (the second is a duplicate), or
   for a payout already final (nothing changes).
4. :func:`reconcile_payout` (the sweeper's follow-up): a SENT payout whose callbacks never
   came (the rail gave up) is asked about, and a final state is applied by the same handlers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.deals import policy as deal_policy
from domain.deals import repository as deals_repository
from domain.deals import service as deals
from domain.deals.models import Deal, DealStatus
from domain.events import repository as events
from domain.kernel.actor import SYSTEM, Actor, require
from domain.kernel.clock import transaction_now, utcnow
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.loans import service as loans
from domain.payments.ports import (
    Beneficiary,
    PaymentEventType,
    PayoutEvent,
    PayoutRail,
    PayoutRequest,
    PayoutStatus,
    ProviderError,
    RequestRejected,
)
from domain.payouts import policy, repository
from domain.payouts.models import Payout, PayoutState
from domain.persistence.after_commit import Job, enqueue_after_commit
from domain.persistence.atomic import atomic as _atomic
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.pledges import service as pledges
from domain.products import policy as product_policy
from domain.products import repository as products
from domain.reviews import repository as reviews
from domain.reviews.models import ReviewStage

#: The actor that sends one payout, and its queue (declared in ``workers``).
SEND_ACTOR: Final = "send_payout"
SEND_QUEUE: Final = "payouts"


def send_job(tenant_id: uuid.UUID, payout_id: uuid.UUID, *, delay_ms: int | None = None) -> Job:
    """The message that makes a worker send a payout: IDs only."""
    return Job(SEND_ACTOR, SEND_QUEUE, (str(tenant_id), str(payout_id)), delay_ms)


@dataclass(frozen=True, slots=True)
class BeneficiaryInput:
    """The account the loan is paid into, as the signed contract names it."""

    name: str
    account_number: str
    bank_code: str


@dataclass(frozen=True, slots=True)
class DisburseOutcome:
    """The deal and its payout after :func:`disburse`; ``replayed`` when the key had been
    used for this same disbursement already (nothing was written)."""

    deal: Deal
    payout: Payout
    replayed: bool


def _not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "no such deal", "dealId")


def _request(
    deal_id: uuid.UUID,
    amount: Money,
    value_date: date | None,
    beneficiary: BeneficiaryInput,
) -> policy.Request:
    return policy.Request(
        deal_id=deal_id,
        amount=amount,
        value_date=value_date,
        beneficiary_name=beneficiary.name.strip(),
        beneficiary_account=beneficiary.account_number.strip(),
        beneficiary_bank_code=beneficiary.bank_code.strip(),
    )


def _request_of(cipher: PersonalDataCipher, payout: Payout) -> policy.Request:
    return policy.Request(
        deal_id=payout.deal_id,
        amount=payout.amount,
        value_date=payout.value_date,
        beneficiary_name=payout.beneficiary_name,
        beneficiary_account=cipher.decrypt(payout.beneficiary_account),
        beneficiary_bank_code=payout.beneficiary_bank_code,
    )


def _check_beneficiary(beneficiary: BeneficiaryInput) -> None:
    for field, value in (
        ("beneficiary.name", beneficiary.name),
        ("beneficiary.accountNumber", beneficiary.account_number),
        ("beneficiary.bankCode", beneficiary.bank_code),
    ):
        if not value.strip():
            raise DomainError(ErrorCode.REQUIRED, "required", field)
    if len(beneficiary.name.strip()) > policy.MAX_NAME_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, "at most 200 characters", "beneficiary.name")
    if len(beneficiary.account_number.strip()) > 64 or len(beneficiary.bank_code.strip()) > 32:
        raise DomainError(ErrorCode.TOO_LONG, "too long", "beneficiary")


async def _replay(
    session: AsyncSession,
    cipher: PersonalDataCipher,
    found: Payout,
    *,
    deal_id: uuid.UUID,
    amount: Money | None,
    value_date: date | None,
    beneficiary: BeneficiaryInput,
) -> DisburseOutcome:
    asked = _request(deal_id, amount or found.amount, value_date, beneficiary)
    policy.check_same_request(_request_of(cipher, found), asked)
    deal = await deals_repository.deal(session, found.deal_id)
    if deal is None:  # pragma: no cover - the payout's deal is the tenant's
        raise _not_found()
    return DisburseOutcome(deal=deal, payout=found, replayed=True)


@_atomic
async def disburse(
    session: AsyncSession,
    actor: Actor,
    cipher: PersonalDataCipher,
    *,
    deal_id: uuid.UUID,
    idempotency_key: str,
    beneficiary: BeneficiaryInput,
    value_date: date | None = None,
    amount: Money | None = None,
) -> DisburseOutcome:
    """Disburse a SIGNED deal of the actor's funder (scope loans:disburse; a person, not the
    deal's second reviewer: FOUR_EYES) into ``beneficiary``'s account: the amount approved
    (``amount``, when given, must be it: the key is compared on it), less the product's
    origination fee, withheld; the loan's value date is ``value_date`` or, when omitted, the
    day the payout settles in the funder's time zone. The same key for the same request
    returns the first payout (``replayed``); for another, IDEMPOTENCY_KEY_REUSED."""
    require(actor, Scope.LOANS_DISBURSE)
    if actor.user_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "a disbursement is made by a person")
    key = policy.check_key(idempotency_key)
    _check_beneficiary(beneficiary)
    found = await deals_repository.deal(session, deal_id)
    if found is None or actor.tenant_id is None or found.tenant_id != actor.tenant_id:
        raise _not_found()
    # The deal's lock: concurrent disbursements take turns, and each sees the one before.
    deal = await deals_repository.deal(session, deal_id, for_update=True)
    if deal is None:  # pragma: no cover - the funder may lock what it sees
        raise _not_found()
    existing = await repository.by_key(session, tenant_id=deal.tenant_id, key=key)
    if existing is not None:
        return await _replay(
            session,
            cipher,
            existing,
            deal_id=deal_id,
            amount=amount,
            value_date=value_date,
            beneficiary=beneficiary,
        )
    policy.check_signed(deal.status)
    # A pledge deal lends only against goods registered and held under the pledge.
    await pledges.check_disbursable(session, deal)
    round_ = await reviews.latest_round(session, tenant_id=deal.tenant_id, deal_id=deal.id)
    approval = await reviews.review(
        session, tenant_id=deal.tenant_id, deal_id=deal.id, stage=ReviewStage.SECOND, round=round_
    )
    if approval is None or approval.approved_amount_minor is None or approval.approved_rate is None:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "the deal has no approval", "dealId")
    policy.check_four_eyes(actor.user_id, approval.decided_by)
    approved = Money(approval.approved_amount_minor, approval.approved_currency or deal.currency)
    if amount is not None and amount != approved:
        raise DomainError(
            ErrorCode.INVALID_AMOUNT, "the amount disbursed is the amount approved", "amount"
        )
    pinned = await deals_repository.product_of(session, deal)
    if pinned is None:  # pragma: no cover - the funder sees its product versions
        raise DomainError(ErrorCode.NOT_FOUND, "no such product", "productId")
    fee = product_policy.origination_fee(products.terms_of(pinned[1]), approved)
    figures = policy.amounts(approved, fee)
    now = await transaction_now(session)
    payout_id = new_id()
    async with refusing(
        session,
        {
            "uq_payouts_live_deal": DomainError(
                ErrorCode.DUPLICATE, "the deal is being disbursed already", "dealId"
            )
        },
    ):
        inserted = await repository.insert_if_absent(
            session,
            {
                "tenant_id": deal.tenant_id,
                "id": payout_id,
                "deal_id": deal.id,
                "idempotency_key": key,
                "currency": approved.currency,
                "amount_minor": figures.amount.amount_minor,
                "fee_minor": figures.fee.amount_minor,
                "net_minor": figures.net.amount_minor,
                "value_date": value_date,
                "beneficiary_name": beneficiary.name.strip(),
                "beneficiary_account": cipher.encrypt(beneficiary.account_number.strip()),
                "beneficiary_bank_code": beneficiary.bank_code.strip(),
                "state": PayoutState.REQUESTED.value,
                "max_attempts": policy.MAX_ATTEMPTS,
                "next_attempt_at": now,
                "requested_by_user_id": actor.user_id,
                "created_at": now,
                "updated_at": now,
            },
        )
    if not inserted:
        # The key's unique index: a concurrent request with the key committed first.
        again = await repository.by_key(session, tenant_id=deal.tenant_id, key=key)
        if again is None:  # pragma: no cover - the conflicting row is committed
            raise DomainError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, "retry", "idempotencyKey")
        return await _replay(
            session,
            cipher,
            again,
            deal_id=deal_id,
            amount=amount,
            value_date=value_date,
            beneficiary=beneficiary,
        )
    payout = await repository.lock(
        session, tenant_id=deal.tenant_id, payout_id=payout_id, skip_locked=False
    )
    assert payout is not None
    source = deal.status
    async with refusing(session, deals.deal_refusals(deal.channel)):
        deal.status = DealStatus.DISBURSING
        deal.updated_at = now
        await session.flush()
    await deals.record_transition(
        session,
        actor,
        deal,
        "disburse",
        from_status=source,
        payout_id=str(payout_id),
        disbursed_amount=figures.amount.to_decimal_string(),
        fee=figures.fee.to_decimal_string(),
        net=figures.net.to_decimal_string(),
    )
    enqueue_after_commit(session, send_job(deal.tenant_id, payout_id))
    return DisburseOutcome(deal=deal, payout=payout, replayed=False)


# -- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one delivery of ``send_payout`` did; ``retry_in_ms`` when it wants another."""

    outcome: str
    retry_in_ms: int | None = None
    attempt: int | None = None


UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _ms(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000) + 1)


async def send_payout(
    unit_of_work: UnitOfWork,
    rail: PayoutRail,
    cipher: PersonalDataCipher,
    *,
    tenant_id: uuid.UUID,
    payout_id: uuid.UUID,
    callback_url: str,
    backoff_ms: Callable[[int], int],
    clock: Callable[[], datetime] = utcnow,
    timeout_seconds: float = 30.0,
) -> SendResult:
    """One delivery of a payout's message: claim it, ask the rail, record the acceptance (see
    the module's docstring). ``unit_of_work`` opens a unit of work in the tenant's scope."""
    async with unit_of_work() as session:
        payout = await repository.lock(
            session, tenant_id=tenant_id, payout_id=payout_id, skip_locked=True
        )
        if payout is None:
            return SendResult("SKIPPED")
        now = clock()
        decision = policy.claim(
            payout.payout_state, payout.attempts, payout.max_attempts, payout.next_attempt_at, now
        )
        if decision is policy.Claim.DONE:
            return SendResult("DONE")
        if decision is policy.Claim.EXHAUSTED:
            if payout.next_attempt_at is not None:
                # Every attempt's outcome stayed unknown: an operator looks at the rail.
                payout.next_attempt_at = None
                payout.updated_at = now
            return SendResult("EXHAUSTED", attempt=payout.attempts)
        if decision is policy.Claim.NOT_DUE:
            assert payout.next_attempt_at is not None
            return SendResult("NOT_DUE", _ms(payout.next_attempt_at - now))
        payout.attempts += 1
        payout.next_attempt_at = now + policy.LEASE
        payout.updated_at = now
        attempt = payout.attempts
        request = PayoutRequest(
            amount=payout.net,
            beneficiary=Beneficiary(
                name=payout.beneficiary_name,
                account_number=cipher.decrypt(payout.beneficiary_account),
                bank_code=payout.beneficiary_bank_code,
            ),
            # The payout's own ID: every callback names the row, and a retry never pays twice.
            reference=str(payout.id),
            callback_url=callback_url,
            idempotency_key=str(payout.id),
        )
        max_attempts = payout.max_attempts
        deal_id = payout.deal_id

    try:
        async with asyncio.timeout(timeout_seconds):
            accepted = await rail.disburse(request)
    except RequestRejected as refusal:
        # Refused before anything was paid (a beneficiary the rail rejects): final.
        async with unit_of_work() as session:
            await _fail(session, tenant_id, payout_id, reason=refusal.code or "REJECTED")
        return SendResult("FAILED", attempt=attempt)
    except (ProviderError, TimeoutError) as error:
        now = clock()
        wait = backoff_ms(attempt) if attempt < max_attempts else None
        async with unit_of_work() as session:
            recorded = await repository.record_attempt_failed(
                session,
                tenant_id=tenant_id,
                payout_id=payout_id,
                attempt=attempt,
                next_attempt_at=None if wait is None else now + timedelta(milliseconds=wait),
                error=policy.error_text(error),
                now=now,
            )
            if recorded and wait is None:
                # Every attempt's outcome unknown: the rail may have paid. An operator checks
                # with the rail before anything else is done; this is the alert.
                await events.append(
                    session,
                    tenant_id=tenant_id,
                    type="deal.payout_unknown",
                    aggregate_type="Deal",
                    aggregate_id=deal_id,
                    payload={"payout_id": str(payout_id), "attempts": attempt},
                )
        if wait is None:
            return SendResult("EXHAUSTED", attempt=attempt)
        return SendResult("RETRY", wait, attempt)
    async with unit_of_work() as session:
        await repository.record_sent(
            session,
            tenant_id=tenant_id,
            payout_id=payout_id,
            provider_payout_id=accepted.payout_id,
            now=clock(),
        )
    return SendResult("SENT", attempt=attempt)


async def overdue_payouts(
    session: AsyncSession, *, grace: timedelta, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """REQUESTED payouts due more than ``grace`` ago (their message was lost, or their worker
    died): ``(tenant_id, payout_id)``. Platform scope."""
    return await repository.due(session, overdue_before=utcnow() - grace, limit=limit)


def resend(session: AsyncSession, payouts: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``payouts`` sent again once the session commits."""
    for tenant_id, payout_id in payouts:
        enqueue_after_commit(session, send_job(tenant_id, payout_id))


#: The actor that asks the rail how a SENT payout stands, when its callback is overdue.
RECONCILE_ACTOR: Final = "reconcile_payout"


def reconcile_job(tenant_id: uuid.UUID, payout_id: uuid.UUID) -> Job:
    """The message that makes a worker ask the rail about a SENT payout: IDs only."""
    return Job(RECONCILE_ACTOR, SEND_QUEUE, (str(tenant_id), str(payout_id)))


async def unsettled_payouts(
    session: AsyncSession, *, after: timedelta, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SENT payouts the rail accepted more than ``after`` ago without a settlement heard of
    (the rail may have given up calling back): ``(tenant_id, payout_id)``. Platform scope."""
    return await repository.unsettled_sent(session, sent_before=utcnow() - after, limit=limit)


def reconcile(session: AsyncSession, payouts: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have the rail asked about each of ``payouts`` once the session commits."""
    for tenant_id, payout_id in payouts:
        enqueue_after_commit(session, reconcile_job(tenant_id, payout_id))


async def reconcile_payout(
    unit_of_work: UnitOfWork,
    rail: PayoutRail,
    *,
    tenant_id: uuid.UUID,
    payout_id: uuid.UUID,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Ask the rail how a SENT payout stands and, when it is final, apply it as its callback
    would have (the same handlers: a settlement heard of twice posts once). What was done:
    ``"SKIPPED"`` (not SENT), ``"PENDING"`` (the rail has not settled it), or the handler's
    outcome (``"applied"``, ``"duplicate"``, ``"superseded"``)."""
    async with unit_of_work() as session:
        payout = await repository.lock(
            session, tenant_id=tenant_id, payout_id=payout_id, skip_locked=False
        )
        if payout is None or payout.payout_state is not PayoutState.SENT:
            return "SKIPPED"
        provider_id = payout.provider_payout_id
    assert provider_id is not None  # SENT records the rail's ID
    state = await rail.payout(provider_id)
    if not state.status.final:
        return "PENDING"
    kind = (
        PaymentEventType.PAYOUT_SETTLED
        if state.status is PayoutStatus.SETTLED
        else PaymentEventType.PAYOUT_FAILED
    )
    event = PayoutEvent(
        event_id=f"poll:{provider_id}",
        type=kind,
        payout_id=provider_id,
        reference=state.reference,
        amount=state.amount,
        occurred_at=state.settled_at or clock(),
        failure_reason=state.failure_reason,
    )
    handler = apply_settlement if kind is PaymentEventType.PAYOUT_SETTLED else apply_failure
    async with unit_of_work() as session:
        said = await handler(session, event)
    return said or "applied"


# -- the rail's callbacks -------------------------------------------------------------------------


async def _payout_of(session: AsyncSession, event: PayoutEvent) -> Payout:
    """The payout the event's reference names, locked. A reference that is not one of ours is
    refused for good; one of ours not visible yet (its transaction not committed) is an error
    the rail retries."""
    try:
        payout_id = uuid.UUID(event.reference)
    except ValueError:
        raise DomainError(ErrorCode.NOT_FOUND, "no such payout", "reference") from None
    payout = await repository.lock_by_id(session, payout_id)
    if payout is None:
        raise LookupError(f"no payout {payout_id} (yet)")
    if event.amount != payout.net:
        raise DomainError(
            ErrorCode.INVALID_AMOUNT, "the rail reports another amount than was sent", "amount"
        )
    return payout


async def _locked_deal(session: AsyncSession, payout: Payout) -> Deal:
    deal = await deals_repository.deal(session, payout.deal_id, for_update=True)
    if deal is None:  # pragma: no cover - the platform scope sees every deal
        raise _not_found()
    return deal


async def _value_date(session: AsyncSession, deal: Deal, payout: Payout, at: datetime) -> date:
    if payout.value_date is not None:
        return payout.value_date
    funder = await deals_repository.funder(session, deal.tenant_id)
    return deal_policy.funder_day(funder.time_zone if funder is not None else None, at)


async def apply_settlement(session: AsyncSession, event: PayoutEvent) -> str | None:
    """``payout.settled``: the payout SETTLED, the loan ACTIVE with its schedule from the
    value date, the disbursement posted, the deal DISBURSING -> ACTIVE. ``"duplicate"`` for a
    payout settled already, ``"superseded"`` for one that failed."""
    payout = await _payout_of(session, event)
    state = payout.payout_state
    if state is PayoutState.SETTLED:
        return "duplicate"
    if state is PayoutState.FAILED:
        return "superseded"
    deal = await _locked_deal(session, payout)
    now = await transaction_now(session)
    value_date = await _value_date(session, deal, payout, event.occurred_at)
    payout.state = PayoutState.SETTLED.value
    payout.settled_at = event.occurred_at
    payout.provider_payout_id = payout.provider_payout_id or event.payout_id
    payout.next_attempt_at = None
    payout.updated_at = now
    round_ = await reviews.latest_round(session, tenant_id=deal.tenant_id, deal_id=deal.id)
    approval = await reviews.review(
        session, tenant_id=deal.tenant_id, deal_id=deal.id, stage=ReviewStage.SECOND, round=round_
    )
    if approval is None or approval.approved_rate is None:  # pragma: no cover - disbursed
        raise DomainError(ErrorCode.INVALID_TRANSITION, "the deal has no approval", "dealId")
    loan, entry = await loans.open_loan(
        session,
        deal,
        payout_id=payout.id,
        amount=payout.amount,
        fee=payout.fee,
        annual_rate=approval.approved_rate,
        value_date=value_date,
    )
    if deal.status is DealStatus.DISBURSING:
        async with refusing(session, deals.deal_refusals(deal.channel)):
            deal.status = DealStatus.ACTIVE
            deal.updated_at = now
            await session.flush()
        await deals.record_transition(
            session,
            SYSTEM,
            deal,
            "activate",
            from_status=DealStatus.DISBURSING,
            payout_id=str(payout.id),
            loan_id=str(loan.id),
            entry_id=str(entry.id),
            value_date=value_date.isoformat(),
        )
    return None


async def _fail(
    session: AsyncSession, tenant_id: uuid.UUID, payout_id: uuid.UUID, *, reason: str
) -> bool:
    """Fail a payout that is not final, and move its deal back to SIGNED with the alert;
    whether it changed anything."""
    payout = await repository.lock(
        session, tenant_id=tenant_id, payout_id=payout_id, skip_locked=False
    )
    if payout is None or payout.payout_state.final:
        return False
    return await _failed(session, payout, reason=reason)


async def _failed(session: AsyncSession, payout: Payout, *, reason: str) -> bool:
    deal = await _locked_deal(session, payout)
    now = await transaction_now(session)
    payout.state = PayoutState.FAILED.value
    payout.failure_reason = reason[:200]
    payout.next_attempt_at = None
    payout.updated_at = now
    await session.flush()
    if deal.status is DealStatus.DISBURSING:
        async with refusing(session, deals.deal_refusals(deal.channel)):
            deal.status = DealStatus.SIGNED
            deal.updated_at = now
            await session.flush()
        await deals.record_transition(
            session,
            SYSTEM,
            deal,
            "payout_failed",
            from_status=DealStatus.DISBURSING,
            payout_id=str(payout.id),
            failure_reason=reason,
        )
    return True


async def apply_failure(session: AsyncSession, event: PayoutEvent) -> str | None:
    """``payout.failed``: the payout FAILED (nothing was paid, nothing is posted), the deal
    DISBURSING -> SIGNED with the ``deal.payout_failed`` alert. ``"duplicate"`` for a payout
    that failed already, ``"superseded"`` for one that settled."""
    payout = await _payout_of(session, event)
    state = payout.payout_state
    if state is PayoutState.FAILED:
        return "duplicate"
    if state is PayoutState.SETTLED:
        return "superseded"
    await _failed(session, payout, reason=event.failure_reason or "FAILED")
    return None


__all__ = [
    "RECONCILE_ACTOR",
    "SEND_ACTOR",
    "SEND_QUEUE",
    "BeneficiaryInput",
    "DisburseOutcome",
    "SendResult",
    "apply_failure",
    "apply_settlement",
    "disburse",
    "overdue_payouts",
    "reconcile",
    "reconcile_job",
    "reconcile_payout",
    "resend",
    "send_job",
    "send_payout",
    "unsettled_payouts",
]
