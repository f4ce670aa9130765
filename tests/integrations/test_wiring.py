"""How the ports are configured: ``risk_providers(settings)`` names what is missing, refuses
plain HTTP in production, and ``lendgraph dev``'s start-up points every port at the sandboxes
it starts (read back through the environment, as the workers read it)."""

from __future__ import annotations

import os

import pytest

from domain.risk.ports import (
    CommodityPriceFeed,
    CreditBureau,
    CreditReportRequest,
    IdentityVerifier,
)
from integrations.risk import close_risk_providers, risk_providers
from integrations.sandboxes import SandboxServer
from lendgraph.dev import start_sandboxes
from lendgraph.settings import ConfigurationError, Settings, load_settings
from tests.integrations.conftest import GOOD_ID, sandbox_settings
from tests.integrations.test_bureau import CONSENT

PROVIDER_VARIABLES = [
    f"LENDGRAPH_{kind}_{part}"
    for kind in ("BUREAU", "IDENTITY", "PRICE_FEED", "ESIGN", "PAYMENTS", "PLEDGE_REGISTRY")
    for part in ("URL", "KEY_ID", "SECRET")
] + ["LENDGRAPH_ESIGN_CALLBACK_SECRET", "LENDGRAPH_PAYMENTS_CALLBACK_SECRET"]


def test_missing_settings_are_named() -> None:
    settings = Settings(
        environment="test",
        bureau_url="http://127.0.0.1:1",
        bureau_key_id="k",
        identity_url="http://127.0.0.1:1",
    )
    with pytest.raises(ConfigurationError) as caught:
        risk_providers(settings)
    assert str(caught.value) == (
        "LENDGRAPH_BUREAU_SECRET, LENDGRAPH_IDENTITY_KEY_ID, LENDGRAPH_IDENTITY_SECRET, "
        "LENDGRAPH_PRICE_FEED_URL, LENDGRAPH_PRICE_FEED_KEY_ID and LENDGRAPH_PRICE_FEED_SECRET "
        "are required for the risk providers"
    )


def test_production_calls_providers_over_https_only(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigurationError) as caught:
        risk_providers(sandbox_settings(sandbox, environment="production"))
    assert str(caught.value) == "LENDGRAPH_BUREAU_URL must be an https:// URL in production"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "LENDGRAPH_BUREAU_SECRET",
            "short",
            "LENDGRAPH_BUREAU_SECRET is invalid: must have at least 32 characters",
        ),
        (
            "LENDGRAPH_PRICE_FEED_URL",
            "ftp://feed",
            "LENDGRAPH_PRICE_FEED_URL is invalid: expected an http:// or https:// URL",
        ),
        (
            "LENDGRAPH_PROVIDER_TIMEOUT_SECONDS",
            "0",
            "LENDGRAPH_PROVIDER_TIMEOUT_SECONDS is invalid: Input should be greater than 0",
        ),
    ],
)
def test_invalid_provider_settings(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == message


async def test_dev_points_every_port_at_its_sandboxes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROVIDER_VARIABLES:
        # Set, then removed: monkeypatch then also removes what start_sandboxes writes.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # A provider the developer configured is left alone.
    monkeypatch.setenv("LENDGRAPH_PRICE_FEED_URL", "https://feed.example")
    monkeypatch.setenv("LENDGRAPH_PRICE_FEED_KEY_ID", "mine")
    monkeypatch.setenv("LENDGRAPH_PRICE_FEED_SECRET", "m" * 32)
    sandboxes = start_sandboxes(0.0)
    try:
        assert os.environ["LENDGRAPH_BUREAU_URL"] == sandboxes.base_url + "/bureau"
        assert os.environ["LENDGRAPH_IDENTITY_URL"] == sandboxes.base_url + "/identity"
        assert os.environ["LENDGRAPH_PRICE_FEED_URL"] == "https://feed.example"
        providers = risk_providers(Settings(environment="dev"))
        try:
            assert isinstance(providers.bureau, CreditBureau)
            assert isinstance(providers.identity, IdentityVerifier)
            assert isinstance(providers.price_feed, CommodityPriceFeed)
            report = await providers.bureau.pull_report(
                CreditReportRequest(resident_id=GOOD_ID, full_name="Zhang Min", consent=CONSENT)
            )
            assert report.score == 742
        finally:
            await close_risk_providers(providers)
        assert sandboxes.log.find(report.request_id) is not None
    finally:
        sandboxes.stop()


async def test_workers_wire_the_pledge_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """``wire_pledges``: the registry of the settings (dev points it at the sandbox); none,
    with a warning, outside production without settings; a start-up error in production."""
    from domain.pledges.ports import PledgeRegistry, RegistrationNotFound
    from workers.ports import Pledges, wire_pledges

    for name in PROVIDER_VARIABLES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    unwired = Pledges()
    assert not wire_pledges(Settings(environment="test"), into=unwired)
    assert unwired.registry is None
    with pytest.raises(ConfigurationError, match="LENDGRAPH_PLEDGE_REGISTRY_URL"):
        wire_pledges(Settings(environment="production"), into=Pledges())
    sandboxes = start_sandboxes(0.0)
    try:
        assert os.environ["LENDGRAPH_PLEDGE_REGISTRY_URL"] == (
            sandboxes.base_url + "/pledge-registry"
        )
        wired = Pledges()
        assert wire_pledges(Settings(environment="dev"), into=wired)
        assert isinstance(wired.registry, PledgeRegistry)
        # A signed call reaches the sandbox and is answered (an unknown filing).
        with pytest.raises(RegistrationNotFound):
            await wired.registry.registration("RG-UNKNOWN")
        await wired.registry.aclose()  # type: ignore[attr-defined]
    finally:
        sandboxes.stop()
