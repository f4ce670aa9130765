"""The pledge rules, by hand: registration before custody, who confirms, when a pledge is
released, what disbursement needs, and when the filing job sends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Role
from domain.loans.models import LoanStatus
from domain.pledges import policy
from domain.pledges.models import PledgeStatus

S = PledgeStatus
WAREHOUSE = uuid.uuid4()
TENANT = uuid.uuid4()


def _user(org: uuid.UUID | None, *roles: Role, tenant: uuid.UUID | None = None) -> Actor:
    return Actor(
        user_id=uuid.uuid4(),
        client_id="console",
        tenant_id=tenant,
        organization_id=org,
        scopes=frozenset(),
        roles=frozenset(roles),
    )


def _code(call) -> ErrorCode:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_only_a_user_of_the_receipts_warehouse_confirms() -> None:
    policy.check_confirmer(_user(WAREHOUSE, Role.WAREHOUSE_USER), WAREHOUSE)
    assert (
        _code(lambda: policy.check_confirmer(_user(uuid.uuid4(), Role.WAREHOUSE_USER), WAREHOUSE))
        is ErrorCode.FORBIDDEN
    )
    assert (
        _code(lambda: policy.check_confirmer(_user(WAREHOUSE, Role.BORROWER), WAREHOUSE))
        is ErrorCode.FORBIDDEN
    )
    client = Actor(
        user_id=None,
        client_id="app",
        tenant_id=None,
        organization_id=WAREHOUSE,
        roles=frozenset({Role.WAREHOUSE_USER}),
        scopes=frozenset(),
    )
    assert _code(lambda: policy.check_confirmer(client, WAREHOUSE)) is ErrorCode.FORBIDDEN


def test_custody_is_confirmed_after_the_filing_once() -> None:
    policy.check_confirmable(S.REGISTERED)
    assert _code(lambda: policy.check_confirmable(S.REQUESTED)) is ErrorCode.PLEDGE_NOT_REGISTERED
    for status in (S.CUSTODY_CONFIRMED, S.RELEASED, S.REFUSED):
        assert (
            _code(lambda status=status: policy.check_confirmable(status))
            is ErrorCode.INVALID_TRANSITION
        )


@pytest.mark.parametrize(
    ("deal", "loan", "allowed"),
    [
        (DealStatus.ACTIVE, LoanStatus.SETTLED, True),
        (DealStatus.SETTLED, LoanStatus.SETTLED, True),
        (DealStatus.WITHDRAWN, None, True),
        (DealStatus.REJECTED, None, True),
        (DealStatus.EXPIRED, None, True),
        (DealStatus.SIGNED, None, False),
        (DealStatus.DISBURSING, None, False),
        (DealStatus.ACTIVE, LoanStatus.ACTIVE, False),
        (DealStatus.OVERDUE, LoanStatus.OVERDUE, False),
        (DealStatus.WRITTEN_OFF, LoanStatus.WRITTEN_OFF, False),
    ],
)
def test_released_once_the_debt_is_gone(deal, loan, allowed) -> None:  # type: ignore[no-untyped-def]
    for status in (S.REGISTERED, S.CUSTODY_CONFIRMED):
        if allowed:
            policy.check_releasable(status, deal, loan)
        else:
            assert (
                _code(lambda status=status: policy.check_releasable(status, deal, loan))
                is ErrorCode.PLEDGE_NOT_RELEASABLE
            )


def test_a_filing_in_progress_or_final_is_not_released() -> None:
    for status in (S.REQUESTED, S.RELEASED, S.REFUSED):
        assert (
            _code(
                lambda status=status: policy.check_releasable(
                    status, DealStatus.SETTLED, LoanStatus.SETTLED
                )
            )
            is ErrorCode.INVALID_TRANSITION
        )


def test_disbursement_needs_every_receipt_registered_and_confirmed() -> None:
    r1, r2 = uuid.uuid4(), uuid.uuid4()
    policy.check_disbursable([r1, r2], {r1: S.CUSTODY_CONFIRMED, r2: S.CUSTODY_CONFIRMED})
    cases = [
        ({}, ErrorCode.PLEDGE_NOT_REGISTERED),  # none requested yet
        ({r1: S.CUSTODY_CONFIRMED}, ErrorCode.PLEDGE_NOT_REGISTERED),  # r2 missing
        ({r1: S.CUSTODY_CONFIRMED, r2: S.REQUESTED}, ErrorCode.PLEDGE_NOT_REGISTERED),
        ({r1: S.CUSTODY_CONFIRMED, r2: S.REFUSED}, ErrorCode.PLEDGE_NOT_REGISTERED),
        ({r1: S.REGISTERED, r2: S.CUSTODY_CONFIRMED}, ErrorCode.PLEDGE_NOT_CONFIRMED),
        ({r1: S.CUSTODY_CONFIRMED, r2: S.RELEASED}, ErrorCode.PLEDGE_NOT_CONFIRMED),
    ]
    for statuses, code in cases:
        assert _code(lambda statuses=statuses: policy.check_disbursable([r1, r2], statuses)) is code
    # A deal without receipts has nothing pledged: refused.
    assert _code(lambda: policy.check_disbursable([], {})) is ErrorCode.PLEDGE_NOT_REGISTERED


def test_the_one_read_rule() -> None:
    assert policy.pledge_visible(_user(None, tenant=TENANT), TENANT, WAREHOUSE)
    assert policy.pledge_visible(_user(WAREHOUSE, Role.WAREHOUSE_USER), TENANT, WAREHOUSE)
    assert not policy.pledge_visible(_user(None, tenant=uuid.uuid4()), TENANT, WAREHOUSE)
    assert not policy.pledge_visible(_user(uuid.uuid4(), Role.WAREHOUSE_USER), TENANT, WAREHOUSE)
    # Through a deal only the funder's side reads: the warehouse is not named there.
    assert not policy.pledge_visible(_user(WAREHOUSE, Role.WAREHOUSE_USER), TENANT, None)


def test_the_filing_job_claims_a_due_requested_pledge() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    C = policy.Claim
    assert policy.claim(S.REQUESTED, 0, 8, now, now) is C.SEND
    assert policy.claim(S.REQUESTED, 3, 8, now - timedelta(seconds=1), now) is C.SEND
    assert policy.claim(S.REQUESTED, 3, 8, now + timedelta(seconds=1), now) is C.NOT_DUE
    assert policy.claim(S.REQUESTED, 8, 8, now, now) is C.EXHAUSTED
    assert policy.claim(S.REQUESTED, 8, 8, None, now) is C.EXHAUSTED
    for status in (S.REGISTERED, S.CUSTODY_CONFIRMED, S.RELEASED, S.REFUSED):
        assert policy.claim(status, 1, 8, now, now) is C.DONE


def test_the_cancellation_job_claims_a_due_released_pledge() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    C = policy.Claim

    def claim(status: PledgeStatus, done: bool, attempts: int, due: datetime | None) -> object:
        return policy.claim_cancellation(
            status, deregistered=done, attempts=attempts, max_attempts=8, due=due, now=now
        )

    assert claim(S.RELEASED, False, 0, now) is C.SEND
    assert claim(S.RELEASED, False, 7, now - timedelta(seconds=1)) is C.SEND
    assert claim(S.RELEASED, False, 1, now + timedelta(seconds=1)) is C.NOT_DUE
    assert claim(S.RELEASED, False, 8, now) is C.EXHAUSTED
    assert claim(S.RELEASED, False, 2, None) is C.EXHAUSTED
    # Cancelled already, or not released: nothing to cancel.
    assert claim(S.RELEASED, True, 1, now) is C.DONE
    for status in (S.REQUESTED, S.REGISTERED, S.CUSTODY_CONFIRMED, S.REFUSED):
        assert claim(status, False, 0, now) is C.DONE
    pledge_id = uuid.UUID("00000000-0000-0000-0000-000000000001")
    assert policy.cancellation_key(pledge_id) == "00000000-0000-0000-0000-000000000001:cancel"
