"""GraphQL types of contracts. A contract is not a Node: it is read through its deal
(``Deal.contract``) or a mutation's payload, under the deal's own read rule."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from api.products.types import RepaymentMethod, TermUnit
from api.scalars import MoneyType, Rate
from domain.contracts import models
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod as DomainRepaymentMethod
from domain.products.models import TermUnit as DomainTermUnit

ContractStatus = strawberry.enum(
    models.ContractStatus,
    description="Where a version of a contract is: DRAFT (written from the current approved "
    "terms, not yet sent for signature), VOID (superseded by a change of terms), SENT (out "
    "for e-signature), SIGNED (every signature in), DECLINED (a signer declined: the deal "
    "cannot be disbursed on it; it may be sent again), EXPIRED (the signing window or the "
    "signing deadline closed) or FAILED (the envelope could not be created; it may be sent "
    "again).",
)


@strawberry.type(description="One signer of a contract, in signing order.")
class ContractSigner:
    role: str = strawberry.field(description="BORROWER, CORE_ENTERPRISE or FUNDER.")
    order: int = strawberry.field(description="Place in the signing order, from 1.")
    status: str = strawberry.field(description="PENDING, SIGNED or DECLINED.")
    signed_at: datetime | None = strawberry.field(description="When they signed, if known.")


def _money(value: Any) -> MoneyType:
    return MoneyType.of(Money(int(value["minor"]), str(value["currency"])))


@strawberry.type(description="One instalment of a contract's repayment schedule.")
class ContractScheduleLine:
    due_date: date = strawberry.field(description="When the instalment falls due.")
    principal: MoneyType = strawberry.field(description="Principal repaid.")
    interest: MoneyType = strawberry.field(description="Interest paid.")
    total: MoneyType = strawberry.field(description="Principal plus interest.")


@strawberry.type(description="What a contract states, in short: the approved terms.")
class ContractTermsSummary:
    contract_number: str = strawberry.field(
        description="The contract's number, the same for every version of one deal's contract."
    )
    amount: MoneyType = strawberry.field(description="The amount approved and lent.")
    annual_rate: Rate = strawberry.field(description="The nominal annual rate approved.")
    term: int = strawberry.field(description="The term, in the term unit.")
    term_unit: TermUnit = strawberry.field(description="Months or days.")  # type: ignore[valid-type]
    repayment_method: RepaymentMethod = strawberry.field(  # type: ignore[valid-type]
        description="How principal and interest are repaid."
    )
    origination_fee: MoneyType = strawberry.field(description="The upfront fee.")
    issued_on: date = strawberry.field(description="The date the version was issued.")
    schedule: list[ContractScheduleLine] = strawberry.field(
        description="The repayment schedule, instalment by instalment."
    )

    @classmethod
    def of(cls, terms: dict[str, Any]) -> ContractTermsSummary:
        """The summary of a version's stored (canonical) terms."""
        return cls(
            contract_number=str(terms["contract_number"]),
            amount=_money(terms["amount"]),
            annual_rate=Rate(Decimal(str(terms["annual_rate"]))),
            term=int(terms["term"]),
            term_unit=DomainTermUnit(terms["term_unit"]),
            repayment_method=DomainRepaymentMethod(terms["repayment_method"]),
            origination_fee=_money(terms["origination_fee"]),
            issued_on=date.fromisoformat(str(terms["issued_on"])),
            schedule=[
                ContractScheduleLine(
                    due_date=date.fromisoformat(str(line["due_date"])),
                    principal=_money(line["principal"]),
                    interest=_money(line["interest"]),
                    total=_money(line["total"]),
                )
                for line in terms["schedule"]
            ],
        )


@strawberry.type(
    name="Contract",
    description="One version of a deal's loan contract, written from its approved terms and "
    "rendered to a PDF kept with its SHA-256. A changed term voids the version and writes the "
    "next one.",
)
class ContractType:
    version: int = strawberry.field(description="The version, from 1.")
    status: ContractStatus = strawberry.field(  # type: ignore[valid-type]
        description="DRAFT, VOID, SENT, SIGNED, DECLINED or EXPIRED."
    )
    sha256: str = strawberry.field(
        description="Lower-case hex SHA-256 of the PDF, to check a copy against."
    )
    terms_digest: str = strawberry.field(
        description="SHA-256 of the canonical terms the version was written from."
    )
    pages: int = strawberry.field(description="The PDF's number of pages.")
    created_at: datetime = strawberry.field(description="When the version was written.")
    terms: ContractTermsSummary = strawberry.field(description="What the version states.")
    signers: list[ContractSigner] = strawberry.field(
        description="Its signers in signing order, once sent for signature (empty before)."
    )
    signed_sha256: str | None = strawberry.field(
        description="Lower-case hex SHA-256 of the signed document, once SIGNED."
    )

    @classmethod
    def from_row(cls, row: Any) -> ContractType:
        """The contract of an ORM instance."""
        return cls(
            version=row.version,
            status=row.status,
            sha256=row.sha256,
            terms_digest=row.terms_digest,
            pages=row.pages,
            created_at=row.created_at,
            terms=ContractTermsSummary.of(row.terms),
            signers=[
                ContractSigner(
                    role=str(x["role"]),
                    order=int(x["order"]),
                    status=str(x["status"]),
                    signed_at=None
                    if not x.get("signed_at")
                    else datetime.fromisoformat(str(x["signed_at"])),
                )
                for x in (row.signers or [])
            ],
            signed_sha256=row.signed_sha256,
        )


__all__ = [
    "ContractScheduleLine",
    "ContractSigner",
    "ContractStatus",
    "ContractTermsSummary",
    "ContractType",
]
