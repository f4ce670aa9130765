"""Use cases on pledges of warehouse receipts (rules in ``domain.pledges.policy``).

* :func:`request_pledges`: when a WAREHOUSE_RECEIPT_PLEDGE deal becomes SIGNED, one REQUESTED
  pledge per receipt, each with its filing job enqueued after commit.
* :func:`register_pledge`: one delivery of the filing job. The pledge is claimed for a lease in
  one short transaction, the registry is asked outside any transaction (the pledge's ID is the
  idempotency key, so a retry never files twice), and the answer recorded in another:
  REGISTERED with the filing number, or REFUSED. A retryable failure is retried with backoff a
  bounded number of times; the last one raises the alert ``deal.pledge_unknown``. A lost
  message is found again by the sweeper (:func:`overdue_pledges`).
* :func:`confirm_custody`: the warehouse's user confirms it holds the goods under the filing.
* :func:`release_pledge`: the funder lets the receipt go once the debt is gone; the receipt is
  unlocked at once and the filing's cancellation at the registry is enqueued after commit.
* :func:`deregister_pledge`: one delivery of the cancellation job, the way
  :func:`register_pledge` files (its own idempotency key, ``<pledge id>:cancel``); the last
  failed attempt raises the alert ``deal.pledge_deregistration_unknown``. The sweeper re-sends
  overdue cancellations too (:func:`overdue_cancellations`).
* :func:`pledge_statuses`: what disbursement checks (``domain.payouts``).

Use cases flush and never commit; refusals raise :class:`DomainError`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.collateral import policy as collateral_policy
from domain.collateral import repository as collateral
from domain.deals import repository as deals_repository
from domain.deals.models import Deal
from domain.events import repository as events
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now, utcnow
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Scope
from domain.loans import repository as loans
from domain.loans.models import LoanStatus
from domain.parties import repository as parties
from domain.persistence.after_commit import Job, enqueue_after_commit
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.pledges import policy, repository
from domain.pledges.models import Pledge, PledgeStatus
from domain.pledges.ports import (
    Party,
    PledgeRegistry,
    Registration,
    RegistrationRefused,
    RegistrationRequest,
    RegistryError,
)
from domain.products.models import ProductLine

#: The actor that files one pledge at the registry, and its queue.
REGISTER_ACTOR: Final = "register_pledge"
REGISTER_QUEUE: Final = "pledges"
#: The actor that cancels one released pledge's filing at the registry (same queue).
DEREGISTER_ACTOR: Final = "deregister_pledge"

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]

# The funder's registered name, for the filing. A bare table clause: the domain does not
# import the tenants package (DESIGN.md section 4).


def register_job(tenant_id: uuid.UUID, pledge_id: uuid.UUID, *, delay_ms: int | None = None) -> Job:
    """The message that makes a worker file a pledge: IDs only."""
    return Job(REGISTER_ACTOR, REGISTER_QUEUE, (str(tenant_id), str(pledge_id)), delay_ms)


def deregister_job(
    tenant_id: uuid.UUID, pledge_id: uuid.UUID, *, delay_ms: int | None = None
) -> Job:
    """The message that makes a worker cancel a released pledge's filing: IDs only."""
    return Job(DEREGISTER_ACTOR, REGISTER_QUEUE, (str(tenant_id), str(pledge_id)), delay_ms)


def _not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "the deal has no pledge of this receipt", "dealId")


# -- requested when the deal is signed ------------------------------------------------------------


