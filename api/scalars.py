"""Shared GraphQL value types: Money as ``{amount: "1234.56", currency: "CNY"}`` (decimal
strings, never floats), its input twin, and the ``Rate`` scalar for rates and ratios."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from api.ids import ID_SCALARS
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money, MoneyError, UnknownCurrency

# Optional sign, digits, optional fraction: no exponent, NaN, infinity, blanks or separators.
# The sign is accepted so that a negative rate reaches the domain and is refused there with a
# typed code rather than as a malformed value.
_RATE_RE: Final = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{1,30})?", re.ASCII)


def _parse_rate(value: object) -> Decimal:
    # A JSON number has already been through a float: refuse it, as a string keeps every digit.
    if not isinstance(value, str) or not _RATE_RE.fullmatch(value):
        raise ValueError('a Rate is a decimal string such as "0.12"')
    return Decimal(value)


def format_rate(value: Decimal) -> str:
    """A rate as a plain decimal string without trailing zeros: 0.12000000 -> "0.12"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


#: A rate in Python; the schema maps it to the ``Rate`` scalar (see :data:`SCALAR_MAP`).
Rate = NewType("Rate", Decimal)

#: Custom scalars by Python type, for ``StrawberryConfig(scalar_map=...)``.
SCALAR_MAP: Final[dict[object, ScalarDefinition]] = {
    **ID_SCALARS,
    Rate: strawberry.scalar(
        name="Rate",
        description='A rate or ratio as a decimal string; a fraction, so "0.12" is 12 %. '
        "Input must be a string (never a JSON number) without exponent.",
        serialize=format_rate,
        parse_value=_parse_rate,
    ),
}


@strawberry.type(name="Money", description="An exact amount of money in one currency.")
class MoneyType:
    amount: str = strawberry.field(
        description='Decimal string in major units with the currency\'s decimals, e.g. "1234.56".'
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. CNY.")

    @classmethod
    def of(cls, money: Money) -> MoneyType:
        """The GraphQL form of a domain amount."""
        return cls(amount=money.to_decimal_string(), currency=money.currency)


@strawberry.input(description="An amount of money: a decimal string and a currency.")
class MoneyInput:
    amount: str = strawberry.field(
        description='Decimal string in major units, at most the currency\'s decimals: "1234.56".'
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. CNY.")

    def to_money(self, field: str) -> Money:
        """The domain amount, or a typed refusal naming ``field``."""
        try:
            return Money.parse(self.amount, self.currency)
        except UnknownCurrency as exc:
            raise DomainError(ErrorCode.INVALID_CURRENCY, str(exc), f"{field}.currency") from exc
        except (MoneyError, TypeError) as exc:
            raise DomainError(ErrorCode.INVALID_AMOUNT, str(exc), f"{field}.amount") from exc
