"""Money as integer minor units plus an ISO 4217 currency code.

Amounts are never floats: the database stores ``BIGINT`` minor units, GraphQL carries a decimal
string, and every conversion between a ``Decimal`` and minor units names its rounding mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_05UP,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    InvalidOperation,
    localcontext,
)
from types import MappingProxyType
from typing import Final

__all__ = [
    "MAX_MINOR_UNITS",
    "MINOR_UNIT_EXPONENTS",
    "ROUNDING_MODES",
    "CurrencyMismatch",
    "InvalidAmount",
    "Money",
    "MoneyError",
    "UnknownCurrency",
    "minor_unit_exponent",
    "ratio_rounder",
    "round_half_up",
    "round_minor",
    "round_ratio",
    "zero",
]

#: ISO 4217 minor-unit exponents of the currencies the platform lends in. A currency missing
#: here is refused rather than guessed, because a wrong exponent scales every amount by 100.
MINOR_UNIT_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0, "KRW": 0}
)

_EXPONENTS: Final[dict[str, int]] = dict(MINOR_UNIT_EXPONENTS)

#: Amounts are stored as PostgreSQL ``BIGINT``; anything outside it could not be persisted, so
#: it is refused at the value object instead of failing later inside a transaction.
MAX_MINOR_UNITS: Final[int] = 2**63 - 1

#: The rounding modes of :mod:`decimal`, accepted wherever a rounding parameter is taken.
ROUNDING_MODES: Final[frozenset[str]] = frozenset(
    {
        ROUND_05UP,
        ROUND_CEILING,
        ROUND_DOWN,
        ROUND_FLOOR,
        ROUND_HALF_DOWN,
        ROUND_HALF_EVEN,
        ROUND_HALF_UP,
        ROUND_UP,
    }
)

# Strict ASCII syntax: optional sign, digits, optional fraction. ``Decimal()`` alone would also
# accept "1e3", "NaN", "Infinity", "1_000", surrounding blanks and non-ASCII digits, none of
# which belongs in a monetary input.
_AMOUNT_RE: Final = re.compile(r"[+-]?(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?", re.ASCII)

# Longest accepted input; BIGINT has 19 digits, so anything longer is refused before parsing.
_MAX_INPUT_LENGTH: Final[int] = 40

# Working precision for conversions: far more digits than a BIGINT amount needs, so the only
# rounding that happens is the explicit quantize to the minor unit.
_PRECISION: Final[int] = 60
# The context of those conversions: the module's own, so that a caller's precision, rounding or
# traps cannot change an amount.
_CONTEXT: Final[Context] = Context(prec=_PRECISION)


class MoneyError(ValueError):
    """Base class of every refusal raised by this module."""


class UnknownCurrency(MoneyError):
    """The currency code is not in :data:`MINOR_UNIT_EXPONENTS`."""


class CurrencyMismatch(MoneyError):
    """Arithmetic or comparison between amounts in different currencies."""


class InvalidAmount(MoneyError):
    """Malformed, non-finite, too precise or out-of-range amount."""


def minor_unit_exponent(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit (2 for CNY, 0 for JPY).

    Raises :class:`UnknownCurrency` for a code outside :data:`MINOR_UNIT_EXPONENTS`.
    """
    try:
        return MINOR_UNIT_EXPONENTS[currency]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"unsupported currency {currency!r}") from None


def _check_rounding(rounding: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}")


