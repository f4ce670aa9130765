"""The payment rail client: ``POST /v1/payouts`` and ``GET /v1/payouts/{id}`` (protocol in
``integrations/README.md``). Implements :class:`domain.payments.ports.PayoutRail`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from domain.payments.ports import (
    KIND,
    BeneficiaryRejected,
    IdempotencyKeyReused,
    MalformedAnswer,
    PayoutAcceptance,
    PayoutNotFound,
    PayoutRequest,
    PayoutState,
    PayoutStatus,
    RequestRejected,
)
from integrations.answers import Fields, Malformed
from integrations.http import Answer, ProviderClient
from integrations.signing import Credentials
from lendgraph.settings import ConfigurationError, Settings, env_name, in_words

__all__ = ["HttpPayoutRail", "payout_rail", "read_acceptance", "read_state"]

#: The rail's refusal codes that have an error type of their own.
_REFUSALS: dict[str, type[RequestRejected]] = {
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReused,
    "PAYOUT_NOT_FOUND": PayoutNotFound,
    "INVALID_BENEFICIARY": BeneficiaryRejected,
}


def read_acceptance(data: Any, request_id: str, request: PayoutRequest) -> PayoutAcceptance:
    """A :class:`PayoutAcceptance` from the rail's JSON. Raises :class:`Malformed`, also
    when it is for another reference than asked."""
    answer = Fields(data, "payout")
    result = PayoutAcceptance(
        payout_id=answer.text("payout_id"),
        request_id=request_id,
        status=answer.choice("status", PayoutStatus),
        reference=answer.text("reference"),
    )
    if result.reference != request.reference:
        raise Malformed("the answer is for another reference")
    return result


def read_state(data: Any, request_id: str, payout_id: str) -> PayoutState:
    """A :class:`PayoutState` from the rail's JSON. Raises :class:`Malformed`, also when it
    is of another payout or contradicts itself (a settlement time on an unsettled payout, a
    failure reason on one that has not failed)."""
    answer = Fields(data, "payout")
    status = answer.choice("status", PayoutStatus)
    settled = answer.optional_text("settled_at") is not None
    settled_at = answer.moment("settled_at") if settled else None
    reason = answer.optional_text("failure_reason")
    if (settled_at is not None) != (status is PayoutStatus.SETTLED):
        raise Malformed("settled_at is given exactly for a settled payout")
    if (reason is not None) != (status is PayoutStatus.FAILED):
        raise Malformed("failure_reason is given exactly for a failed payout")
    result = PayoutState(
        payout_id=answer.text("payout_id"),
        request_id=request_id,
        status=status,
        reference=answer.text("reference"),
        amount=answer.money("amount"),
        settled_at=settled_at,
        failure_reason=reason,
    )
    if result.payout_id != payout_id:
        raise Malformed("the answer is for another payout")
    return result


class HttpPayoutRail(ProviderClient):
    """A :class:`~domain.payments.ports.PayoutRail` over a payment rail's HTTP API."""

    kind = KIND

    async def disburse(self, request: PayoutRequest) -> PayoutAcceptance:
        """Ask the rail to pay, under the request's idempotency key (a retry after an unknown
        outcome gets the same payout back)."""
        payload = {
            "amount": {
                "amount": request.amount.to_decimal_string(),
                "currency": request.amount.currency,
            },
            "beneficiary": {
                "name": request.beneficiary.name,
                "account_number": request.beneficiary.account_number,
                "bank_code": request.beneficiary.bank_code,
            },
            "reference": request.reference,
            "callback_url": request.callback_url,
        }
        answer = await self._call(
            "POST", "/v1/payouts", payload=payload, idempotency_key=request.idempotency_key
        )
        try:
            return read_acceptance(answer.data, answer.request_id, request)
        except Malformed as exc:
            raise MalformedAnswer(str(exc), kind=KIND, request_id=answer.request_id) from None

    async def payout(self, payout_id: str) -> PayoutState:
        """The payout's current state at the rail."""
        answer = await self._call("GET", f"/v1/payouts/{quote(payout_id, safe='')}")
        try:
            return read_state(answer.data, answer.request_id, payout_id)
        except Malformed as exc:
            raise MalformedAnswer(str(exc), kind=KIND, request_id=answer.request_id) from None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        try:
            return await self._client.call(
                method, path, payload=payload, idempotency_key=idempotency_key
            )
        except RequestRejected as exc:
            refusal = _REFUSALS.get(exc.code)
            if refusal is None:
                raise
            raise refusal(
                str(exc),
                kind=KIND,
                request_id=exc.request_id,
                status=exc.status,
                code=exc.code,
            ) from None


def payout_rail(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> HttpPayoutRail:
    """The payment rail client named by ``settings`` (``LENDGRAPH_PAYMENTS_URL``, ``_KEY_ID``,
    ``_SECRET``). Raises :class:`~lendgraph.settings.ConfigurationError` naming what is
    missing, or a plain-HTTP URL in production. Close it with ``aclose()``."""
    parts = ("url", "key_id", "secret")
    missing = [
        env_name(f"payments_{part}")
        for part in parts
        if getattr(settings, f"payments_{part}") in (None, "")
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigurationError(f"{in_words(missing)} {verb} required for the payment rail")
    url, key_id, secret = settings.payments_url, settings.payments_key_id, settings.payments_secret
    assert url is not None and key_id is not None and secret is not None
    if settings.environment == "production" and not url.startswith("https://"):
        raise ConfigurationError(
            f"{env_name('payments_url')} must be an https:// URL in production"
        )
    return HttpPayoutRail(
        url,
        Credentials(key_id, secret.get_secret_value().encode()),
        timeout=settings.provider_timeout_seconds,
        transport=transport,
    )
