"""The disbursement's rules with figures by hand: the fee withheld, four eyes, the key, and
when a delivery of the send job asks the rail."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.deals.models import DealStatus
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.payouts import policy
from domain.payouts.models import PayoutState

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def test_the_fee_is_withheld_from_what_is_paid_out() -> None:
    figures = policy.amounts(cny("100000.00"), cny("2000.00"))
    assert (figures.amount, figures.fee, figures.net) == (
        cny("100000.00"),
        cny("2000.00"),
        cny("98000.00"),
    )
    assert policy.amounts(cny("5000.00"), cny("0.00")).net == cny("5000.00")
    with pytest.raises(DomainError) as refused:
        policy.amounts(cny("1000.00"), cny("1000.00"))
    assert refused.value.code is ErrorCode.INVALID_AMOUNT


def test_four_eyes_and_the_status() -> None:
    second = uuid.uuid4()
    policy.check_four_eyes(uuid.uuid4(), second)
    policy.check_four_eyes(uuid.uuid4(), None)
    with pytest.raises(DomainError) as refused:
        policy.check_four_eyes(second, second)
    assert refused.value.code is ErrorCode.FOUR_EYES
    policy.check_signed(DealStatus.SIGNED)
    for status in (DealStatus.APPROVED, DealStatus.DISBURSING, DealStatus.ACTIVE):
        with pytest.raises(DomainError) as refused:
            policy.check_signed(status)
        assert refused.value.code is ErrorCode.INVALID_TRANSITION


def test_the_key() -> None:
    assert policy.check_key("  k-1 ") == "k-1"
    for key, code in (("  ", ErrorCode.REQUIRED), ("k" * 256, ErrorCode.TOO_LONG)):
        with pytest.raises(DomainError) as refused:
            policy.check_key(key)
        assert refused.value.code is code


def test_the_same_request_under_a_key() -> None:
    deal = uuid.uuid4()
    first = policy.Request(deal, cny("100000.00"), date(2026, 12, 7), "Wang", "6222", "1021")
    policy.check_same_request(first, first)
    for other in (
        policy.Request(deal, cny("90000.00"), date(2026, 12, 7), "Wang", "6222", "1021"),
        policy.Request(deal, cny("100000.00"), None, "Wang", "6222", "1021"),
        policy.Request(uuid.uuid4(), cny("100000.00"), date(2026, 12, 7), "Wang", "6222", "1021"),
        policy.Request(deal, cny("100000.00"), date(2026, 12, 7), "Wang", "6223", "1021"),
    ):
        with pytest.raises(DomainError) as refused:
            policy.check_same_request(first, other)
        assert refused.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED


def test_when_a_delivery_asks_the_rail() -> None:
    r, due, later = PayoutState.REQUESTED, NOW - timedelta(seconds=1), NOW + timedelta(seconds=5)
    assert policy.claim(r, 0, 8, due, NOW) is policy.Claim.SEND
    assert policy.claim(r, 7, 8, NOW, NOW) is policy.Claim.SEND
    # Another attempt's lease, or a backoff, runs until ``later``.
    assert policy.claim(r, 1, 8, later, NOW) is policy.Claim.NOT_DUE
    assert policy.claim(r, 8, 8, due, NOW) is policy.Claim.EXHAUSTED
    # Given up on (no next attempt).
    assert policy.claim(r, 8, 8, None, NOW) is policy.Claim.EXHAUSTED
    for state in (PayoutState.SENT, PayoutState.SETTLED, PayoutState.FAILED):
        assert policy.claim(state, 1, 8, due, NOW) is policy.Claim.DONE