def _require_finite_decimal(amount: Decimal) -> None:
    # bool and float are refused explicitly: a float has already lost the cents it claims.
    if not isinstance(amount, Decimal):
        raise TypeError(f"expected Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise InvalidAmount(f"amount must be finite, got {amount}")
    # Refuse absurd magnitudes before int() materialises a million-digit number.
    if not amount.is_zero() and amount.adjusted() > _MAX_INPUT_LENGTH:
        raise InvalidAmount("amount out of range")


def round_minor(amount_minor: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """Round a ``Decimal`` number of minor units to a whole number of minor units.

    ``ROUND_HALF_UP`` rounds ties away from zero (2.5 -> 3, -2.5 -> -3), which is what
    "half-up" means in Chinese and most lending contracts. Pass another :mod:`decimal`
    rounding mode to override.
    """
    _require_finite_decimal(amount_minor)
    _check_rounding(rounding)
    with localcontext(_CONTEXT):
        return int(amount_minor.quantize(Decimal(1), rounding=rounding))


def round_ratio(numerator: int, denominator: int, rounding: str = ROUND_HALF_UP) -> int:
    """``numerator / denominator`` rounded to a whole number with a :mod:`decimal` mode.

    The same answer as ``round_minor(Decimal(numerator) / Decimal(denominator), rounding)``
    for every mode, from integer arithmetic alone: no Decimal context is involved, so the
    result cannot depend on the caller's precision, and a tie is recognised exactly.
    """
    if type(numerator) is not int or type(denominator) is not int:
        raise TypeError("round_ratio takes two ints")
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    return ratio_rounder(rounding)(numerator, denominator)


def ratio_rounder(rounding: str = ROUND_HALF_UP) -> Callable[[int, int], int]:
    """The function ``(numerator, denominator) -> int`` that :func:`round_ratio` applies for
    ``rounding``, for a loop that rounds many quotients alike (``denominator`` must be a
    positive int; the mode is checked here, once)."""
    try:
        return _RATIO_ROUNDERS[rounding]
    except (KeyError, TypeError):
        raise ValueError(f"unknown rounding mode {rounding!r}") from None


# One function per mode: floor division gives q = floor(n / d) and 0 <= r < d, from which each
# mode's choice between q and q + 1 follows. "Toward zero" is q for n >= 0 and q + 1 below.


def _ratio_floor(n: int, d: int) -> int:
    return n // d


def _ratio_ceiling(n: int, d: int) -> int:
    return -(-n // d)


def _ratio_down(n: int, d: int) -> int:
    return n // d if n >= 0 else -(-n // d)


def _ratio_up(n: int, d: int) -> int:
    return -(-n // d) if n >= 0 else n // d


def _ratio_half_up(n: int, d: int) -> int:
    q, r = divmod(n, d)
    twice = 2 * r
    return q + 1 if twice > d or (twice == d and n > 0) else q


def _ratio_half_down(n: int, d: int) -> int:
    q, r = divmod(n, d)
    twice = 2 * r
    return q + 1 if twice > d or (twice == d and n < 0) else q


def _ratio_half_even(n: int, d: int) -> int:
    q, r = divmod(n, d)
    twice = 2 * r
    return q + 1 if twice > d or (twice == d and q % 2 == 1) else q


def _ratio_05up(n: int, d: int) -> int:
    q, r = divmod(n, d)
    if r == 0:
        return q
    toward, away = (q, q + 1) if n > 0 else (q + 1, q)
    # Away from zero when the digit kept by truncation is 0 or 5, toward zero otherwise.
    return away if abs(toward) % 5 == 0 else toward


_RATIO_ROUNDERS: Final[Mapping[str, Callable[[int, int], int]]] = MappingProxyType(
    {
        ROUND_05UP: _ratio_05up,
        ROUND_CEILING: _ratio_ceiling,
        ROUND_DOWN: _ratio_down,
        ROUND_FLOOR: _ratio_floor,
        ROUND_HALF_DOWN: _ratio_half_down,
        ROUND_HALF_EVEN: _ratio_half_even,
        ROUND_HALF_UP: _ratio_half_up,
        ROUND_UP: _ratio_up,
    }
)


def round_half_up(
    amount: Decimal,
    currency: str,
    *,
    minor_units: bool = False,
    rounding: str = ROUND_HALF_UP,
) -> Money:
    """Round ``amount`` to the minor unit of ``currency`` and return it as :class:`Money`.

    ``amount`` is in major units (yuan) unless ``minor_units`` is true (fen). Rounding is
    half-up (ties away from zero) by default; ``rounding`` takes any :mod:`decimal` mode.
    """
    if minor_units:
        minor_unit_exponent(currency)  # validate the currency before doing any work
        return Money(round_minor(amount, rounding), currency)
    return Money.from_decimal(amount, currency, rounding=rounding)


def zero(currency: str) -> Money:
    """Zero in ``currency``."""
    return Money(0, currency)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``amount_minor`` minor units (fen, cents) of ``currency``.

    Equality compares both fields, so amounts in different currencies are simply unequal;
    ordering and arithmetic between different currencies raise :class:`CurrencyMismatch`.
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True fen is a bug, not an amount.
        amount = self.amount_minor
        if type(amount) is not int:
            raise TypeError(f"amount_minor must be int, got {type(amount).__name__}")
        # Money is built for every line of every schedule: test the common case inline and
        # let minor_unit_exponent() word the refusal.
        if type(self.currency) is not str or self.currency not in _EXPONENTS:
            minor_unit_exponent(self.currency)
        if not -MAX_MINOR_UNITS <= amount <= MAX_MINOR_UNITS:
            raise InvalidAmount("amount does not fit in a 64-bit count of minor units")

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a decimal string in major units, e.g. ``Money.parse("1234.56", "CNY")``.

        Accepts an optional sign, ASCII digits and at most as many decimals as the currency
        has (``"1234.5"`` is fine for CNY, ``"1.001"`` is not, and JPY takes no decimals at
        all). Refuses floats and other non-strings, exponents, NaN, infinities, blanks and
        digit separators.
        """
        if not isinstance(text, str):
            raise TypeError(f"Money.parse takes a decimal string, got {type(text).__name__}")
        exponent = minor_unit_exponent(currency)
        if len(text) > _MAX_INPUT_LENGTH:
            raise InvalidAmount("amount string is too long")
        match = _AMOUNT_RE.fullmatch(text)
        if match is None:
            raise InvalidAmount(f"not a decimal amount: {text!r}")
        fraction = match.group("frac") or ""
        if len(fraction) > exponent:
            raise InvalidAmount(
                f"{currency} allows {exponent} decimal place(s), got {len(fraction)} in {text!r}"
            )
        # Integer arithmetic only: shift the digits instead of going through Decimal.
        minor = int(match.group("int")) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
        return cls(-minor if text.startswith("-") else minor, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str, *, rounding: str | None = None) -> Money:
        """Convert a ``Decimal`` in major units to Money.

        With ``rounding=None`` (the default) the amount must already be exact to the minor
        unit; otherwise :class:`InvalidAmount` is raised. Pass a :mod:`decimal` rounding mode
        (e.g. ``ROUND_HALF_UP``) to round instead.
        """
        _require_finite_decimal(amount)
        exponent = minor_unit_exponent(currency)
        try:
            with localcontext(_CONTEXT):
                scaled = amount.scaleb(exponent)
                if rounding is None:
                    if scaled != scaled.to_integral_value():
                        raise InvalidAmount(f"{amount} has more decimals than {currency} allows")
                    minor = int(scaled)
                else:
                    _check_rounding(rounding)
                    minor = int(scaled.quantize(Decimal(1), rounding=rounding))
        except InvalidOperation as exc:  # exponent overflow of an absurd input
            raise InvalidAmount(f"amount out of range: {amount}") from exc
        return cls(minor, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``."""
        return cls(0, currency)

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """Sum of ``items``, all in ``currency`` (zero when empty)."""
        total = cls(0, currency)
        for item in items:
            total = total + item
        return total

    # -- views --------------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Decimal places of this currency's minor unit."""
        return MINOR_UNIT_EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        """The amount in major units as an exact ``Decimal`` (``Decimal("1234.56")``)."""
        return Decimal(self.amount_minor).scaleb(-self.exponent, context=_CONTEXT)

    def to_decimal_string(self) -> str:
        """The amount in major units with exactly the currency's decimals: ``"1234.56"``,
        ``"-0.05"``, ``"1234"`` for JPY. ``Money.parse`` reads it back unchanged."""
        exponent = self.exponent
        sign = "-" if self.amount_minor < 0 else ""
        digits = str(abs(self.amount_minor)).rjust(exponent + 1, "0")
        if exponent == 0:
            return sign + digits
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"

    def is_zero(self) -> bool:
        """True for a zero amount."""
        return self.amount_minor == 0

    def is_positive(self) -> bool:
        """True for an amount above zero."""
        return self.amount_minor > 0

    def is_negative(self) -> bool:
        """True for an amount below zero."""
        return self.amount_minor < 0

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"

    # -- arithmetic ---------------------------------------------------------------------------

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.amount_minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor >= other.amount_minor
