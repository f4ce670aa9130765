"""The rules of sending a contract for signature: who signs in which order, when a contract
may be sent, and which contract an envelope's reference names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.contracts import policy
from domain.deals.models import DealStatus
from domain.kernel.errors import DomainError, ErrorCode

BORROWER = {"name": "Wang Fang", "id_number": "110101199003077777"}
CORE = {"name": "Core Co", "id_number": "91110000600037341L"}
FUNDER = {"name": "Bank A", "id_number": "bank-a"}


def test_a_consumer_contract_is_signed_by_the_borrower_then_the_funder() -> None:
    specs = policy.signer_specs({"parties": {"borrower": BORROWER, "funder": FUNDER}})
    assert [(s.role, s.order, s.name) for s in specs] == [
        ("BORROWER", 1, "Wang Fang"),
        ("FUNDER", 2, "Bank A"),
    ]


def test_order_financing_puts_the_core_enterprise_between() -> None:
    parties = {"borrower": BORROWER, "funder": FUNDER, "core_enterprise": CORE}
    specs = policy.signer_specs({"parties": parties})
    assert [(s.role, s.order, s.id_number) for s in specs] == [
        ("BORROWER", 1, "110101199003077777"),
        ("CORE_ENTERPRISE", 2, "91110000600037341L"),
        ("FUNDER", 3, "bank-a"),
    ]


def test_only_an_approved_deal_with_a_draft_contract_is_sent() -> None:
    policy.check_sendable(DealStatus.APPROVED, "DRAFT")
    refusals = [
        (DealStatus.SIGNING, "SENT", ErrorCode.INVALID_TRANSITION),
        (DealStatus.SECOND_REVIEW, None, ErrorCode.INVALID_TRANSITION),
        (DealStatus.APPROVED, None, ErrorCode.NOT_FOUND),
        (DealStatus.APPROVED, "DECLINED", ErrorCode.INVALID_TRANSITION),
    ]
    for status, contract, code in refusals:
        with pytest.raises(DomainError) as caught:
            policy.check_sendable(status, contract)
        assert caught.value.code is code


def test_a_reference_names_its_contract_by_its_first_word() -> None:
    contract_id = uuid.UUID("5b0c2d4e-0000-4000-8000-000000000001")
    assert policy.parse_reference(f"{contract_id}") == contract_id
    assert policy.parse_reference(f"{contract_id} DUPLICATE") == contract_id
    assert policy.parse_reference("not-ours") is None
    assert policy.parse_reference("") is None


def test_a_declined_or_failed_contract_of_a_signing_deal_is_sent_again() -> None:
    assert policy.check_sendable(DealStatus.APPROVED, "DRAFT") is False
    assert policy.check_sendable(DealStatus.SIGNING, "DECLINED") is True
    assert policy.check_sendable(DealStatus.SIGNING, "FAILED", resends=2) is True
    refusals = [
        (DealStatus.SIGNING, "SIGNED", 0, ErrorCode.INVALID_TRANSITION),
        (DealStatus.SIGNING, "EXPIRED", 0, ErrorCode.INVALID_TRANSITION),
        (DealStatus.SIGNING, "DRAFT", 0, ErrorCode.INVALID_TRANSITION),
        # Three resends (the bound) spent.
        (DealStatus.SIGNING, "DECLINED", 3, ErrorCode.RESEND_LIMIT_REACHED),
        (DealStatus.EXPIRED, "DECLINED", 0, ErrorCode.INVALID_TRANSITION),
    ]
    for status, contract, resends, code in refusals:
        with pytest.raises(DomainError) as caught:
            policy.check_sendable(status, contract, resends=resends)
        assert caught.value.code is code


def test_nothing_is_sent_once_the_approval_has_lapsed() -> None:
    deadline = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    # One second before the instant: still in time.
    policy.check_sendable(
        DealStatus.SIGNING, "DECLINED", deadline=deadline, now=deadline - timedelta(seconds=1)
    )
    for status, contract in ((DealStatus.SIGNING, "DECLINED"), (DealStatus.APPROVED, "DRAFT")):
        with pytest.raises(DomainError) as caught:
            policy.check_sendable(status, contract, deadline=deadline, now=deadline)
        assert caught.value.code is ErrorCode.SIGNING_DEADLINE_PASSED
    assert policy.signing_deadline_passed(None, deadline) is False


def test_each_sending_has_its_own_key_and_reference() -> None:
    contract_id = uuid.UUID("5b0c2d4e-0000-4000-8000-000000000001")
    assert policy.envelope_key(contract_id, 0) == str(contract_id)
    assert policy.envelope_key(contract_id, 2) == f"{contract_id}:resend:2"
    assert policy.envelope_reference(contract_id, 0, "DUPLICATE") == f"{contract_id} DUPLICATE"
    assert policy.envelope_reference(contract_id, 2) == f"{contract_id}#2"
    assert policy.parse_sending(f"{contract_id}#2 DUPLICATE") == (contract_id, 2)
    assert policy.parse_sending(f"{contract_id}") == (contract_id, 0)
    assert policy.parse_reference(f"{contract_id}#2") == contract_id
    for bad in (f"{contract_id}#", f"{contract_id}#02", f"{contract_id}#x"):
        assert policy.parse_sending(bad) is None


def test_an_attempt_is_claimed_when_due_and_within_the_bound() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    claim = policy.claim_envelope
    e = policy.EnvelopeClaim
    assert claim("SENT", None, attempts=0, max_attempts=8, due=now, now=now) is e.SEND
    assert claim("SENT", None, attempts=7, max_attempts=8, due=None, now=now) is e.SEND
    later = now + timedelta(seconds=1)
    assert claim("SENT", None, attempts=1, max_attempts=8, due=later, now=now) is e.NOT_DUE
    assert claim("SENT", None, attempts=8, max_attempts=8, due=now, now=now) is e.EXHAUSTED
    assert claim("SENT", "EV-1", attempts=1, max_attempts=8, due=now, now=now) is e.DONE
    assert claim("DECLINED", None, attempts=1, max_attempts=8, due=now, now=now) is e.DONE
