"""The approved terms a loan contract is written from, and their digest.

:class:`ContractTerms` holds everything a contract states: the parties, the amount, the rate,
the term, the repayment schedule, the fees and penalties, and for a warehouse-receipt pledge
the pledged receipts. It is checked on construction, so a renderer never sees a schedule
that does not add up to the amount or an order-financing contract without its core
enterprise.

:func:`terms_digest` is the SHA-256 of a canonical encoding of the terms. Two sets of terms
that say the same thing have the same digest; any changed term gives another digest. A
contract version records the digest of the terms it was written from, so a later change of
terms is recognised by comparing digests, and the version written from the old terms is
void. The version number and the issue date are not terms: they tell versions apart and
date them, and leaving them out lets a re-issued draft with unchanged terms be recognised.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod
from domain.products.models import ProductLine, TermUnit

__all__ = [
    "CANONICAL_FORMAT",
    "ContractParties",
    "ContractParty",
    "ContractTerms",
    "InvalidContractTerms",
    "PledgedReceipt",
    "ScheduleLine",
    "canonical_terms",
    "terms_digest",
]

#: Names the canonical encoding; it changes (and so does every digest) only if the encoding
#: itself does, never silently.
CANONICAL_FORMAT: Final[str] = "lendgraph.contract-terms.v1"


class InvalidContractTerms(ValueError):
    """The terms contradict themselves (a schedule that does not repay the amount, a missing
    party, a rate that is not a Decimal...). Terms come from an approved deal, so this is a
    defect upstream, not a user's input error."""


