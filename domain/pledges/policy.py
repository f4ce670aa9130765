"""The rules of a pledge of warehouse receipts. Pure: no I/O, no clock.

* **Order.** Registration first, then custody: the registry files the pledge (REQUESTED ->
  REGISTERED) and only then does the warehouse's user confirm that it holds the goods under
  that public filing number (REGISTERED -> CUSTODY_CONFIRMED). A warehouse that confirmed
  before the filing would be confirming a pledge nobody else can see yet.
* **Who confirms.** Only a WAREHOUSE_USER of the receipt's own warehouse (a person).
* **Disbursement.** A WAREHOUSE_RECEIPT_PLEDGE deal is disbursed only when every one of its
  receipts has a pledge that is registered and custody-confirmed: PLEDGE_NOT_REGISTERED while
  any is missing, REQUESTED or REFUSED, else PLEDGE_NOT_CONFIRMED while any is only REGISTERED.
* **Release.** The funder (``loans:disburse``, a person) releases a registered pledge only
  when the debt it secures is gone: the deal's loan is SETTLED, or the deal ended without a
  loan (PLEDGE_NOT_RELEASABLE otherwise). A filing still in progress is not released.
* **Filing.** A worker claims a REQUESTED pledge for a lease; a retryable failure is retried
  with the same registry idempotency key, with backoff, a bounded number of times.
* **Cancellation.** A RELEASED pledge's filing is cancelled at the registry the same way (its
  own key, :func:`cancellation_key`): claimed for a lease, retried with backoff a bounded
  number of times, done once ``deregistered_at`` is recorded. The receipt is unlocked at the
  release already; the registry follows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final

from domain.deals.models import DealStatus
from domain.kernel import attempts as attempts_policy
from domain.kernel.actor import Actor
from domain.kernel.attempts import Claim
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Role
from domain.loans.models import LoanStatus
from domain.pledges.models import PledgeStatus

#: Attempts at the registry before a filing whose outcome stays unknown is left to an operator.
MAX_ATTEMPTS: Final = 8
#: How long one attempt may hold a REQUESTED pledge before another delivery may take it.
LEASE: Final = timedelta(seconds=60)

#: Deal statuses that end it without a loan (nothing was lent against the receipts).
ENDED_WITHOUT_LOAN: Final = frozenset(
    {DealStatus.REJECTED, DealStatus.WITHDRAWN, DealStatus.EXPIRED}
)


def pledge_visible(actor: Actor, tenant_id: uuid.UUID, warehouse_id: uuid.UUID | None) -> bool:
    """The one read rule of a pledge (row-level security says the same): its funder's
    principals, the users of the receipt's warehouse, and the platform."""
    return (
        actor.is_platform
        or (actor.tenant_id is not None and actor.tenant_id == tenant_id)
        or (
            warehouse_id is not None
            and actor.organization_id is not None
            and actor.organization_id == warehouse_id
        )
    )


def check_confirmer(actor: Actor, warehouse_id: uuid.UUID) -> None:
    """FORBIDDEN unless the actor is a person, a WAREHOUSE_USER of ``warehouse_id``."""
    if not (
        actor.user_id is not None
        and actor.organization_id == warehouse_id
        and Role.WAREHOUSE_USER in actor.roles
    ):
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "only the users of the receipt's warehouse confirm custody under its pledge",
            "warehouseReceiptId",
        )


def check_confirmable(status: PledgeStatus) -> None:
    """REGISTERED -> CUSTODY_CONFIRMED only (the filing comes first)."""
    if status is PledgeStatus.REGISTERED:
        return
    if status is PledgeStatus.REQUESTED:
        raise DomainError(
            ErrorCode.PLEDGE_NOT_REGISTERED,
            "the pledge is not registered yet: custody is confirmed under its filing",
            "warehouseReceiptId",
        )
    raise DomainError(
        ErrorCode.INVALID_TRANSITION, f"the pledge is {status.value}", "warehouseReceiptId"
    )


def check_releasable(
    status: PledgeStatus, deal_status: DealStatus, loan_status: LoanStatus | None
) -> None:
    """A REGISTERED or CUSTODY_CONFIRMED pledge is released once the loan is SETTLED or the
    deal ended without a loan."""
    if status not in (PledgeStatus.REGISTERED, PledgeStatus.CUSTODY_CONFIRMED):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {status.value} pledge is not released",
            "warehouseReceiptId",
        )
    if loan_status is LoanStatus.SETTLED:
        return
    if loan_status is None and deal_status in ENDED_WITHOUT_LOAN:
        return
    raise DomainError(
        ErrorCode.PLEDGE_NOT_RELEASABLE,
        "the pledge secures a loan that is not settled",
        "warehouseReceiptId",
    )


def check_disbursable(
    receipt_ids: Iterable[uuid.UUID], pledges: Mapping[uuid.UUID, PledgeStatus]
) -> None:
    """Every receipt of the deal pledged, registered and custody-confirmed (``pledges``: the
    status of each receipt's pledge)."""
    statuses = [pledges.get(receipt) for receipt in receipt_ids]
    if not statuses or any(
        s is None or s in (PledgeStatus.REQUESTED, PledgeStatus.REFUSED) for s in statuses
    ):
        raise DomainError(
            ErrorCode.PLEDGE_NOT_REGISTERED,
            "every receipt's pledge must be registered before disbursement",
            "dealId",
        )
    if any(s is not PledgeStatus.CUSTODY_CONFIRMED for s in statuses):
        raise DomainError(
            ErrorCode.PLEDGE_NOT_CONFIRMED,
            "the warehouse must confirm custody of every pledged receipt before disbursement",
            "dealId",
        )


def claim(
    status: PledgeStatus, attempts: int, max_attempts: int, due: datetime | None, now: datetime
) -> Claim:
    """Whether a delivery at ``now`` files the pledge (only a REQUESTED one is filed)."""
    return attempts_policy.claim(
        finished=status is not PledgeStatus.REQUESTED,
        attempts=attempts,
        max_attempts=max_attempts,
        due=due,
        now=now,
    )


def claim_cancellation(
    status: PledgeStatus,
    *,
    deregistered: bool,
    attempts: int,
    max_attempts: int,
    due: datetime | None,
    now: datetime,
) -> Claim:
    """Whether a delivery at ``now`` cancels a released pledge's filing at the registry."""
    return attempts_policy.claim(
        finished=status is not PledgeStatus.RELEASED or deregistered,
        attempts=attempts,
        max_attempts=max_attempts,
        due=due,
        now=now,
    )


def cancellation_key(pledge_id: uuid.UUID) -> str:
    """The registry idempotency key of a pledge's cancellation (its filing's key is the ID)."""
    return f"{pledge_id}:cancel"


def error_text(error: BaseException) -> str:
    """A failed attempt's error as recorded: its type and message, cut to the column."""
    return f"{type(error).__name__}: {error}"[:1000]


__all__ = [
    "ENDED_WITHOUT_LOAN",
    "LEASE",
    "MAX_ATTEMPTS",
    "Claim",
    "cancellation_key",
    "check_confirmable",
    "check_confirmer",
    "check_disbursable",
    "check_releasable",
    "claim",
    "claim_cancellation",
    "error_text",
    "pledge_visible",
]
