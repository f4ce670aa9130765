"""Day-count conventions: how many days of interest a period earns and out of how many a year.

Everything is integer day counts and ``Decimal``; no floats.
"""

from __future__ import annotations

from datetime import date
from decimal import Context, Decimal, localcontext
from enum import Enum
from typing import Final

__all__ = ["DayCountConvention", "accrual_days", "day_count_fraction", "year_fraction"]

# Significant digits of a returned year fraction. Fractions such as 90/365 do not terminate in
# decimal, so they are correctly rounded to this many digits; callers that need the exact
# rational (interest on large principals) use :func:`day_count_fraction` and divide last.
_PRECISION: Final[int] = 40
# The module's own context, so that a caller's precision, rounding or traps cannot change it.
_CONTEXT: Final[Context] = Context(prec=_PRECISION)


class DayCountConvention(Enum):
    """The day-count conventions a product may choose."""

    #: Actual days / 365, also in leap years ("ACT/365 Fixed").
    ACT_365 = "ACT/365 Fixed"
    #: Actual days / 360 (money-market basis).
    ACT_360 = "ACT/360"
    #: 30/360 Bond Basis, ISDA 2006 Definitions section 4.16(f) (see :func:`accrual_days`).
    THIRTY_360 = "30/360 Bond Basis"

    @property
    def basis(self) -> int:
        """Days in the denominator of the year fraction (365 or 360)."""
        return 365 if self is DayCountConvention.ACT_365 else 360


def accrual_days(start: date, end: date, convention: DayCountConvention) -> int:
    """Days of interest between ``start`` (inclusive) and ``end`` (exclusive).

    ACT/365 and ACT/360 count calendar days. THIRTY_360 is the 30/360 Bond Basis of ISDA 2006
    section 4.16(f), also called "30/360 US" without the end-of-February rule::

        D1 = min(D1, 30)
        D2 = 30 if D2 == 31 and D1 == 30 (after the first step) else D2
        days = 360 * (Y2 - Y1) + 30 * (M2 - M1) + (D2 - D1)

    There is deliberately no February adjustment (the SIA "30/360 US" variant treats the last
    day of February as the 30th): 2026-01-31 to 2026-02-28 is 28 days here.
    """
    _check_order(start, end)
    if convention is DayCountConvention.THIRTY_360:
        d1 = min(start.day, 30)
        d2 = 30 if end.day == 31 and d1 == 30 else end.day
        return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)
    return (end - start).days


def day_count_fraction(start: date, end: date, convention: DayCountConvention) -> tuple[int, int]:
    """The year fraction as an exact ``(days, basis)`` pair, e.g. ``(90, 365)``."""
    return accrual_days(start, end, convention), convention.basis


def year_fraction(start: date, end: date, convention: DayCountConvention) -> Decimal:
    """Fraction of a year between ``start`` and ``end`` under ``convention``, as a ``Decimal``.

    Exact when the quotient terminates (90/360 = 0.25); otherwise correctly rounded to 40
    significant digits (90/365). ``end`` before ``start`` raises ``ValueError``.
    """
    days, basis = day_count_fraction(start, end, convention)
    with localcontext(_CONTEXT):
        return Decimal(days) / Decimal(basis)


def _check_order(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
