"""The failures every kind shares, through each real client against its sandbox: a held
answer and a trickled one end in ProviderTimeout within the client's bound, a 503 in
ProviderUnavailable, and no provider at all in ProviderUnavailable too."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest

from domain.risk.ports import (
    CreditReportRequest,
    IdentityRequest,
    PriceQuoteRequest,
    ProviderError,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RiskProviders,
)
from integrations.risk import close_risk_providers
from integrations.sandboxes import SandboxServer
from tests.integrations.conftest import GOOD_ID, open_providers
from tests.integrations.test_bureau import CONSENT

Call = Callable[[RiskProviders, str], Awaitable[object]]


async def _bureau(p: RiskProviders, outcome: str) -> object:
    return await p.bureau.pull_report(
        CreditReportRequest(resident_id=GOOD_ID, full_name=f"Zhang Min {outcome}", consent=CONSENT)
    )


async def _identity(p: RiskProviders, outcome: str) -> object:
    return await p.identity.verify(
        IdentityRequest(
            resident_id=GOOD_ID, full_name=f"Zhang Min {outcome}", liveness_session="s1"
        )
    )


async def _prices(p: RiskProviders, outcome: str) -> object:
    code = f"AL-{outcome}" if outcome else "AL"
    return await p.price_feed.quote(PriceQuoteRequest(code, "CNY"))


KINDS: list[tuple[ProviderKind, Call]] = [
    (ProviderKind.CREDIT_BUREAU, _bureau),
    (ProviderKind.IDENTITY, _identity),
    (ProviderKind.PRICE_FEED, _prices),
]
IDS = [kind.value for kind, _ in KINDS]


@pytest.mark.parametrize(("kind", "call"), KINDS, ids=IDS)
@pytest.mark.parametrize("outcome", ["TIMEOUT", "TRICKLE"])
async def test_slow_answers_time_out(
    impatient: RiskProviders,
    sandbox: SandboxServer,
    kind: ProviderKind,
    call: Call,
    outcome: str,
) -> None:
    # Either answer would come whole (a good one) if the client waited long enough.
    with pytest.raises(ProviderTimeout) as caught:
        await call(impatient, outcome)
    assert caught.value.kind is kind
    assert caught.value.retryable
    received = sandbox.log.find(str(caught.value.request_id))
    assert received is not None
    assert received.outcome == outcome.lower()


@pytest.mark.parametrize(("kind", "call"), KINDS, ids=IDS)
async def test_a_server_error(providers: RiskProviders, kind: ProviderKind, call: Call) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await call(providers, "UNAVAILABLE")
    assert (caught.value.kind, caught.value.status) == (kind, 503)


@pytest.mark.parametrize(("kind", "call"), KINDS, ids=IDS)
async def test_no_provider_listening(
    sandbox: SandboxServer, kind: ProviderKind, call: Call
) -> None:
    # A port that was free a moment ago: nothing accepts there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = f"http://127.0.0.1:{port}"
    providers = await open_providers(
        sandbox, bureau_url=nowhere, identity_url=nowhere, price_feed_url=nowhere
    )
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await call(providers, "")
    finally:
        await close_risk_providers(providers)
    assert caught.value.status is None
    assert isinstance(caught.value, ProviderError) and caught.value.retryable


async def test_the_sandbox_latency_setting_delays_every_answer() -> None:
    # Latency of 10 s (each answer 5 to 15 s late) against a 0.5 s client: a good answer
    # that would have come had the sandbox not waited ends in a timeout instead.
    with SandboxServer(latency=10.0) as slow:
        providers = await open_providers(slow, provider_timeout_seconds=0.5)
        try:
            with pytest.raises(ProviderTimeout):
                await _prices(providers, "")
        finally:
            await close_risk_providers(providers)
        (received,) = slow.log.entries()
        assert received.key_id is not None  # authenticated, then held
