"""The rules of preparing a contract, pure: when a deal's contract may be written, its number,
how the approved terms become :class:`~domain.contracts.terms.ContractTerms`, whether a
version is still current, and who reads a deal's contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from domain.contracts.terms import (
    ContractParties,
    ContractParty,
    ContractTerms,
    InvalidContractTerms,
    PledgedReceipt,
    ScheduleLine,
    canonical_terms,
)
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.loans.policy import Schedule
from domain.products import policy as product_policy
from domain.products.models import ProductLine, TermUnit
from domain.products.policy import ProductTerms

__all__ = [
    "MAX_RESENDS",
    "RESENDABLE",
    "TERMS_CHANGED",
    "ApprovedTerms",
    "EnvelopeClaim",
    "SignerSpec",
    "build_terms",
    "check_preparable",
    "check_sendable",
    "check_value_date",
    "claim_envelope",
    "contract_number",
    "contract_visible",
    "envelope_key",
    "envelope_reference",
    "error_text",
    "funder_party",
    "parse_reference",
    "parse_sending",
    "schedule_lines",
    "signer_specs",
    "signing_deadline_passed",
    "stored_terms",
]

#: Why a version was voided when the terms it was written from changed.
TERMS_CHANGED: Final[str] = "terms changed"


@dataclass(frozen=True, slots=True)
class ApprovedTerms:
    """What the second review approved, and until when."""

    amount: Money
    rate: Decimal
    expires_at: datetime | None


def check_preparable(status: DealStatus, approval: ApprovedTerms | None, now: datetime) -> None:
    """A contract is written for an APPROVED deal whose approval has not lapsed (the expiry
    sweep may not have run yet: the instant decides, not the status alone).
    INVALID_TRANSITION otherwise."""
    if status is not DealStatus.APPROVED or approval is None:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a contract is prepared for an APPROVED deal, not a {status.value} one",
            "dealId",
        )
    if approval.expires_at is not None and approval.expires_at <= now:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "the deal's approval has expired: no contract is prepared on it",
            "dealId",
        )


def funder_party(name: str, registration_number: str | None) -> ContractParty:
    """The funder as its contracts name it: by its unified social credit code, which the
    e-signature service checks its signature against. FUNDER_NOT_REGISTERED when the operator
    has not recorded one."""
    if registration_number is None:
        raise DomainError(
            ErrorCode.FUNDER_NOT_REGISTERED,
            "the funder's registration number is not recorded: no contract names it",
            "dealId",
        )
    return ContractParty(name, registration_number)


def check_value_date(value_date: date, today: date) -> None:
    """The value date (when the loan starts to accrue) is not before the issue date: a
    contract does not start in the past. INVALID otherwise."""
    if value_date < today:
        raise DomainError(
            ErrorCode.INVALID,
            f"the value date {value_date.isoformat()} is before today ({today.isoformat()})",
            "valueDate",
        )


def contract_number(deal_id: uuid.UUID) -> str:
    """The contract's number: the same for every version of one deal's contract (versions are
    told apart by their version number), derived from the deal so nothing need be counted."""
    return f"LG-{deal_id.hex[:16].upper()}"


def schedule_lines(schedule: Schedule) -> tuple[ScheduleLine, ...]:
    """The engine's instalments as the contract prints them."""
    return tuple(
        ScheduleLine(
            due_date=line.due_date,
            principal=line.principal,
            interest=line.interest,
            total=line.total,
        )
        for line in schedule.installments
    )


