"""The e-signature client: ``POST /v1/envelopes``, ``GET /v1/envelopes/{id}``,
``GET /v1/envelopes/{id}/signed-document`` and ``POST /v1/envelopes/{id}/void`` (protocol in
``integrations/README.md``). Implements :class:`domain.contracts.esign_ports.ESignature`.

The calls go through the shared signed JSON client (``integrations/http.py``); its typed
errors are those of the risk ports, and are turned here into the e-signature port's own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from domain.contracts.esign_ports import (
    Envelope,
    EnvelopeNotFound,
    EnvelopeRejected,
    EnvelopeRequest,
    EnvelopeStatus,
    ESignatureAnswerNotAuthentic,
    ESignatureTimeout,
    ESignatureUnavailable,
    MalformedESignatureAnswer,
    SignedDocument,
    Signer,
    SignerRole,
    SignerStatus,
    sha256_hex,
)
from domain.risk.ports import (
    AnswerNotAuthentic,
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

__all__ = ["HttpESignature", "esignature_from_settings", "read_envelope"]

KIND = ProviderKind.ESIGNATURE
_SETTINGS = ("esign_url", "esign_key_id", "esign_secret")


def _signer(item: Fields) -> Signer:
    order = item.integer("order")
    if order < 1:
        raise Malformed("signer order must be positive")
    status = item.choice("status", SignerStatus)
    signed_at = item.moment("signed_at") if item.optional_text("signed_at") else None
    if (status is SignerStatus.SIGNED) != (signed_at is not None):
        raise Malformed("a signer has signed_at exactly when signed")
    return Signer(
        signer_id=item.text("signer_id"),
        role=item.choice("role", SignerRole),
        order=order,
        signing_url=item.text("signing_url"),
        status=status,
        identity_verified=item.flag("identity_verified"),
        signed_at=signed_at,
    )


def read_envelope(data: Any, request_id: str) -> Envelope:
    """An :class:`Envelope` from the service's JSON, whose status must agree with its
    signers'. Raises :class:`Malformed`."""
    answer = Fields(data, "envelope")
    status = answer.choice("status", EnvelopeStatus)
    signers = answer.items("signers", _signer)
    if not signers:
        raise Malformed("an envelope has signers")
    orders = [s.order for s in signers]
    if orders != sorted(set(orders)):
        raise Malformed("signers are not in signing order")
    signed = answer.object_or_none("signed_document")
    statuses = [s.status for s in signers]
    if (status is EnvelopeStatus.COMPLETED) != (signed is not None):
        raise Malformed("a signed document exists exactly when the envelope is completed")
    if status is EnvelopeStatus.COMPLETED and any(s is not SignerStatus.SIGNED for s in statuses):
        raise Malformed("a completed envelope has a signer who did not sign")
    if (status is EnvelopeStatus.DECLINED) != (SignerStatus.DECLINED in statuses):
        raise Malformed("an envelope is declined exactly when a signer declined")
    # Signers sign in order: nobody has signed after someone who has not.
    signed_prefix = [s is SignerStatus.SIGNED for s in statuses]
    if signed_prefix != sorted(signed_prefix, reverse=True):
        raise Malformed("a signer signed before an earlier one")
    return Envelope(
        envelope_id=answer.text("envelope_id"),
        request_id=request_id,
        reference=answer.text("reference"),
        status=status,
        signers=signers,
        document_sha256=answer.object("document").text("sha256"),
        signed_document_sha256=None if signed is None else signed.text("sha256"),
    )


@asynccontextmanager
async def _as_port_errors() -> AsyncIterator[None]:
    """The shared client's errors as the e-signature port's."""
    try:
        yield
    except ProviderTimeout as exc:
        raise ESignatureTimeout(str(exc), request_id=exc.request_id) from None
    except ProviderUnavailable as exc:
        raise ESignatureUnavailable(
            str(exc), request_id=exc.request_id, status=exc.status
        ) from exc.__cause__
    except AnswerNotAuthentic as exc:
        raise ESignatureAnswerNotAuthentic(str(exc), request_id=exc.request_id) from None
    except MalformedAnswer as exc:
        raise MalformedESignatureAnswer(str(exc), request_id=exc.request_id) from None
    except RequestRejected as exc:
        rejected = (
            EnvelopeNotFound
            if (exc.status, exc.code) == (404, "ENVELOPE_NOT_FOUND")
            else EnvelopeRejected
        )
        raise rejected(
            str(exc), request_id=exc.request_id, status=exc.status, code=exc.code
        ) from None


