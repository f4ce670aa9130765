"""The ledger's pure rules: account references, balanced postings, reversals, normal-side
balances and the idempotent comparison of postings."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.ledger import policy
from domain.ledger.models import AccountKind, EntryCause, Side
from domain.ledger.policy import AccountRef, Posting, credit, debit

LOAN = uuid.UUID("00000000-0000-0000-0000-00000000000a")
PRINCIPAL = AccountRef(AccountKind.PRINCIPAL_RECEIVABLE, LOAN)
FEE_INCOME = AccountRef(AccountKind.FEE_INCOME, LOAN)
CASH = AccountRef(AccountKind.SETTLEMENT_CASH)


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def codes(caught: pytest.ExceptionInfo[DomainError]) -> list[tuple[ErrorCode, str | None]]:
    errors = caught.value.errors if isinstance(caught.value, ValidationErrors) else [caught.value]
    return [(e.code, e.field) for e in errors]


def test_the_chart_of_accounts() -> None:
    assert {AccountKind.SETTLEMENT_CASH, AccountKind.SUSPENSE} == policy.TENANT_KINDS
    assert set(policy.LOAN_KINDS) == set(AccountKind) - policy.TENANT_KINDS
    assert len(policy.LOAN_KINDS) == 10
    debit_normal = {k for k, side in policy.NORMAL_SIDE.items() if side is Side.DEBIT}
    assert debit_normal == {
        AccountKind.PRINCIPAL_RECEIVABLE,
        AccountKind.INTEREST_RECEIVABLE,
        AccountKind.FEE_RECEIVABLE,
        AccountKind.PENALTY_RECEIVABLE,
        AccountKind.SETTLEMENT_CASH,
        AccountKind.WRITE_OFF_EXPENSE,
    }
    assert set(policy.NORMAL_SIDE) == set(AccountKind)


def test_an_account_ref_names_a_loan_exactly_for_a_loans_kind() -> None:
    with pytest.raises(DomainError) as caught:
        AccountRef(AccountKind.SETTLEMENT_CASH, LOAN)
    assert caught.value.code is ErrorCode.INVALID
    with pytest.raises(DomainError) as caught:
        AccountRef(AccountKind.FEE_RECEIVABLE)
    assert caught.value.code is ErrorCode.REQUIRED
    assert AccountRef(AccountKind.SUSPENSE).loan_id is None


def test_debit_and_credit_sign_the_amount() -> None:
    assert debit(PRINCIPAL, cny("100000.00")) == Posting(PRINCIPAL, Money(10_000_000, "CNY"))
    assert credit(CASH, cny("98000.00")) == Posting(CASH, Money(-9_800_000, "CNY"))
    assert debit(PRINCIPAL, cny("1.00")).side is Side.DEBIT
    assert credit(CASH, cny("1.00")).side is Side.CREDIT
    for build in (debit, credit):
        for amount in ("0.00", "-1.00"):
            with pytest.raises(DomainError) as caught:
                build(CASH, cny(amount))
            assert caught.value.code is ErrorCode.INVALID_AMOUNT


def test_a_disbursement_with_a_withheld_fee_balances() -> None:
    postings = [
        debit(PRINCIPAL, cny("100000.00")),
        credit(CASH, cny("98000.00")),
        credit(FEE_INCOME, cny("2000.00")),
    ]
    assert policy.validate_postings(postings) == tuple(postings)
    assert policy.totals_by_currency(p.amount for p in postings) == {
        "CNY": (10_000_000, 10_000_000)
    }


def test_unbalanced_short_and_zero_postings_are_refused_together() -> None:
    with pytest.raises(DomainError) as caught:
        policy.validate_postings([debit(PRINCIPAL, cny("100.00")), credit(CASH, cny("99.99"))])
    assert codes(caught) == [(ErrorCode.INVALID, "postings")]
    assert "100.00 CNY" in caught.value.message and "99.99 CNY" in caught.value.message

    with pytest.raises(DomainError) as caught:
        policy.validate_postings([debit(PRINCIPAL, cny("100.00"))])
    assert codes(caught) == [(ErrorCode.INVALID, "postings"), (ErrorCode.INVALID, "postings")]

    with pytest.raises(DomainError) as caught:
        policy.validate_postings([])
    assert codes(caught) == [(ErrorCode.INVALID, "postings")]

    zero = Posting(FEE_INCOME, Money(0, "CNY"))
    with pytest.raises(DomainError) as caught:
        policy.validate_postings([debit(PRINCIPAL, cny("1.00")), zero, credit(CASH, cny("1.00"))])
    assert codes(caught) == [(ErrorCode.INVALID_AMOUNT, "postings[1].amount")]


def test_each_currency_balances_on_its_own() -> None:
    usd_cash = Posting(CASH, Money(-100, "USD"))
    # 1.00 CNY against 1.00 USD: the same digits, no balance.
    with pytest.raises(DomainError) as caught:
        policy.validate_postings([debit(PRINCIPAL, cny("1.00")), usd_cash])
    assert codes(caught) == [(ErrorCode.INVALID, "postings"), (ErrorCode.INVALID, "postings")]
    both = [
        debit(PRINCIPAL, cny("1.00")),
        credit(CASH, cny("1.00")),
        Posting(AccountRef(AccountKind.SUSPENSE), Money(100, "USD")),
        usd_cash,
    ]
    assert policy.validate_postings(both) == tuple(both)


def test_the_entry_fields() -> None:
    policy.validate_entry(cause=EntryCause.FEE, idempotency_reference="fee-1", memo=None)
    policy.validate_entry(
        cause=EntryCause.REVERSAL, idempotency_reference="r", memo="x" * 500, reversing=True
    )
    cases = [
        ({"cause": EntryCause.REVERSAL}, [(ErrorCode.INVALID, "cause")]),
        ({"idempotency_reference": " "}, [(ErrorCode.REQUIRED, "idempotencyReference")]),
        ({"idempotency_reference": ""}, [(ErrorCode.REQUIRED, "idempotencyReference")]),
        ({"idempotency_reference": "r" * 201}, [(ErrorCode.TOO_LONG, "idempotencyReference")]),
        ({"memo": "m" * 501}, [(ErrorCode.TOO_LONG, "memo")]),
    ]
    for overrides, expected in cases:
        fields = {"cause": EntryCause.FEE, "idempotency_reference": "ok", "memo": None}
        fields.update(overrides)
        with pytest.raises(DomainError) as caught:
            policy.validate_entry(**fields)  # type: ignore[arg-type]
        assert codes(caught) == expected, overrides


def test_a_reversal_negates_every_line_in_order() -> None:
    original = (
        debit(PRINCIPAL, cny("100000.00")),
        credit(CASH, cny("98000.00")),
        credit(FEE_INCOME, cny("2000.00")),
    )
    assert policy.reversal_of(original) == (
        Posting(PRINCIPAL, Money(-10_000_000, "CNY")),
        Posting(CASH, Money(9_800_000, "CNY")),
        Posting(FEE_INCOME, Money(200_000, "CNY")),
    )


def test_which_entries_may_be_reversed_when() -> None:
    day = date(2027, 3, 10)
    policy.validate_reversal(
        original_cause=EntryCause.FEE,
        original_value_date=day,
        value_date=day,
        already_reversed=False,
    )
    cases = [
        ({"original_cause": EntryCause.REVERSAL}, ErrorCode.INVALID),
        ({"already_reversed": True}, ErrorCode.DUPLICATE),
        ({"value_date": date(2027, 3, 9)}, ErrorCode.INVALID_DATE_RANGE),
    ]
    for overrides, code in cases:
        fields: dict[str, object] = {
            "original_cause": EntryCause.DISBURSEMENT,
            "original_value_date": day,
            "value_date": day,
            "already_reversed": False,
        }
        fields.update(overrides)
        with pytest.raises(DomainError) as caught:
            policy.validate_reversal(**fields)  # type: ignore[arg-type]
        assert caught.value.code is code, overrides


def test_same_postings_ignores_order_but_not_multiplicity() -> None:
    a = debit(PRINCIPAL, cny("10.00"))
    b = credit(CASH, cny("5.00"))
    c = credit(FEE_INCOME, cny("5.00"))
    assert policy.same_postings([a, b, c], [c, a, b])
    assert not policy.same_postings([a, b, c], [a, b, b])
    assert not policy.same_postings([a, b, c], [a, b])
    other_loan = AccountRef(AccountKind.FEE_INCOME, uuid.uuid4())
    assert not policy.same_postings([a, b, c], [a, b, credit(other_loan, cny("5.00"))])


def test_normal_balances() -> None:
    # A receivable debited 100.00 and credited 30.00 holds 70.00; income credited 20.00 holds
    # 20.00; a debit-normal account credited past zero is negative.
    assert policy.normal_balance(Side.DEBIT, cny("70.00")) == cny("70.00")
    assert policy.normal_balance(Side.CREDIT, cny("-20.00")) == cny("20.00")
    assert policy.normal_balance(Side.DEBIT, cny("-5.00")) == cny("-5.00")


amounts = st.integers(min_value=1, max_value=10**12)


@given(st.lists(st.tuples(amounts, st.booleans()), min_size=1, max_size=8))
def test_any_postings_with_a_balancing_line_validate_and_their_reversal_too(
    lines: list[tuple[int, bool]],
) -> None:
    postings = [
        Posting(PRINCIPAL if is_debit else FEE_INCOME, Money(m if is_debit else -m, "CNY"))
        for m, is_debit in lines
    ]
    net = sum(p.amount.amount_minor for p in postings)
    if net != 0:
        postings.append(Posting(CASH, Money(-net, "CNY")))
    if len(postings) < 2:
        return
    policy.validate_postings(postings)
    reversal = policy.reversal_of(postings)
    policy.validate_postings(reversal)
    assert [p.amount.amount_minor for p in postings + list(reversal)].count(0) == 0
    assert sum(p.amount.amount_minor for p in postings + list(reversal)) == 0
    assert policy.reversal_of(reversal) == tuple(postings)
