"""The pledge registry client: ``POST /v1/registrations``, ``GET /v1/registrations/{id}`` and
``POST /v1/registrations/{id}/cancellation`` (protocol in ``integrations/README.md``). Implements
:class:`domain.pledges.ports.PledgeRegistry`.

The calls go through the shared signed JSON client (``integrations/http.py``): requests and
answers are signed (RFC 9421), and its typed errors are turned here into the port's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from domain.pledges.ports import (
    MalformedRegistryAnswer,
    Registration,
    RegistrationNotFound,
    RegistrationRefused,
    RegistrationRequest,
    RegistrationStatus,
    RegistryTimeout,
    RegistryUnavailable,
)
from domain.risk.ports import (
    MalformedAnswer,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RequestRejected,
)
from integrations.answers import Fields, Malformed
from integrations.http import Answer, ProviderClient
from integrations.signing import Credentials
from lendgraph.settings import ConfigurationError, Settings, env_name, in_words

__all__ = ["HttpPledgeRegistry", "pledge_registry", "read_registration"]

KIND = ProviderKind.PLEDGE_REGISTRY
_SETTINGS = ("pledge_registry_url", "pledge_registry_key_id", "pledge_registry_secret")


def read_registration(data: Any, request_id: str) -> Registration:
    """A :class:`Registration` from the registry's JSON. Raises :class:`Malformed`."""
    answer = Fields(data, "registration")
    return Registration(
        registration_id=answer.text("registration_id"),
        filing_number=answer.text("filing_number"),
        status=answer.choice("status", RegistrationStatus),
        reference=answer.text("reference"),
        registered_at=answer.moment("registered_at"),
        request_id=request_id,
    )


@asynccontextmanager
async def _as_port_errors() -> AsyncIterator[None]:
    """The shared client's errors as the registry port's (an answer whose signature does not
    verify is a malformed one: its content is not used)."""
    try:
        yield
    except ProviderTimeout as exc:
        raise RegistryTimeout(str(exc), request_id=exc.request_id) from None
    except ProviderUnavailable as exc:
        raise RegistryUnavailable(str(exc), request_id=exc.request_id) from exc.__cause__
    except MalformedAnswer as exc:
        raise MalformedRegistryAnswer(str(exc), request_id=exc.request_id) from None
    except RequestRejected as exc:
        refused = (
            RegistrationNotFound
            if (exc.status, exc.code) == (404, "REGISTRATION_NOT_FOUND")
            else RegistrationRefused
        )
        raise refused(
            str(exc), request_id=exc.request_id, status=exc.status, code=exc.code
        ) from None


class HttpPledgeRegistry(ProviderClient):
    """A :class:`~domain.pledges.ports.PledgeRegistry` over the registry's HTTP API."""

    kind = KIND

    async def register(self, request: RegistrationRequest) -> Registration:
        """File the pledge. The answer must be REGISTERED, for the reference sent."""
        value = request.declared_value
        payload = {
            "pledgor": {
                "name": request.pledgor.name,
                "social_credit_code": request.pledgor.social_credit_code,
            },
            "pledgee": {"name": request.pledgee_name},
            "warehouse": {
                "name": request.warehouse.name,
                "social_credit_code": request.warehouse.social_credit_code,
            },
            "collateral": {
                "receipt_number": request.receipt_number,
                "goods_description": request.goods_description,
                "quantity": str(request.quantity),
                "unit": request.unit,
                "declared_value": {
                    "amount": value.to_decimal_string(),
                    "currency": value.currency,
                },
            },
            "reference": request.reference,
        }
        async with _as_port_errors():
            answer = await self._client.call(
                "POST",
                "/v1/registrations",
                payload=payload,
                idempotency_key=request.idempotency_key,
            )
        registration = self._read(answer)
        if (
            registration.reference != request.reference
            or registration.status is not RegistrationStatus.REGISTERED
        ):
            raise MalformedRegistryAnswer(
                "a new registration is REGISTERED, for the reference sent",
                request_id=answer.request_id,
            )
        return registration

    async def registration(self, registration_id: str) -> Registration:
        """The filing's current state."""
        if not registration_id.strip():
            raise ValueError("a registration ID is required")
        async with _as_port_errors():
            answer = await self._client.call(
                "GET", f"/v1/registrations/{quote(registration_id, safe='')}"
            )
        registration = self._read(answer)
        if registration.registration_id != registration_id:
            raise MalformedRegistryAnswer(
                "the answer is about another registration", request_id=answer.request_id
            )
        return registration

    async def cancel(self, registration_id: str, *, idempotency_key: str) -> Registration:
        """Cancel the filing. The answer must be CANCELLED, for the registration named."""
        if not registration_id.strip() or not idempotency_key.strip():
            raise ValueError("a cancellation needs a registration ID and an idempotency key")
        async with _as_port_errors():
            answer = await self._client.call(
                "POST",
                f"/v1/registrations/{quote(registration_id, safe='')}/cancellation",
                payload={},
                idempotency_key=idempotency_key,
            )
        registration = self._read(answer)
        if (
            registration.registration_id != registration_id
            or registration.status is not RegistrationStatus.CANCELLED
        ):
            raise MalformedRegistryAnswer(
                "a cancelled registration is CANCELLED, for the registration named",
                request_id=answer.request_id,
            )
        return registration

    @staticmethod
    def _read(answer: Answer) -> Registration:
        try:
            return read_registration(answer.data, answer.request_id)
        except Malformed as exc:
            raise MalformedRegistryAnswer(str(exc), request_id=answer.request_id) from None


def pledge_registry(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> HttpPledgeRegistry:
    """The registry client named by ``settings`` (``LENDGRAPH_PLEDGE_REGISTRY_URL``,
    ``_KEY_ID``, ``_SECRET``; the provider timeout). Raises
    :class:`~lendgraph.settings.ConfigurationError` naming what is missing, or a plain HTTP
    URL in production. Close it with ``aclose()``."""
    missing = [env_name(name) for name in _SETTINGS if getattr(settings, name) in (None, "")]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigurationError(f"{in_words(missing)} {verb} required for the pledge registry")
    url = settings.pledge_registry_url
    key_id = settings.pledge_registry_key_id
    secret = settings.pledge_registry_secret
    assert url is not None and key_id is not None and secret is not None
    if settings.environment == "production" and not url.startswith("https://"):
        raise ConfigurationError(
            f"{env_name('pledge_registry_url')} must be an https:// URL in production"
        )
    return HttpPledgeRegistry(
        url,
        Credentials(key_id, secret.get_secret_value().encode()),
        timeout=settings.provider_timeout_seconds,
        transport=transport,
    )