def build_terms(
    *,
    deal_id: uuid.UUID,
    issued_on: date,
    product_line: ProductLine,
    parties: ContractParties,
    approved: ApprovedTerms,
    term: int,
    term_unit: TermUnit,
    product: ProductTerms,
    schedule: Schedule,
    receipts: tuple[PledgedReceipt, ...] = (),
    version: int = 1,
) -> ContractTerms:
    """The contract's terms: the approved amount and rate, the deal's term, the product
    version's repayment method, fee (on the approved amount) and penalties, the schedule,
    and the pledged receipts of a pledge. Raises :class:`DomainError` (INVALID) when the
    terms do not add up, which would be a defect upstream rather than the caller's."""
    try:
        return ContractTerms(
            contract_number=contract_number(deal_id),
            version=version,
            issued_on=issued_on,
            product_line=product_line,
            parties=parties,
            amount=approved.amount,
            annual_rate=approved.rate,
            term=term,
            term_unit=term_unit,
            repayment_method=product.repayment_method,
            schedule=schedule_lines(schedule),
            origination_fee=product_policy.origination_fee(product, approved.amount),
            late_penalty_daily_rate=product.late_penalty.daily_rate,
            late_penalty_grace_days=product.late_penalty.grace_days,
            prepayment_penalty_rate=product.prepayment_penalty.rate,
            pledged_receipts=receipts,
        )
    except InvalidContractTerms as exc:
        raise DomainError(ErrorCode.INVALID, f"the contract's terms: {exc}", "dealId") from exc


def stored_terms(terms: ContractTerms) -> dict[str, Any]:
    """What a version row keeps of its terms, for display: the canonical terms (the digest is
    of exactly these), with the version and the issue date that the digest leaves out."""
    return {
        **canonical_terms(terms),
        "version": terms.version,
        "issued_on": terms.issued_on.isoformat(),
    }


def contract_visible(
    actor: Actor,
    *,
    tenant_id: uuid.UUID,
    applicant_person_id: uuid.UUID | None,
    applicant_organization_id: uuid.UUID | None,
) -> bool:
    """Who reads a deal's contract: the funder's own principals, the operator, and the
    applicant itself (the person, or a user of the company, who will sign it). Not a partner
    app or anyone else who sees the deal."""
    if actor.is_platform or actor.tenant_id == tenant_id:
        return True
    if actor.user_id is None:
        return False
    if applicant_person_id is not None and actor.person_id == applicant_person_id:
        return True
    return applicant_organization_id is not None and actor.organization_id == (
        applicant_organization_id
    )


# -- signing ------------------------------------------------------------------------------------

#: The roles in the order they sign: the borrower, the core enterprise (if any), the funder.
SIGNING_ORDER: Final[tuple[str, ...]] = ("BORROWER", "CORE_ENTERPRISE", "FUNDER")
_PARTY_OF_ROLE: Final[dict[str, str]] = {
    "BORROWER": "borrower",
    "CORE_ENTERPRISE": "core_enterprise",
    "FUNDER": "funder",
}


@dataclass(frozen=True, slots=True)
class SignerSpec:
    """One signer of a contract, from the parties its terms name."""

    role: str
    order: int
    name: str
    id_number: str


#: How many times a contract may be sent again after a decline or a failure.
MAX_RESENDS: Final[int] = 3
#: The contract statuses a funder may send again (in a new envelope).
RESENDABLE: Final[frozenset[str]] = frozenset({"DECLINED", "FAILED"})


