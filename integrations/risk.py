"""The risk providers of a deployment: one HTTP client per port, configured from settings.

Production points each at the real provider; tests and ``lendgraph dev`` point them at the
loopback sandboxes (:class:`integrations.sandboxes.SandboxServer`). The clients are the same
code either way.
"""

from __future__ import annotations

import httpx

from domain.risk.ports import RiskProviders
from integrations.bureau.client import HttpCreditBureau
from integrations.identity.client import HttpIdentityVerifier
from integrations.signing import Credentials
from integrations.valuation.client import HttpPriceFeed
from lendgraph.settings import ConfigurationError, Settings, env_name, in_words

__all__ = ["close_risk_providers", "risk_providers"]

_KINDS = ("bureau", "identity", "price_feed")


def _endpoint(settings: Settings, kind: str) -> tuple[str, Credentials]:
    url: str | None = getattr(settings, f"{kind}_url")
    key_id: str | None = getattr(settings, f"{kind}_key_id")
    secret = getattr(settings, f"{kind}_secret")
    assert url is not None and key_id is not None and secret is not None
    if settings.environment == "production" and not url.startswith("https://"):
        raise ConfigurationError(f"{env_name(f'{kind}_url')} must be an https:// URL in production")
    return url, Credentials(key_id, secret.get_secret_value().encode())


def risk_providers(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> RiskProviders:
    """The credit bureau, identity verifier and price feed named by ``settings``. Raises
    :class:`~lendgraph.settings.ConfigurationError` naming any missing URL, key ID or secret.
    ``transport`` replaces the network (tests put a tampering proxy there). Close them with
    :func:`close_risk_providers`."""
    missing = [
        env_name(f"{kind}_{part}")
        for kind in _KINDS
        for part in ("url", "key_id", "secret")
        if getattr(settings, f"{kind}_{part}") in (None, "")
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigurationError(f"{in_words(missing)} {verb} required for the risk providers")
    timeout = settings.provider_timeout_seconds
    bureau_url, bureau_credentials = _endpoint(settings, "bureau")
    identity_url, identity_credentials = _endpoint(settings, "identity")
    prices_url, prices_credentials = _endpoint(settings, "price_feed")
    return RiskProviders(
        bureau=HttpCreditBureau(
            bureau_url, bureau_credentials, timeout=timeout, transport=transport
        ),
        identity=HttpIdentityVerifier(
            identity_url, identity_credentials, timeout=timeout, transport=transport
        ),
        price_feed=HttpPriceFeed(
            prices_url, prices_credentials, timeout=timeout, transport=transport
        ),
    )


async def close_risk_providers(providers: RiskProviders) -> None:
    """Close the connection pools of whichever providers have one."""
    for port in (providers.bureau, providers.identity, providers.price_feed):
        aclose = getattr(port, "aclose", None)
        if aclose is not None:
            await aclose()
