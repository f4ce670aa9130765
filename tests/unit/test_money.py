"""Money: parsing, formatting, arithmetic, rounding."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.kernel.money import (
    MAX_MINOR_UNITS,
    MINOR_UNIT_EXPONENTS,
    ROUNDING_MODES,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    UnknownCurrency,
    minor_unit_exponent,
    ratio_rounder,
    round_half_up,
    round_minor,
    round_ratio,
    zero,
)

CNY = "CNY"


def cny(text: str) -> Money:
    return Money.parse(text, CNY)


# -- parsing and formatting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1234.56", "CNY", 123456),
        ("1234.5", "CNY", 123450),
        ("1234", "CNY", 123400),
        ("0.01", "USD", 1),
        ("-0.05", "EUR", -5),
        ("+7.00", "HKD", 700),
        ("0", "CNY", 0),
        ("-0", "CNY", 0),
        ("000123.40", "CNY", 12340),
        ("1500", "JPY", 1500),
        ("250000", "KRW", 250000),
    ],
)
def test_parse(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123456, "CNY", "1234.56"),
        (5, "CNY", "0.05"),
        (-5, "CNY", "-0.05"),
        (-123456, "USD", "-1234.56"),
        (0, "EUR", "0.00"),
        (100, "HKD", "1.00"),
        (1500, "JPY", "1500"),
        (-7, "KRW", "-7"),
    ],
)
def test_to_decimal_string(minor: int, currency: str, text: str) -> None:
    assert Money(minor, currency).to_decimal_string() == text
    assert str(Money(minor, currency)) == f"{text} {currency}"


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1.001", "CNY"),  # three decimals, CNY has two
        ("1.0", "JPY"),  # JPY has no minor unit at all
        ("1.", "CNY"),
        (".5", "CNY"),
        ("1e3", "CNY"),
        ("1E3", "CNY"),
        ("NaN", "CNY"),
        ("nan", "CNY"),
        ("Infinity", "CNY"),
        ("-inf", "CNY"),
        ("1_000", "CNY"),
        ("1,000.00", "CNY"),
        (" 1.00", "CNY"),
        ("1.00 ", "CNY"),
        ("", "CNY"),
        ("-", "CNY"),
        ("--1", "CNY"),
        ("١٢٣", "CNY"),  # Arabic-Indic digits: Decimal() would accept them
        ("1" * 41, "CNY"),
        ("99999999999999999.99", "CNY"),  # beyond BIGINT minor units
    ],
)
def test_parse_rejects(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(text, currency)


def test_overlong_input_is_refused_before_parsing() -> None:
    # 41 characters: longer than any BIGINT amount can be written, refused unread.
    with pytest.raises(InvalidAmount, match=r"^amount string is too long$"):
        Money.parse("1" * 41, CNY)


@pytest.mark.parametrize("value", [1.5, 1, Decimal("1.50"), None, b"1.00"])
def test_parse_takes_only_strings(value: object) -> None:
    with pytest.raises(TypeError):
        Money.parse(value, CNY)  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["XXX", "cny", "", "RMB"])
def test_unknown_currency(currency: str) -> None:
    with pytest.raises(UnknownCurrency):
        Money.parse("1.00", currency)
    with pytest.raises(UnknownCurrency):
        Money(100, currency)


def test_exponent_table() -> None:
    assert {c: minor_unit_exponent(c) for c in ("CNY", "USD", "EUR", "HKD")} == dict.fromkeys(
        ("CNY", "USD", "EUR", "HKD"), 2
    )
    assert minor_unit_exponent("JPY") == 0
    assert minor_unit_exponent("KRW") == 0
    assert Money(1, "CNY").exponent == 2


@pytest.mark.parametrize("amount", [1.0, True, Decimal(1), "100"])
def test_amount_minor_must_be_int(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, CNY)  # type: ignore[arg-type]


def test_bigint_bounds() -> None:
    assert Money(MAX_MINOR_UNITS, CNY).amount_minor == MAX_MINOR_UNITS
    with pytest.raises(InvalidAmount):
        Money(MAX_MINOR_UNITS + 1, CNY)
    with pytest.raises(InvalidAmount):
        Money(MAX_MINOR_UNITS, CNY) + Money(1, CNY)


def test_to_decimal_is_exact() -> None:
    assert cny("1234.56").to_decimal() == Decimal("1234.56")
    assert Money(1500, "JPY").to_decimal() == Decimal(1500)


# -- from_decimal and rounding -------------------------------------------------------------------


def test_from_decimal_exact_or_refused() -> None:
    assert Money.from_decimal(Decimal("12.30"), CNY) == Money(1230, CNY)
    assert Money.from_decimal(Decimal("12.3000"), CNY) == Money(1230, CNY)
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal("12.305"), CNY)
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal("NaN"), CNY)
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal("Infinity"), CNY)
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal("1E+999999"), CNY)
    with pytest.raises(TypeError):
        Money.from_decimal(12.3, CNY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("2.345", "2.35"),  # a tie goes up
        ("2.344", "2.34"),
        ("2.3449999", "2.34"),
        ("-2.345", "-2.35"),  # half-up means ties away from zero
        ("0.005", "0.01"),
        ("0.004", "0.00"),
    ],
)
def test_round_half_up_major_units(amount: str, expected: str) -> None:
    assert round_half_up(Decimal(amount), CNY) == cny(expected)
    assert Money.from_decimal(Decimal(amount), CNY, rounding="ROUND_HALF_UP") == cny(expected)


def test_round_half_up_minor_units() -> None:
    assert round_half_up(Decimal("234.5"), CNY, minor_units=True) == Money(235, CNY)
    assert round_half_up(Decimal("2.5"), "JPY") == Money(3, "JPY")
    assert round_minor(Decimal("2.5")) == 3
    assert round_minor(Decimal("-2.5")) == -3
    assert round_minor(Decimal("2.4999")) == 2


def test_other_rounding_modes() -> None:
    assert round_half_up(Decimal("2.345"), CNY, rounding=ROUND_HALF_EVEN) == cny("2.34")
    assert round_half_up(Decimal("2.355"), CNY, rounding=ROUND_HALF_EVEN) == cny("2.36")
    assert round_half_up(Decimal("2.349"), CNY, rounding=ROUND_DOWN) == cny("2.34")
    assert round_minor(Decimal("2.5"), ROUND_HALF_EVEN) == 2
    with pytest.raises(ValueError, match="rounding"):
        round_minor(Decimal("2.5"), "HALF_UP")


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        # 7 / 2 = 3.5, a tie; -7 / 2 = -3.5; 7 / 3 = 2.33; 8 / 3 = 2.67; 15 / 2 = 7.5 (05UP:
        # truncation keeps 7, not 0 or 5, so toward zero); 11 / 2 = 5.5 (keeps 5: away).
        (7, 2, {"ROUND_HALF_UP": 4, "ROUND_HALF_EVEN": 4, "ROUND_HALF_DOWN": 3, "ROUND_DOWN": 3,
                "ROUND_UP": 4, "ROUND_FLOOR": 3, "ROUND_CEILING": 4, "ROUND_05UP": 3}),
        (-7, 2, {"ROUND_HALF_UP": -4, "ROUND_HALF_EVEN": -4, "ROUND_HALF_DOWN": -3,
                 "ROUND_DOWN": -3, "ROUND_UP": -4, "ROUND_FLOOR": -4, "ROUND_CEILING": -3,
                 "ROUND_05UP": -3}),
        (5, 2, {"ROUND_HALF_UP": 3, "ROUND_HALF_EVEN": 2, "ROUND_HALF_DOWN": 2}),
        (7, 3, {"ROUND_HALF_UP": 2, "ROUND_UP": 3, "ROUND_CEILING": 3, "ROUND_FLOOR": 2}),
        (8, 3, {"ROUND_HALF_UP": 3, "ROUND_HALF_DOWN": 3, "ROUND_DOWN": 2}),
        (1, 2, {"ROUND_HALF_UP": 1, "ROUND_HALF_EVEN": 0, "ROUND_HALF_DOWN": 0}),  # 0.5
        (15, 2, {"ROUND_05UP": 7}),
        (11, 2, {"ROUND_05UP": 6}),
        (-11, 2, {"ROUND_05UP": -6}),
        (12, 4, {mode: 3 for mode in ROUNDING_MODES}),  # exact
    ],
)  # fmt: skip
def test_round_ratio_worked_examples(
    numerator: int, denominator: int, expected: dict[str, int]
) -> None:
    for mode, value in expected.items():
        assert round_ratio(numerator, denominator, mode) == value, mode


@settings(max_examples=300)
@given(
    numerator=st.integers(min_value=-(10**40), max_value=10**40),
    denominator=st.integers(min_value=1, max_value=10**30),
    tie=st.booleans(),
)
def test_round_ratio_equals_the_rounded_decimal_quotient(
    numerator: int, denominator: int, tie: bool
) -> None:
    if tie:  # aim at a half-way case, the one that tells the modes apart
        numerator = (numerator // denominator) * 2 * denominator + denominator
        denominator *= 2
    with localcontext() as ctx:
        ctx.prec = 120  # the quotient's digits, then the one explicit rounding
        quotient = Decimal(numerator) / Decimal(denominator)
    for mode in ROUNDING_MODES:
        assert round_ratio(numerator, denominator, mode) == round_minor(quotient, mode)


def test_round_ratio_refusals() -> None:
    with pytest.raises(ValueError, match="rounding"):
        round_ratio(1, 2, "HALF_UP")
    with pytest.raises(ValueError, match="rounding"):
        ratio_rounder("HALF_UP")
    with pytest.raises(ValueError, match="denominator"):
        round_ratio(1, 0)
    with pytest.raises(TypeError):
        round_ratio(Decimal(1), 2)  # type: ignore[arg-type]


# -- arithmetic and comparison -------------------------------------------------------------------


def test_arithmetic() -> None:
    assert cny("1.10") + cny("2.25") == cny("3.35")
    assert cny("1.10") - cny("2.25") == cny("-1.15")
    assert -cny("1.10") == cny("-1.10")
    assert abs(cny("-1.10")) == cny("1.10")
    assert zero(CNY) == Money.zero(CNY) == cny("0")
    assert Money.sum([cny("1.00"), cny("2.50")], CNY) == cny("3.50")
    assert Money.sum([], "JPY") == Money(0, "JPY")
    assert cny("0").is_zero()
    assert cny("0.01").is_positive()
    assert cny("-0.01").is_negative()


def test_comparison() -> None:
    assert cny("1.00") < cny("1.01")
    assert cny("1.01") > cny("1.00")
    assert cny("1.00") <= cny("1.00")
    assert cny("1.00") >= cny("1.00")
    assert max(cny("3.00"), cny("5.00"), cny("4.00")) == cny("5.00")


def test_currencies_do_not_mix() -> None:
    usd = Money.parse("1.00", "USD")
    with pytest.raises(CurrencyMismatch, match=r"^CNY and USD do not mix$"):
        cny("1.00") + usd
    with pytest.raises(CurrencyMismatch):
        cny("1.00") - usd
    with pytest.raises(CurrencyMismatch):
        _ = cny("1.00") < usd
    with pytest.raises(CurrencyMismatch):
        _ = cny("1.00") >= usd
    with pytest.raises(CurrencyMismatch):
        Money.sum([cny("1.00"), usd], CNY)
    # Equality is well defined across currencies: simply not equal.
    assert cny("1.00") != usd


def test_no_arithmetic_with_plain_numbers() -> None:
    with pytest.raises(TypeError):
        cny("1.00") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = cny("1.00") < Decimal(1)  # type: ignore[operator]


def test_frozen_and_hashable() -> None:
    money = cny("1.00")
    with pytest.raises(AttributeError):
        money.amount_minor = 5  # type: ignore[misc]
    assert len({cny("1.00"), cny("1.00"), Money(100, "USD")}) == 2


# -- properties ----------------------------------------------------------------------------------

currencies = st.sampled_from(sorted(MINOR_UNIT_EXPONENTS))
minor_amounts = st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS)


@settings(max_examples=300, database=None)
@given(minor_amounts, currencies)
def test_format_parse_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.to_decimal_string(), currency) == money
    assert Money.from_decimal(money.to_decimal(), currency) == money


@settings(max_examples=300, database=None)
@given(st.integers(min_value=0, max_value=10**15), st.booleans(), currencies)
def test_parse_format_round_trip(whole: int, negative: bool, currency: str) -> None:
    # A canonical string with exactly the currency's decimals must survive the round trip and
    # mean the same number as Decimal reads it.
    exponent = MINOR_UNIT_EXPONENTS[currency]
    scale = 10**exponent
    text = str(whole) if exponent == 0 else f"{whole // scale}.{whole % scale:0{exponent}d}"
    if negative and whole:
        text = "-" + text
    money = Money.parse(text, currency)
    assert money.to_decimal_string() == text
    assert money.to_decimal() == Decimal(text)


@settings(max_examples=200, database=None)
@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=2),
    currencies,
)
def test_short_fractions_parse(whole: int, places: int, currency: str) -> None:
    # Fewer decimals than the currency allows are fine ("1.5" CNY is 1.50); more are refused.
    exponent = MINOR_UNIT_EXPONENTS[currency]
    text = f"{whole}.{'7' * places}" if places else str(whole)
    if places > exponent:
        with pytest.raises(InvalidAmount):
            Money.parse(text, currency)
    else:
        assert Money.parse(text, currency).to_decimal() == Decimal(text)


@settings(max_examples=200, database=None)
@given(
    st.decimals(min_value=Decimal(-(10**12)), max_value=Decimal(10**12), allow_nan=False, places=6),
    currencies,
)
def test_rounding_error_is_at_most_half_a_minor_unit(amount: Decimal, currency: str) -> None:
    money = round_half_up(amount, currency)
    error = abs(money.to_decimal() - amount)
    assert error <= Decimal("0.5").scaleb(-MINOR_UNIT_EXPONENTS[currency])


@settings(max_examples=200, database=None)
@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=-(10**15), max_value=10**15),
    currencies,
)
def test_addition_matches_integers(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y).amount_minor == a + b
    assert x + y == y + x
    assert x - y == -(y - x)
    assert (x < y) == (a < b)