async def request_pledges(session: AsyncSession, deal: Deal) -> list[uuid.UUID]:
    """One REQUESTED pledge of each receipt of a WAREHOUSE_RECEIPT_PLEDGE ``deal`` (nothing for
    other lines), its filing job enqueued after commit; idempotent (a receipt the deal has
    pledged already is left alone). The IDs of the pledges created. For the transition to
    SIGNED, in its transaction."""
    if deal.product_line is not ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
        return []
    receipts = await collateral.receipts_by_ids(session, list(deal.warehouse_receipt_ids))
    now = await transaction_now(session)
    created: list[uuid.UUID] = []
    for receipt_id in deal.warehouse_receipt_ids:
        receipt = receipts.get(receipt_id)
        if receipt is None:  # pragma: no cover - a deal's funder sees the receipts it claimed
            raise DomainError(ErrorCode.NOT_FOUND, "no such warehouse receipt", "receiptId")
        pledge_id = new_id()
        async with refusing(
            session,
            {
                "uq_pledges_active_receipt": DomainError(
                    ErrorCode.RECEIPT_ALREADY_PLEDGED,
                    "the receipt is pledged to another deal",
                    "receiptId",
                )
            },
        ):
            inserted = await repository.insert_if_absent(
                session,
                {
                    "tenant_id": deal.tenant_id,
                    "id": pledge_id,
                    "deal_id": deal.id,
                    "receipt_id": receipt_id,
                    "warehouse_organization_id": receipt.warehouse_organization_id,
                    "status": PledgeStatus.REQUESTED.value,
                    "max_attempts": policy.MAX_ATTEMPTS,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        if inserted:
            created.append(pledge_id)
            enqueue_after_commit(session, register_job(deal.tenant_id, pledge_id))
    if created:
        await events.append(
            session,
            tenant_id=deal.tenant_id,
            type="deal.pledges_requested",
            aggregate_type="Deal",
            aggregate_id=deal.id,
            payload={"pledge_ids": [str(p) for p in created]},
        )
    return created


# -- filing at the registry -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileResult:
    """What one delivery of ``register_pledge`` did; ``retry_in_ms`` when it wants another."""

    outcome: str
    retry_in_ms: int | None = None
    attempt: int | None = None


def _ms(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000) + 1)


async def _registration_request(session: AsyncSession, pledge: Pledge) -> RegistrationRequest:
    receipt = await collateral.receipt(session, pledge.receipt_id)
    if receipt is None:  # pragma: no cover - the pledge's receipt exists (foreign key)
        raise _not_found()
    orgs = await parties.organizations_by_ids(
        session, [receipt.owner_organization_id, receipt.warehouse_organization_id]
    )
    owner = orgs[receipt.owner_organization_id]
    warehouse = orgs[receipt.warehouse_organization_id]
    funder = await deals_repository.funder(session, pledge.tenant_id)
    if funder is None:  # pragma: no cover - the platform scope sees every funder
        raise _not_found()
    return RegistrationRequest(
        pledgor=Party(owner.name, owner.social_credit_code),
        pledgee_name=funder.name,
        warehouse=Party(warehouse.name, warehouse.social_credit_code),
        receipt_number=receipt.number,
        goods_description=receipt.goods_description,
        quantity=receipt.quantity,
        unit=receipt.unit,
        declared_value=collateral_policy.declared_value(receipt.quantity, receipt.unit_price),
        # The pledge's own ID: the answer names the row, and a retry never files twice.
        reference=str(pledge.id),
        idempotency_key=str(pledge.id),
    )


async def register_pledge(
    unit_of_work: UnitOfWork,
    registry: PledgeRegistry,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    backoff_ms: Callable[[int], int],
    clock: Callable[[], datetime] = utcnow,
    timeout_seconds: float = 30.0,
) -> FileResult:
    """One delivery of a pledge's filing job (see the module's docstring). ``unit_of_work``
    opens a unit of work that sees the pledge's receipt and parties (the platform scope: the
    filing names the warehouse and the cargo owner)."""
    async with unit_of_work() as session:
        pledge = await repository.lock(
            session, tenant_id=tenant_id, pledge_id=pledge_id, skip_locked=True
        )
        if pledge is None:
            return FileResult("SKIPPED")
        now = clock()
        decision = policy.claim(
            pledge.pledge_status, pledge.attempts, pledge.max_attempts, pledge.next_attempt_at, now
        )
        if decision is policy.Claim.DONE:
            return FileResult("DONE")
        if decision is policy.Claim.EXHAUSTED:
            if pledge.next_attempt_at is not None:
                pledge.next_attempt_at = None
                pledge.updated_at = now
            return FileResult("EXHAUSTED", attempt=pledge.attempts)
        if decision is policy.Claim.NOT_DUE:
            assert pledge.next_attempt_at is not None
            return FileResult("NOT_DUE", _ms(pledge.next_attempt_at - now))
        pledge.attempts += 1
        pledge.next_attempt_at = now + policy.LEASE
        pledge.updated_at = now
        attempt = pledge.attempts
        max_attempts = pledge.max_attempts
        deal_id = pledge.deal_id
        request = await _registration_request(session, pledge)

    try:
        async with asyncio.timeout(timeout_seconds):
            registration = await registry.register(request)
    except RegistrationRefused as refusal:
        async with unit_of_work() as session:
            await _record_refusal(
                session,
                tenant_id=tenant_id,
                pledge_id=pledge_id,
                deal_id=deal_id,
                refusal=refusal,
                now=clock(),
            )
        return FileResult("REFUSED", attempt=attempt)
    except (RegistryError, TimeoutError) as error:
        wait = backoff_ms(attempt) if attempt < max_attempts else None
        async with unit_of_work() as session:
            await _record_failure(
                session,
                tenant_id=tenant_id,
                pledge_id=pledge_id,
                deal_id=deal_id,
                attempt=attempt,
                wait=wait,
                error=error,
                now=clock(),
            )
        if wait is None:
            return FileResult("EXHAUSTED", attempt=attempt)
        return FileResult("RETRY", wait, attempt)
    async with unit_of_work() as session:
        await _record_registration(
            session,
            tenant_id=tenant_id,
            pledge_id=pledge_id,
            deal_id=deal_id,
            registration=registration,
            now=clock(),
        )
    return FileResult("REGISTERED", attempt=attempt)


async def _record_refusal(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    deal_id: uuid.UUID,
    refusal: RegistrationRefused,
    now: datetime,
) -> None:
    """The registry refused the filing: REQUESTED -> REFUSED (final), with the event."""
    pledge = await repository.lock(
        session, tenant_id=tenant_id, pledge_id=pledge_id, skip_locked=False
    )
    if pledge is None or pledge.pledge_status is not PledgeStatus.REQUESTED:
        return
    pledge.status = PledgeStatus.REFUSED.value
    pledge.refusal_code = refusal.code[:64]
    pledge.last_error = policy.error_text(refusal)
    pledge.next_attempt_at = None
    pledge.updated_at = now
    await events.append(
        session,
        tenant_id=tenant_id,
        type="deal.pledge_refused",
        aggregate_type="Deal",
        aggregate_id=deal_id,
        payload={"pledge_id": str(pledge_id), "code": refusal.code},
    )


async def _record_failure(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    deal_id: uuid.UUID,
    attempt: int,
    wait: int | None,
    error: BaseException,
    now: datetime,
    record: Callable[..., Awaitable[bool]] = repository.record_attempt_failed,
    alert: str = "deal.pledge_unknown",
) -> None:
    """A retryable failure of a call to the registry (the filing by default; ``record`` and
    ``alert`` name the cancellation's): the next attempt after ``wait`` ms, or (None) the
    alert. Every attempt's outcome is unknown then: the registry may have acted on it, and an
    operator checks with the registry."""
    recorded = await record(
        session,
        tenant_id=tenant_id,
        pledge_id=pledge_id,
        attempt=attempt,
        next_attempt_at=None if wait is None else now + timedelta(milliseconds=wait),
        error=policy.error_text(error),
        now=now,
    )
    if recorded and wait is None:
        await events.append(
            session,
            tenant_id=tenant_id,
            type=alert,
            aggregate_type="Deal",
            aggregate_id=deal_id,
            payload={"pledge_id": str(pledge_id), "attempts": attempt},
        )


async def _record_registration(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    deal_id: uuid.UUID,
    registration: Registration,
    now: datetime,
) -> None:
    """The filing made: REQUESTED -> REGISTERED with the filing number, and the event."""
    pledge = await repository.lock(
        session, tenant_id=tenant_id, pledge_id=pledge_id, skip_locked=False
    )
    if pledge is None or pledge.pledge_status is not PledgeStatus.REQUESTED:
        return
    pledge.status = PledgeStatus.REGISTERED.value
    pledge.registration_id = registration.registration_id
    pledge.filing_number = registration.filing_number
    pledge.registered_at = registration.registered_at
    pledge.next_attempt_at = None
    pledge.updated_at = now
    await events.append(
        session,
        tenant_id=tenant_id,
        type="deal.pledge_registered",
        aggregate_type="Deal",
        aggregate_id=deal_id,
        payload={"pledge_id": str(pledge_id), "filing_number": registration.filing_number},
    )


#: A pledge due this long ago has lost its message: the sweeper re-sends it.
SWEEP_GRACE: Final = timedelta(seconds=30)


async def overdue_pledges(
    session: AsyncSession, *, grace: timedelta = SWEEP_GRACE, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """REQUESTED pledges due more than ``grace`` ago (their message was lost, or their worker
    died): ``(tenant_id, pledge_id)``. Platform scope."""
    return await repository.due(session, overdue_before=utcnow() - grace, limit=limit)


def resend(session: AsyncSession, pledges: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``pledges`` filed again once the session commits."""
    for tenant_id, pledge_id in pledges:
        enqueue_after_commit(session, register_job(tenant_id, pledge_id))


async def overdue_cancellations(
    session: AsyncSession, *, grace: timedelta = SWEEP_GRACE, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """RELEASED pledges whose filing's cancellation was due more than ``grace`` ago:
    ``(tenant_id, pledge_id)``. Platform scope."""
    return await repository.cancellations_due(session, overdue_before=utcnow() - grace, limit=limit)


def resend_cancellations(session: AsyncSession, pledges: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``pledges``' filing cancelled again once the session commits."""
    for tenant_id, pledge_id in pledges:
        enqueue_after_commit(session, deregister_job(tenant_id, pledge_id))


# -- cancelling a released pledge's filing ------------------------------------------------------


async def deregister_pledge(
    unit_of_work: UnitOfWork,
    registry: PledgeRegistry,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    backoff_ms: Callable[[int], int],
    clock: Callable[[], datetime] = utcnow,
    timeout_seconds: float = 30.0,
) -> FileResult:
    """One delivery of a released pledge's cancellation job: the row claimed for a lease in
    one short transaction, the registry asked outside any transaction under
    :func:`policy.cancellation_key`, the answer recorded in another (``deregistered_at``, or
    a retryable failure with backoff; after the last attempt, or a refusal, the alert
    ``deal.pledge_deregistration_unknown`` for an operator)."""
    async with unit_of_work() as session:
        pledge = await repository.lock(
            session, tenant_id=tenant_id, pledge_id=pledge_id, skip_locked=True
        )
        if pledge is None:
            return FileResult("SKIPPED")
        now = clock()
        decision = policy.claim_cancellation(
            pledge.pledge_status,
            deregistered=pledge.deregistered_at is not None,
            attempts=pledge.deregister_attempts,
            max_attempts=pledge.max_attempts,
            due=pledge.deregister_next_attempt_at,
            now=now,
        )
        if decision is policy.Claim.DONE:
            return FileResult("DONE")
        if decision is policy.Claim.EXHAUSTED:
            if pledge.deregister_next_attempt_at is not None:
                pledge.deregister_next_attempt_at = None
                pledge.updated_at = now
            return FileResult("EXHAUSTED", attempt=pledge.deregister_attempts)
        if decision is policy.Claim.NOT_DUE:
            assert pledge.deregister_next_attempt_at is not None
            return FileResult("NOT_DUE", _ms(pledge.deregister_next_attempt_at - now))
        registration_id = pledge.registration_id
        if registration_id is None:  # pragma: no cover - a released pledge was registered
            return FileResult("DONE")
        pledge.deregister_attempts += 1
        pledge.deregister_next_attempt_at = now + policy.LEASE
        pledge.updated_at = now
        attempt = pledge.deregister_attempts
        max_attempts = pledge.max_attempts
        deal_id = pledge.deal_id

    try:
        async with asyncio.timeout(timeout_seconds):
            await registry.cancel(
                registration_id, idempotency_key=policy.cancellation_key(pledge_id)
            )
    except (RegistryError, TimeoutError) as error:
        retryable = not isinstance(error, RegistryError) or error.retryable
        wait = backoff_ms(attempt) if retryable and attempt < max_attempts else None
        async with unit_of_work() as session:
            await _record_failure(
                session,
                tenant_id=tenant_id,
                pledge_id=pledge_id,
                deal_id=deal_id,
                attempt=attempt,
                wait=wait,
                error=error,
                now=clock(),
                record=repository.record_cancellation_failed,
                alert="deal.pledge_deregistration_unknown",
            )
        if wait is None:
            return FileResult("EXHAUSTED" if retryable else "REFUSED", attempt=attempt)
        return FileResult("RETRY", wait, attempt)
    async with unit_of_work() as session:
        pledge = await repository.lock(
            session, tenant_id=tenant_id, pledge_id=pledge_id, skip_locked=False
        )
        if pledge is not None and pledge.deregistered_at is None:
            now = clock()
            pledge.deregistered_at = now
            pledge.deregister_next_attempt_at = None
            pledge.updated_at = now
            await events.append(
                session,
                tenant_id=tenant_id,
                type="deal.pledge_deregistered",
                aggregate_type="Deal",
                aggregate_id=deal_id,
                payload={"pledge_id": str(pledge_id), "filing_number": pledge.filing_number},
            )
    return FileResult("DEREGISTERED", attempt=attempt)


# -- the warehouse and the funder -----------------------------------------------------------------


def _details(pledge: Pledge) -> dict[str, object]:
    return {
        "deal_id": str(pledge.deal_id),
        "receipt_id": str(pledge.receipt_id),
        "filing_number": pledge.filing_number,
        "status": pledge.status,
    }


def _transition_refusals() -> dict[str, DomainError]:
    # Built per call: a raised refusal carries its cause, so none is shared.
    return {
        "ck_pledges_transition": DomainError(
            ErrorCode.INVALID_TRANSITION, "the pledge changed meanwhile", "warehouseReceiptId"
        )
    }


async def confirm_custody(session: AsyncSession, actor: Actor, *, receipt_id: uuid.UUID) -> Pledge:
    """The warehouse's user confirms that the warehouse holds the goods of ``receipt_id`` under
    the receipt's registered pledge, and releases them only on the funder's word: REGISTERED
    -> CUSTODY_CONFIRMED (scope collateral:write; a WAREHOUSE_USER of the receipt's
    warehouse). NOT_FOUND when the receipt has no active pledge the actor sees."""
    require(actor, Scope.COLLATERAL_WRITE)
    found = await repository.active_of_receipt(session, receipt_id)
    if found is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "the receipt has no active pledge", "warehouseReceiptId"
        )
    pledge_id = found.id
    policy.check_confirmer(actor, found.warehouse_organization_id)
    pledge = await repository.by_id(session, pledge_id, for_update=True)
    if pledge is None:  # pragma: no cover - the warehouse may lock what it sees
        raise _not_found()
    policy.check_confirmable(pledge.pledge_status)
    now = await transaction_now(session)
    async with refusing(session, _transition_refusals()):
        pledge.status = PledgeStatus.CUSTODY_CONFIRMED.value
        pledge.confirmed_at = now
        pledge.confirmed_by_user_id = actor.user_id
        pledge.updated_at = now
        await session.flush()
    # The warehouse writes party-level records (it is no member of the funder's tenant); the
    # funder sees the confirmation on the pledge itself.
    await audit.record(
        session,
        actor,
        action="pledge.confirm_custody",
        object_type="Pledge",
        object_id=pledge.id,
        tenant_id=None,
        details=_details(pledge),
    )
    await events.append(
        session,
        tenant_id=None,
        type="pledge.custody_confirmed",
        aggregate_type="Pledge",
        aggregate_id=pledge.id,
        payload=_details(pledge),
    )
    return pledge


async def release_pledge(
    session: AsyncSession, actor: Actor, *, deal_id: uuid.UUID, receipt_id: uuid.UUID
) -> Pledge:
    """The funder releases the deal's pledge of ``receipt_id`` once its loan is settled or the
    deal ended without a loan (scope loans:disburse; a person of the deal's funder); the
    receipt is unlocked at once, and the filing's cancellation at the registry is enqueued
    after commit (:func:`deregister_pledge`)."""
    require(actor, Scope.LOANS_DISBURSE)
    if actor.tenant_id is None:
        raise _not_found()
    found = next(
        (
            p
            for p in await repository.of_deal(session, tenant_id=actor.tenant_id, deal_id=deal_id)
            if p.receipt_id == receipt_id
        ),
        None,
    )
    if found is None:
        raise _not_found()
    # After the lookup: another funder's principal learns nothing about the deal.
    if actor.user_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "a pledge is released by a person", "dealId")
    pledge_id = found.id
    deal = await deals_repository.deal(session, found.deal_id, for_update=True)
    if deal is None:  # pragma: no cover - the funder sees its deals
        raise _not_found()
    pledge = await repository.lock(
        session, tenant_id=found.tenant_id, pledge_id=pledge_id, skip_locked=False
    )
    if pledge is None:  # pragma: no cover - locked what it saw
        raise _not_found()
    loan = await loans.of_deal(session, tenant_id=deal.tenant_id, deal_id=deal.id)
    policy.check_releasable(
        pledge.pledge_status, deal.status, None if loan is None else LoanStatus(loan.status)
    )
    now = await transaction_now(session)
    async with refusing(session, _transition_refusals()):
        pledge.status = PledgeStatus.RELEASED.value
        pledge.released_at = now
        pledge.released_by_user_id = actor.user_id
        # The filing's cancellation at the registry, due at once (the job after commit).
        pledge.deregister_next_attempt_at = now
        pledge.updated_at = now
        await session.flush()
    enqueue_after_commit(session, deregister_job(pledge.tenant_id, pledge.id))
    await audit.record(
        session,
        actor,
        action="pledge.release",
        object_type="Pledge",
        object_id=pledge.id,
        tenant_id=pledge.tenant_id,
        details=_details(pledge),
    )
    await events.append(
        session,
        tenant_id=pledge.tenant_id,
        type="deal.pledge_released",
        aggregate_type="Deal",
        aggregate_id=pledge.deal_id,
        payload=_details(pledge),
    )
    return pledge


async def pledges_of_deal(session: AsyncSession, actor: Actor, deal: Deal) -> list[Pledge]:
    """The pledges of a deal the actor sees (scope deals:read), by the one read rule
    (:func:`policy.pledge_visible`): the funder's principals and the platform; empty for
    anyone else."""
    require(actor, Scope.DEALS_READ)
    if not policy.pledge_visible(actor, deal.tenant_id, None):
        return []
    return await repository.of_deal(session, tenant_id=deal.tenant_id, deal_id=deal.id)


async def active_pledge_of_receipt(
    session: AsyncSession, actor: Actor, receipt_id: uuid.UUID
) -> Pledge | None:
    """The active pledge of a receipt, to whoever the read rule shows it (scope
    collateral:read): its funder, the receipt's warehouse, the platform."""
    require(actor, Scope.COLLATERAL_READ)
    found = await repository.active_of_receipt(session, receipt_id)
    if found is None or not policy.pledge_visible(
        actor, found.tenant_id, found.warehouse_organization_id
    ):
        return None
    return found


async def pledge_statuses(session: AsyncSession, deal: Deal) -> dict[uuid.UUID, PledgeStatus]:
    """The status of the deal's latest pledge of each receipt, by receipt."""
    return {
        p.receipt_id: p.pledge_status
        for p in await repository.of_deal(session, tenant_id=deal.tenant_id, deal_id=deal.id)
    }


async def check_disbursable(session: AsyncSession, deal: Deal) -> None:
    """For disbursement: a WAREHOUSE_RECEIPT_PLEDGE deal's receipts all pledged, registered
    and custody-confirmed (PLEDGE_NOT_REGISTERED, PLEDGE_NOT_CONFIRMED); other lines pass."""
    if deal.product_line is not ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
        return
    policy.check_disbursable(deal.warehouse_receipt_ids, await pledge_statuses(session, deal))


__all__ = [
    "DEREGISTER_ACTOR",
    "REGISTER_ACTOR",
    "REGISTER_QUEUE",
    "SWEEP_GRACE",
    "FileResult",
    "UnitOfWork",
    "active_pledge_of_receipt",
    "check_disbursable",
    "confirm_custody",
    "deregister_job",
    "deregister_pledge",
    "overdue_cancellations",
    "overdue_pledges",
    "pledge_statuses",
    "pledges_of_deal",
    "register_job",
    "register_pledge",
    "release_pledge",
    "request_pledges",
    "resend",
    "resend_cancellations",
]
