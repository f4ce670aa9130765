"""The rules of preparing a contract, pure: when a deal's contract may be written, its number,
how the approved terms become :class:`~domain.contracts.terms.ContractTerms`, whether a
version is still current, and who reads a deal's contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
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
    "TERMS_CHANGED",
    "ApprovedTerms",
    "SignerSpec",
    "build_terms",
    "check_preparable",
    "check_sendable",
    "check_value_date",
    "contract_number",
    "contract_visible",
    "funder_party",
    "parse_reference",
    "schedule_lines",
    "signer_specs",
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


def check_sendable(deal_status: DealStatus, contract_status: str | None) -> None:
    """A contract is sent for signature from an APPROVED deal whose current contract is a
    DRAFT; INVALID_TRANSITION otherwise (NOT_FOUND when the deal has no contract)."""
    if deal_status is not DealStatus.APPROVED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {deal_status.value} deal is not sent for signature",
            "dealId",
        )
    if contract_status is None:
        raise DomainError(ErrorCode.NOT_FOUND, "the deal has no contract to sign", "dealId")
    if contract_status != "DRAFT":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {contract_status} contract is not sent for signature",
            "dealId",
        )


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
    """The contract an envelope's reference names (its first word is the contract's ID), or
    ``None`` for a reference that is not one of ours."""
    words = reference.split()
    if not words:
        return None
    try:
        return uuid.UUID(words[0])
    except ValueError:
        return None