def _require_text(value: object, field: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidContractTerms(f"{field} must be a non-blank string")


def _require_rate(value: object, field: str) -> None:
    # A float rate has already lost digits the contract would print; refuse it outright.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidContractTerms(f"{field} must be a finite Decimal")
    if value < 0 or value >= 1:
        raise InvalidContractTerms(f"{field} must be a fraction in [0, 1), got {value}")


def _require_count(value: object, field: str, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise InvalidContractTerms(f"{field} must be an int >= {minimum}")


@dataclass(frozen=True, slots=True)
class ContractParty:
    """One party to a contract: its legal name and its identity number (an 18-character
    resident ID for a person, a unified social credit code for an organisation)."""

    name: str
    id_number: str

    def __post_init__(self) -> None:
        _require_text(self.name, "party name")
        _require_text(self.id_number, "party id number")


@dataclass(frozen=True, slots=True)
class ContractParties:
    """Who signs: the borrower, the funder (lender) and, for order financing only, the core
    enterprise (the buyer whose order is financed) as the third party."""

    borrower: ContractParty
    funder: ContractParty
    core_enterprise: ContractParty | None = None


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """One instalment of the repayment schedule."""

    due_date: date
    principal: Money
    interest: Money
    total: Money

    def __post_init__(self) -> None:
        if not isinstance(self.due_date, date):
            raise InvalidContractTerms("schedule due date must be a date")
        if self.principal.is_negative() or self.interest.is_negative():
            raise InvalidContractTerms("schedule amounts must not be negative")
        # Raises CurrencyMismatch for mixed currencies, which is a ValueError as well.
        if self.principal + self.interest != self.total:
            raise InvalidContractTerms(
                f"instalment due {self.due_date}: {self.principal} + {self.interest} "
                f"is not {self.total}"
            )


@dataclass(frozen=True, slots=True)
class PledgedReceipt:
    """A warehouse receipt pledged as security: its number, the goods, their quantity and
    the unit the quantity counts (``"t"``, ``"吨"``, ``"bale"``)."""

    number: str
    goods: str
    quantity: Decimal
    unit: str

    def __post_init__(self) -> None:
        _require_text(self.number, "receipt number")
        _require_text(self.goods, "receipt goods")
        _require_text(self.unit, "receipt unit")
        if not isinstance(self.quantity, Decimal) or not self.quantity.is_finite():
            raise InvalidContractTerms("receipt quantity must be a finite Decimal")
        if self.quantity <= 0:
            raise InvalidContractTerms("receipt quantity must be positive")


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """Everything one version of a contract states; validated on construction.

    Rates are fractions: ``annual_rate=Decimal("0.072")`` is 7.2 % a year,
    ``late_penalty_daily_rate=Decimal("0.0005")`` is 0.05 % a day on the overdue amount after
    ``late_penalty_grace_days`` days, ``prepayment_penalty_rate`` applies to the principal
    repaid early. ``issued_on`` is the date the version is issued (printed on the contract
    and used as the PDF's creation date).
    """

    contract_number: str
    version: int
    issued_on: date
    product_line: ProductLine
    parties: ContractParties
    amount: Money
    annual_rate: Decimal
    term: int
    term_unit: TermUnit
    repayment_method: RepaymentMethod
    schedule: tuple[ScheduleLine, ...]
    origination_fee: Money
    late_penalty_daily_rate: Decimal
    late_penalty_grace_days: int
    prepayment_penalty_rate: Decimal
    pledged_receipts: tuple[PledgedReceipt, ...] = ()

    def __post_init__(self) -> None:
        _require_text(self.contract_number, "contract number")
        _require_count(self.version, "version", 1)
        _require_count(self.term, "term", 1)
        _require_count(self.late_penalty_grace_days, "late penalty grace days", 0)
        if not isinstance(self.issued_on, date):
            raise InvalidContractTerms("issued_on must be a date")
        ProductLine(self.product_line)
        TermUnit(self.term_unit)
        RepaymentMethod(self.repayment_method)
        _require_rate(self.annual_rate, "annual rate")
        _require_rate(self.late_penalty_daily_rate, "late penalty daily rate")
        _require_rate(self.prepayment_penalty_rate, "prepayment penalty rate")
        if not self.amount.is_positive():
            raise InvalidContractTerms("the amount must be positive")
        if self.origination_fee.currency != self.amount.currency:
            raise InvalidContractTerms("the origination fee is in another currency")
        if self.origination_fee.is_negative():
            raise InvalidContractTerms("the origination fee must not be negative")
        self._check_schedule()
        self._check_product_line()

    def _check_schedule(self) -> None:
        if not isinstance(self.schedule, tuple) or not self.schedule:
            raise InvalidContractTerms("the schedule must be a non-empty tuple of lines")
        currency = self.amount.currency
        previous: date | None = None
        for line in self.schedule:
            if line.total.currency != currency:
                raise InvalidContractTerms("a schedule line is in another currency")
            if previous is not None and line.due_date <= previous:
                raise InvalidContractTerms("schedule due dates must be strictly increasing")
            previous = line.due_date
        if previous is not None and previous <= self.issued_on:
            raise InvalidContractTerms("the last instalment falls due before the issue date")
        repaid = Money.sum((line.principal for line in self.schedule), currency)
        if repaid != self.amount:
            raise InvalidContractTerms(f"the schedule repays {repaid}, not {self.amount}")

    def _check_product_line(self) -> None:
        tripartite = self.product_line is ProductLine.ORDER_FINANCING
        if tripartite != (self.parties.core_enterprise is not None):
            raise InvalidContractTerms(
                "a core enterprise is a party to order financing and to nothing else"
            )
        pledge = self.product_line is ProductLine.WAREHOUSE_RECEIPT_PLEDGE
        if not isinstance(self.pledged_receipts, tuple):
            raise InvalidContractTerms("pledged receipts must be a tuple")
        if pledge != bool(self.pledged_receipts):
            raise InvalidContractTerms(
                "pledged receipts belong to, and are required by, a warehouse-receipt pledge"
            )
        numbers = [receipt.number for receipt in self.pledged_receipts]
        if len(set(numbers)) != len(numbers):
            raise InvalidContractTerms("a receipt is pledged twice")

    @property
    def currency(self) -> str:
        """The contract's currency (of the amount, the schedule and the fee)."""
        return self.amount.currency

    @property
    def total_interest(self) -> Money:
        """Interest over the whole schedule."""
        return Money.sum((line.interest for line in self.schedule), self.currency)

    @property
    def total_repayable(self) -> Money:
        """Principal plus interest over the whole schedule (fees excluded)."""
        return Money.sum((line.total for line in self.schedule), self.currency)


# -- canonical encoding ------------------------------------------------------------------------


def _text(value: str) -> str:
    # NFC: a name typed with a combining mark and the same name precomposed are one name.
    return unicodedata.normalize("NFC", value)


def _decimal(value: Decimal) -> str:
    # 0.072 and 0.0720 are the same rate; plain notation, never an exponent.
    return format(value.normalize(), "f")


def _money(value: Money) -> dict[str, object]:
    return {"currency": value.currency, "minor": value.amount_minor}


def _party(value: ContractParty | None) -> dict[str, object] | None:
    if value is None:
        return None
    return {"id_number": _text(value.id_number), "name": _text(value.name)}


def canonical_terms(terms: ContractTerms) -> Mapping[str, object]:
    """The terms as plain JSON values: strings NFC-normalised, rates as plain decimal
    strings without trailing zeros, money as integer minor units and currency, enums by
    value, dates in ISO form, receipts ordered by number. ``version`` and ``issued_on`` are
    left out (see the module docstring)."""
    receipts = sorted(terms.pledged_receipts, key=lambda receipt: _text(receipt.number))
    return {
        "format": CANONICAL_FORMAT,
        "contract_number": _text(terms.contract_number),
        "product_line": ProductLine(terms.product_line).value,
        "parties": {
            "borrower": _party(terms.parties.borrower),
            "funder": _party(terms.parties.funder),
            "core_enterprise": _party(terms.parties.core_enterprise),
        },
        "amount": _money(terms.amount),
        "annual_rate": _decimal(terms.annual_rate),
        "term": terms.term,
        "term_unit": TermUnit(terms.term_unit).value,
        "repayment_method": RepaymentMethod(terms.repayment_method).value,
        "schedule": [
            {
                "due_date": line.due_date.isoformat(),
                "principal": _money(line.principal),
                "interest": _money(line.interest),
                "total": _money(line.total),
            }
            for line in terms.schedule
        ],
        "origination_fee": _money(terms.origination_fee),
        "late_penalty": {
            "daily_rate": _decimal(terms.late_penalty_daily_rate),
            "grace_days": terms.late_penalty_grace_days,
        },
        "prepayment_penalty_rate": _decimal(terms.prepayment_penalty_rate),
        "pledged_receipts": [
            {
                "number": _text(receipt.number),
                "goods": _text(receipt.goods),
                "quantity": _decimal(receipt.quantity),
                "unit": _text(receipt.unit),
            }
            for receipt in receipts
        ],
    }


def terms_digest(terms: ContractTerms) -> str:
    """Lower-case hex SHA-256 of the canonical terms, serialised as compact JSON with sorted
    keys in UTF-8. Equal for terms that say the same thing, different for any changed term."""
    encoded = json.dumps(
        canonical_terms(terms), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()
