"""The rules of a disbursement. Pure: no I/O, no clock.

* **Who.** A finance officer of the deal's own funder (scope ``loans:disburse``), a person
  (the database records who asked), and not the person who decided the deal's second review:
  four eyes (DESIGN.md section 5).
* **What.** The amount approved by the second review is lent; the product's origination fee,
  "an upfront fee, deducted from the amount paid out", is withheld from it, so the rail pays
  ``amount - fee``. A fee that leaves nothing to pay out is refused.
* **Once.** The idempotency key names one disbursement for good: the same key for the same
  request is that payout again; the same key for another request (another deal, amount, value
  date or beneficiary) is IDEMPOTENCY_KEY_REUSED.
* **Sending.** A worker claims a REQUESTED payout for a lease; a retryable failure of the rail
  (outcome unknown) is retried with the same rail idempotency key, with backoff, a bounded
  number of times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from domain.deals.models import DealStatus
from domain.kernel import attempts as attempts_policy
from domain.kernel.attempts import Claim
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.payouts.models import PayoutState

#: Attempts at the rail before a payout whose outcome stays unknown is left to an operator.
MAX_ATTEMPTS: Final = 8
#: How long one attempt may hold a REQUESTED payout before another delivery may take it.
LEASE: Final = timedelta(seconds=60)
#: The longest idempotency key accepted (the rail's limit too).
MAX_KEY_LENGTH: Final = 255
#: The longest beneficiary name sent to the rail.
MAX_NAME_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class Amounts:
    """What a disbursement lends, withholds and pays out."""

    amount: Money
    fee: Money
    net: Money


def amounts(approved: Money, fee: Money) -> Amounts:
    """The amount lent (``approved``), the fee withheld and the net paid out. INVALID_AMOUNT
    when the fee leaves nothing to pay out."""
    net = approved - fee
    if not net.is_positive():
        raise DomainError(
            ErrorCode.INVALID_AMOUNT, "the fee withheld leaves nothing to pay out", "dealId"
        )
    return Amounts(amount=approved, fee=fee, net=net)


def check_key(key: str) -> str:
    """The idempotency key, stripped: REQUIRED when blank, TOO_LONG past the limit."""
    clean = key.strip()
    if not clean:
        raise DomainError(
            ErrorCode.REQUIRED, "a disbursement needs an idempotency key", "idempotencyKey"
        )
    if len(clean) > MAX_KEY_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG, f"at most {MAX_KEY_LENGTH} characters", "idempotencyKey"
        )
    return clean


def check_signed(status: DealStatus) -> None:
    """Only a SIGNED deal is disbursed (INVALID_TRANSITION)."""
    if status is not DealStatus.SIGNED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"a {status.value} deal cannot be disbursed", "dealId"
        )


def check_four_eyes(user_id: uuid.UUID, second_reviewer: uuid.UUID | None) -> None:
    """FOUR_EYES when the person disbursing decided the deal's second review."""
    if second_reviewer is not None and user_id == second_reviewer:
        raise DomainError(
            ErrorCode.FOUR_EYES,
            "you approved this deal: a different person disburses it",
            "dealId",
        )


@dataclass(frozen=True, slots=True)
class Request:
    """What one disbursement asks for, as compared under its idempotency key."""

    deal_id: uuid.UUID
    amount: Money
    value_date: date | None
    beneficiary_name: str
    beneficiary_account: str
    beneficiary_bank_code: str


def check_same_request(first: Request, again: Request) -> None:
    """IDEMPOTENCY_KEY_REUSED unless ``again`` asks for what ``first`` asked for."""
    if first != again:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for another disbursement",
            "idempotencyKey",
        )


def claim(
    state: PayoutState, attempts: int, max_attempts: int, due: datetime | None, now: datetime
) -> Claim:
    """Whether a delivery at ``now`` sends the payout (only a REQUESTED one is sent)."""
    return attempts_policy.claim(
        finished=state is not PayoutState.REQUESTED,
        attempts=attempts,
        max_attempts=max_attempts,
        due=due,
        now=now,
    )


def error_text(error: BaseException) -> str:
    """A failed attempt's error as recorded: its type and message, cut to the column."""
    return f"{type(error).__name__}: {error}"[:1000]


__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "MAX_KEY_LENGTH",
    "Amounts",
    "Claim",
    "Request",
    "amounts",
    "check_four_eyes",
    "check_key",
    "check_same_request",
    "check_signed",
    "claim",
    "error_text",
]
