"""Who reads a deal's risk data: only the owning funder's staff holding risk:read."""

from __future__ import annotations

import uuid

from domain.kernel.actor import Actor
from domain.kernel.scopes import ROLE_SCOPES, Role, Scope
from domain.risk.policy import risk_visible

FUNDER = uuid.uuid4()
OTHER = uuid.uuid4()


def _staff(tenant: uuid.UUID | None, role: Role) -> Actor:
    return Actor(
        user_id=uuid.uuid4(),
        client_id="app",
        tenant_id=tenant,
        scopes=frozenset(s.value for s in ROLE_SCOPES[role]),
        roles=frozenset({role}),
    )


def test_the_funders_reviewers_read_risk_data() -> None:
    assert risk_visible(_staff(FUNDER, Role.FIRST_REVIEWER), FUNDER)
    assert risk_visible(_staff(FUNDER, Role.SECOND_REVIEWER), FUNDER)


def test_another_funders_reviewer_does_not() -> None:
    assert not risk_visible(_staff(OTHER, Role.FIRST_REVIEWER), FUNDER)


def test_staff_without_risk_read_do_not() -> None:
    assert not risk_visible(_staff(FUNDER, Role.FINANCE_OFFICER), FUNDER)


def test_the_operator_does_not_even_with_every_scope() -> None:
    operator = _staff(None, Role.PLATFORM_ADMIN)
    assert operator.has(Scope.RISK_READ) and operator.is_platform
    assert not risk_visible(operator, FUNDER)


def test_a_borrower_does_not() -> None:
    borrower = Actor(
        user_id=uuid.uuid4(),
        client_id="app",
        tenant_id=None,
        scopes=frozenset({Scope.RISK_READ.value}),
        person_id=uuid.uuid4(),
    )
    assert not risk_visible(borrower, FUNDER)