class HttpESignature(ProviderClient):
    """An :class:`~domain.contracts.esign_ports.ESignature` over the service's HTTP API."""

    kind = KIND

    async def create_envelope(self, request: EnvelopeRequest) -> Envelope:
        """Send the document to its signers. The answer must list the signers asked for (role
        and order), each still to sign."""
        document = request.document
        payload = {
            "document": {
                "sha256": document.sha256,
                "filename": document.filename,
                "content_base64": base64.b64encode(document.content).decode(),
            },
            "signers": [
                {"role": s.role.value, "name": s.name, "id_number": s.id_number, "order": s.order}
                for s in request.signers_in_order
            ],
            "callback_url": request.callback_url,
            "reference": request.reference,
        }
        async with _as_port_errors():
            answer = await self._client.call(
                "POST", "/v1/envelopes", payload=payload, idempotency_key=request.idempotency_key
            )
        envelope = self._read(answer)
        asked = [(s.role, s.order) for s in request.signers_in_order]
        if [(s.role, s.order) for s in envelope.signers] != asked:
            raise MalformedESignatureAnswer(
                "the envelope's signers are not the ones asked for", request_id=answer.request_id
            )
        if (
            envelope.status is not EnvelopeStatus.SENT
            or envelope.document_sha256 != document.sha256
        ):
            raise MalformedESignatureAnswer(
                "a new envelope is SENT, with the document sent", request_id=answer.request_id
            )
        return envelope

    async def envelope(self, envelope_id: str) -> Envelope:
        """The envelope's current state."""
        if not envelope_id.strip():
            raise ValueError("an envelope ID is required")
        async with _as_port_errors():
            answer = await self._client.call("GET", f"/v1/envelopes/{quote(envelope_id, safe='')}")
        envelope = self._read(answer)
        if envelope.envelope_id != envelope_id:
            raise MalformedESignatureAnswer(
                "the answer is about another envelope", request_id=answer.request_id
            )
        return envelope

    async def signed_document(self, envelope_id: str) -> SignedDocument:
        """The signed document of a completed envelope, its hash checked against its
        content."""
        if not envelope_id.strip():
            raise ValueError("an envelope ID is required")
        path = f"/v1/envelopes/{quote(envelope_id, safe='')}/signed-document"
        async with _as_port_errors():
            answer = await self._client.call("GET", path)
        try:
            document = Fields(answer.data, "signed_document")
            if document.text("envelope_id") != envelope_id:
                raise Malformed("the answer is about another envelope")
            announced = document.text("sha256")
            try:
                content = base64.b64decode(document.text("content_base64"), validate=True)
            except (binascii.Error, ValueError):
                raise Malformed("signed_document.content_base64 is not base64") from None
            if sha256_hex(content) != announced:
                raise Malformed("signed_document.sha256 does not match its content")
        except Malformed as exc:
            raise MalformedESignatureAnswer(str(exc), request_id=answer.request_id) from None
        return SignedDocument(sha256=announced, content=content)

    async def void_envelope(self, envelope_id: str, reason: str) -> Envelope:
        """Withdraw an envelope still out for signing; the answer must say VOIDED."""
        if not envelope_id.strip():
            raise ValueError("an envelope ID is required")
        path = f"/v1/envelopes/{quote(envelope_id, safe='')}/void"
        async with _as_port_errors():
            answer = await self._client.call(
                "POST", path, payload={"reason": reason}, idempotency_key=f"void:{envelope_id}"
            )
        envelope = self._read(answer)
        if envelope.envelope_id != envelope_id or envelope.status is not EnvelopeStatus.VOIDED:
            raise MalformedESignatureAnswer(
                "a voided envelope is answered VOIDED", request_id=answer.request_id
            )
        return envelope

    @staticmethod
    def _read(answer: Answer) -> Envelope:
        try:
            return read_envelope(answer.data, answer.request_id)
        except Malformed as exc:
            raise MalformedESignatureAnswer(str(exc), request_id=answer.request_id) from None


def esignature_from_settings(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> HttpESignature:
    """The e-signature client named by ``settings`` (``LENDGRAPH_ESIGN_URL``, ``_KEY_ID``,
    ``_SECRET``; the provider timeout). Raises
    :class:`~lendgraph.settings.ConfigurationError` naming what is missing, or a plain HTTP
    URL in production. Close it with ``aclose()``."""
    missing: Sequence[str] = [
        env_name(name) for name in _SETTINGS if getattr(settings, name) in (None, "")
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigurationError(f"{in_words(list(missing))} {verb} required for e-signature")
    url, key_id, secret = settings.esign_url, settings.esign_key_id, settings.esign_secret
    assert url is not None and key_id is not None and secret is not None
    if settings.environment == "production" and not url.startswith("https://"):
        raise ConfigurationError(f"{env_name('esign_url')} must be an https:// URL in production")
    return HttpESignature(
        url,
        Credentials(key_id, secret.get_secret_value().encode()),
        timeout=settings.provider_timeout_seconds,
        transport=transport,
    )
