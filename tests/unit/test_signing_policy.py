"""The rules of sending a contract for signature: who signs in which order, when a contract
may be sent, and which contract an envelope's reference names."""

from __future__ import annotations

import uuid

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