def check_sendable(
    deal_status: DealStatus,
    contract_status: str | None,
    *,
    resends: int = 0,
    deadline: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether a contract may be sent for signature, and whether it is a resend.

    * The first sending: an APPROVED deal whose current contract is a DRAFT.
    * A resend: a SIGNING deal whose current contract is DECLINED or FAILED, at most
      :data:`MAX_RESENDS` times (RESEND_LIMIT_REACHED past it).
    * Either way, not once the signing deadline (the approval's ``expires_at``) has passed
      (SIGNING_DEADLINE_PASSED): a deal signed after its approval lapsed would be disbursed
      on terms nobody approves any more.

    NOT_FOUND when the deal has no contract; INVALID_TRANSITION for any other status."""
    if deal_status not in (DealStatus.APPROVED, DealStatus.SIGNING):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {deal_status.value} deal is not sent for signature",
            "dealId",
        )
    if contract_status is None:
        raise DomainError(ErrorCode.NOT_FOUND, "the deal has no contract to sign", "dealId")
    resend = deal_status is DealStatus.SIGNING
    if resend and contract_status not in RESENDABLE:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {contract_status} contract of a SIGNING deal is not sent again: only a declined"
            " or failed one is",
            "dealId",
        )
    if not resend and contract_status != "DRAFT":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {contract_status} contract is not sent for signature",
            "dealId",
        )
    if resend and resends >= MAX_RESENDS:
        raise DomainError(
            ErrorCode.RESEND_LIMIT_REACHED,
            f"the contract was sent again {MAX_RESENDS} times already",
            "dealId",
        )
    if deadline is not None and now is not None and signing_deadline_passed(deadline, now):
        raise DomainError(
            ErrorCode.SIGNING_DEADLINE_PASSED,
            "the deal's approval has lapsed: its contract is no longer sent for signature",
            "dealId",
        )
    return resend


def signing_deadline_passed(deadline: datetime | None, now: datetime) -> bool:
    """A deal in SIGNING must be signed by its approval's ``expires_at`` (the product
    version's approval window): whether ``now`` is past it (the instant itself counts as
    past, as for the approval's own expiry)."""
    return deadline is not None and deadline <= now


def envelope_key(contract_id: uuid.UUID, resends: int) -> str:
    """The idempotency key of a contract's envelope: the contract's ID for the first sending
    (as before resends existed), ``<id>:resend:<n>`` for the n-th resend, so a retried
    creation gets its envelope back and a resend gets a new one."""
    return str(contract_id) if resends == 0 else f"{contract_id}:resend:{resends}"


def envelope_reference(contract_id: uuid.UUID, resends: int, suffix: str = "") -> str:
    """The envelope's reference: its first word names the contract (``<id>`` for the first
    sending, ``<id>#<n>`` for the n-th resend); ``suffix`` follows after a space."""
    head = str(contract_id) if resends == 0 else f"{contract_id}#{resends}"
    return f"{head} {suffix}".strip()


class EnvelopeClaim(StrEnum):
    """What a delivery of ``send_envelope`` may do with a contract."""

    #: Ask the service to create the envelope.
    SEND = "SEND"
    #: Nothing: the envelope is recorded, or the contract is no longer SENT.
    DONE = "DONE"
    #: Nothing yet: another attempt holds its lease, or its backoff has not run out.
    NOT_DUE = "NOT_DUE"
    #: Every attempt is spent: the contract is to be recorded FAILED.
    EXHAUSTED = "EXHAUSTED"


def claim_envelope(
    status: str,
    envelope_id: str | None,
    *,
    attempts: int,
    max_attempts: int,
    due: datetime | None,
    now: datetime,
) -> EnvelopeClaim:
    """Whether a delivery at ``now`` asks the service for the contract's envelope."""
    if status != "SENT" or envelope_id is not None:
        return EnvelopeClaim.DONE
    if attempts >= max_attempts:
        return EnvelopeClaim.EXHAUSTED
    if due is not None and due > now:
        return EnvelopeClaim.NOT_DUE
    return EnvelopeClaim.SEND


def error_text(error: BaseException) -> str:
    """A failed attempt's error as recorded: its type and message, cut to the column."""
    return f"{type(error).__name__}: {error}"[:1000]


def signer_specs(terms: dict[str, Any]) -> tuple[SignerSpec, ...]:
    """The signers of a contract in signing order, from its stored terms' parties: the
    borrower first, then the core enterprise where there is one, then the funder."""
    parties = terms["parties"]
    out: list[SignerSpec] = []
    for role in SIGNING_ORDER:
        party = parties.get(_PARTY_OF_ROLE[role])
        if party is None:
            continue
        out.append(
            SignerSpec(
                role=role, order=len(out) + 1, name=party["name"], id_number=party["id_number"]
            )
        )
    return tuple(out)


def parse_reference(reference: str) -> uuid.UUID | None:
    """The contract an envelope's reference names (its first word is the contract's ID,
    with ``#<n>`` after it for a resend), or ``None`` for a reference that is not one of
    ours."""
    parsed = parse_sending(reference)
    return None if parsed is None else parsed[0]


def parse_sending(reference: str) -> tuple[uuid.UUID, int] | None:
    """The contract and the sending (0 for the first, n for the n-th resend) an envelope's
    reference names, or ``None`` for a reference that is not one of ours."""
    words = reference.split()
    if not words:
        return None
    head, mark, number = words[0].partition("#")
    try:
        contract_id = uuid.UUID(head)
    except ValueError:
        return None
    if not mark:
        return contract_id, 0
    if not number.isdigit() or number.startswith("0"):
        return None
    return contract_id, int(number)
