"""The rules of a recorded commodity price: what a valid one is. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.collateral.policy import clean_commodity_code, clean_text, positive_amount
from domain.kernel.errors import DomainError, ErrorCode, collect
from domain.kernel.money import Money

__all__ = ["MAX_SOURCE", "MAX_UNIT", "PriceInput", "validate_price"]

#: As ``warehouse_receipts.unit``: a price is matched to a receipt by its unit.
MAX_UNIT = 16
MAX_SOURCE = 200


@dataclass(frozen=True, slots=True)
class PriceInput:
    """A price to record, validated."""

    commodity_code: str
    price: Money
    unit: str
    as_of: datetime
    source: str


def validate_price(
    *,
    commodity_code: str,
    price: Money,
    unit: str,
    as_of: datetime,
    source: str,
    now: datetime,
) -> PriceInput:
    """A price of one unit: a commodity code (upper-cased), a positive amount, a unit, the
    moment it was set (with a time zone, and not after ``now``: a price is observed, never
    announced ahead) and where it comes from. Every problem is reported at once."""
    problems: list[DomainError] = []
    code = ""
    try:
        code = clean_commodity_code(commodity_code)
    except DomainError as exc:
        problems.append(exc)
    try:
        positive_amount(price, "price")
    except DomainError as exc:
        problems.append(exc)
    clean_unit = ""
    try:
        clean_unit = clean_text(unit, "unit", MAX_UNIT)
    except DomainError as exc:
        problems.append(exc)
    clean_source = ""
    try:
        clean_source = clean_text(source, "source", MAX_SOURCE)
    except DomainError as exc:
        problems.append(exc)
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        problems.append(DomainError(ErrorCode.INVALID, "give a time zone offset", "asOf"))
    elif as_of > now:
        problems.append(
            DomainError(ErrorCode.INVALID_DATE_RANGE, "a price cannot be as of the future", "asOf")
        )
    collect(problems)
    return PriceInput(
        commodity_code=code, price=price, unit=clean_unit, as_of=as_of, source=clean_source
    )
