"""What the payments context needs from a payment rail: payouts now; collections later.

:class:`PayoutRail` has two calls: :meth:`~PayoutRail.disburse` asks the rail to pay a
beneficiary and returns as soon as the rail has *accepted* the payout (``PENDING``); the rail
settles it later and says so by a signed callback (:class:`PayoutEvent`) to the URL given
with the request, and :meth:`~PayoutRail.payout` reads the payout's state at any time. A
callback may arrive before ``disburse`` returns, more than once, or never (then ``payout``
tells); whoever applies it must converge on one state whatever the order.

Errors are those of every provider call (:class:`ProviderError` and its kinds, shared with the
risk ports and re-exported here), with ``kind`` :attr:`ProviderKind.PAYMENT_RAIL`, plus the
refusals below that a payout can meet. A retryable error of ``disburse`` (a timeout, a 5xx, a
garbled answer) leaves the outcome **unknown**: the rail may have accepted the payout. It is
retried with the *same* idempotency key, which the rail answers with the payout it already
has instead of paying twice; a new key for the same payout is never the answer to a failure.

Collections (collect, auto-debit, ``payment.*`` events) will be a second protocol beside
:class:`PayoutRail` with its own requests and events; an adapter may implement both.

Pure: no I/O, no provider names, no HTTP. Amounts are :class:`~domain.kernel.money.Money`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from domain.kernel.money import Money
from domain.risk.ports import (
    AnswerNotAuthentic,
    MalformedAnswer,
    ProviderError,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RequestRejected,
)

__all__ = [
    "KIND",
    "AnswerNotAuthentic",
    "Beneficiary",
    "BeneficiaryRejected",
    "IdempotencyKeyReused",
    "MalformedAnswer",
    "PaymentEventType",
    "PayoutAcceptance",
    "PayoutEvent",
    "PayoutNotFound",
    "PayoutRail",
    "PayoutRequest",
    "PayoutState",
    "PayoutStatus",
    "ProviderError",
    "ProviderKind",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RequestRejected",
]

#: The kind every payment rail error carries.
KIND = ProviderKind.PAYMENT_RAIL


# -- errors -------------------------------------------------------------------------------------


class IdempotencyKeyReused(RequestRejected):
    """The idempotency key was already used for a payout with other details (amount,
    beneficiary, reference). Nothing was paid for this request. A caller bug, never retried:
    the key names one payout for good."""


class PayoutNotFound(RequestRejected):
    """The rail has no payout with that ID for this merchant."""


class BeneficiaryRejected(RequestRejected):
    """The rail refused the beneficiary's account before paying anything (malformed account
    number or bank code). Sending the same details again gets the same refusal."""


# -- payouts ------------------------------------------------------------------------------------


class PayoutStatus(StrEnum):
    """Where a payout stands at the rail."""

    #: Accepted, not yet settled.
    PENDING = "PENDING"
    #: The money reached the beneficiary's account. Final.
    SETTLED = "SETTLED"
    #: The rail could not pay (``failure_reason`` says why); nothing left the account. Final.
    FAILED = "FAILED"

    @property
    def final(self) -> bool:
        """Whether no later change is possible."""
        return self is not PayoutStatus.PENDING


class PaymentEventType(StrEnum):
    """What a rail's callback reports. Collections will add ``payment.*`` types."""

    PAYOUT_SETTLED = "payout.settled"
    PAYOUT_FAILED = "payout.failed"

    @property
    def payout_status(self) -> PayoutStatus:
        """The status a payout has after this event."""
        return {
            PaymentEventType.PAYOUT_SETTLED: PayoutStatus.SETTLED,
            PaymentEventType.PAYOUT_FAILED: PayoutStatus.FAILED,
        }[self]


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """Whom a payout pays: the account holder's name as the bank knows it, the account and
    its bank. The account number is personal data: it is kept out of ``repr``."""

    name: str
    account_number: str = field(repr=False)
    #: The bank's clearing code (CNAPS in China).
    bank_code: str


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """One payout to ask for.

    ``idempotency_key`` names this payout for good: the same key with the same details gets
    the same payout back (a retry after an unknown outcome), never a second one.
    ``reference`` is the caller's own reference (e.g. the loan's disbursement), echoed by the
    rail in every answer and callback. ``callback_url`` is where the rail posts the
    settlement."""

    amount: Money
    beneficiary: Beneficiary
    reference: str
    callback_url: str
    idempotency_key: str

    def __post_init__(self) -> None:
        if not self.amount.is_positive():
            raise ValueError("a payout amount must be positive")
        if not self.idempotency_key.strip():
            raise ValueError("a payout needs an idempotency key")
        if not self.reference.strip():
            raise ValueError("a payout needs a reference")
        if not self.callback_url.startswith(("https://", "http://")):
            raise ValueError("the callback URL must be an http:// or https:// URL")


@dataclass(frozen=True, slots=True)
class PayoutAcceptance:
    """The rail took the payout on: its ID, and the status it answered with (``PENDING``;
    the settlement comes by callback)."""

    payout_id: str
    #: The ID the request was sent with.
    request_id: str
    status: PayoutStatus
    reference: str


@dataclass(frozen=True, slots=True)
class PayoutState:
    """A payout as the rail holds it now."""

    payout_id: str
    request_id: str
    status: PayoutStatus
    reference: str
    amount: Money
    #: When the money arrived; only for ``SETTLED``.
    settled_at: datetime | None = None
    #: The rail's reason code (e.g. ``ACCOUNT_CLOSED``); only for ``FAILED``.
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutEvent:
    """A settlement the rail reported by callback, once its signature was verified.

    ``event_id`` is the rail's ID for this event: a repeated delivery carries the same one,
    so keeping it unique makes applying an event idempotent."""

    event_id: str
    type: PaymentEventType
    payout_id: str
    reference: str
    amount: Money
    occurred_at: datetime
    #: Only for ``payout.failed``.
    failure_reason: str | None = None

    @property
    def payout_status(self) -> PayoutStatus:
        """The payout's status after this event."""
        return self.type.payout_status


@runtime_checkable
class PayoutRail(Protocol):
    """Pays beneficiaries' bank accounts and reports the settlements."""

    async def disburse(self, request: PayoutRequest) -> PayoutAcceptance:
        """Ask for the payout; its acceptance (the settlement follows by callback). Raises
        :class:`IdempotencyKeyReused`, :class:`BeneficiaryRejected`, another
        :class:`RequestRejected`, or a retryable :class:`ProviderError` after which the
        outcome is unknown (retry with the same key)."""
        ...

    async def payout(self, payout_id: str) -> PayoutState:
        """The payout's current state. Raises :class:`PayoutNotFound` or another
        :class:`ProviderError`."""
        ...
