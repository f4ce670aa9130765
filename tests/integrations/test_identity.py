"""The identity verification client against the sandbox verifier over loopback HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.risk.ports import (
    AnswerNotAuthentic,
    IdentityRequest,
    MalformedAnswer,
    ProviderKind,
    RequestRejected,
    RiskProviders,
)
from integrations.sandboxes import SandboxServer
from tests.integrations.conftest import GOOD_ID, resident_id


def check(name: str, rid: str = GOOD_ID, session: str = "live-7d2f") -> IdentityRequest:
    return IdentityRequest(resident_id=rid, full_name=name, liveness_session=session)


async def test_a_verified_person(providers: RiskProviders, sandbox: SandboxServer) -> None:
    result = await providers.identity.verify(check("Zhang Min", resident_id("44030419880815123")))
    assert result.verified
    assert (result.id_number_valid, result.name_matches, result.liveness_passed) == (
        True,
        True,
        True,
    )
    assert result.liveness_score == Decimal("0.987")
    assert result.fraud_alerts == ()
    assert result.verification_id.startswith("IV-")
    received = sandbox.log.find(result.request_id)
    assert received is not None
    assert received.key_id == sandbox.credentials[ProviderKind.IDENTITY].key_id


async def test_a_name_that_does_not_match_the_register(providers: RiskProviders) -> None:
    result = await providers.identity.verify(check("Li Wei mismatch"))
    assert not result.name_matches
    assert result.liveness_passed
    assert not result.verified


async def test_a_failed_liveness_check(providers: RiskProviders) -> None:
    result = await providers.identity.verify(check("Li Wei spoof"))
    assert not result.liveness_passed
    assert result.liveness_score == Decimal("0.112")
    assert not result.verified


async def test_a_fraud_flag(providers: RiskProviders) -> None:
    result = await providers.identity.verify(check("Li Wei FRAUD"))
    # Every check passes, and still not verified: the ID is reported stolen.
    assert (result.id_number_valid, result.name_matches, result.liveness_passed) == (
        True,
        True,
        True,
    )
    assert result.fraud_alerts == ("ID_REPORTED_STOLEN",)
    assert not result.verified


async def test_a_verdict_that_contradicts_its_checks_is_malformed(
    providers: RiskProviders,
) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        await providers.identity.verify(check("Li Wei malformed"))
    assert not isinstance(caught.value, AnswerNotAuthentic)
    assert "disagrees" in str(caught.value)


@pytest.mark.parametrize(
    ("request_", "status", "code"),
    [
        (check("Zhang Min", rid="110105194912310021"), 422, "INVALID_RESIDENT_ID"),
        (check("Zhang Min", session=" "), 400, "LIVENESS_REQUIRED"),
    ],
    ids=["bad-check-digit", "no-liveness-session"],
)
async def test_refusals(
    providers: RiskProviders, request_: IdentityRequest, status: int, code: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await providers.identity.verify(request_)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.kind is ProviderKind.IDENTITY
    assert not caught.value.retryable
