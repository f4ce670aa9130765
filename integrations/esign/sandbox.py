"""A sandbox e-signature service: a real HTTP service speaking the e-signature protocol
(``integrations/README.md``) that drives each envelope's signing by itself and calls back over
HTTP, for tests and ``lendgraph dev``.

Signers sign one after another in their order, each after the sandbox's latency (0.5 to 1.5
times it), once their identity is verified; what a signer does is chosen by the last word of
their name (case-insensitive):

=============  =====================================================================
``DECLINE``    the signer declines: ``signer.declined``, then ``envelope.declined``
``EXPIRE``     the envelope expires while waiting for the signer: ``envelope.expired``
anything else  the signer signs: ``signer.signed``; after the last, ``envelope.completed``
=============  =====================================================================

A signer whose ID number is neither a valid resident ID nor a valid unified social credit code
is refused at creation (422 ``INVALID_ID_NUMBER``), and so is a document whose ``sha256`` does
not match its content (422 ``DOCUMENT_HASH_MISMATCH``).

The words of the envelope's ``reference`` (split on ``-``, ``_`` and spaces) choose how the
creation is answered and how its callbacks are delivered:

===============  ===================================================================
``TIMEOUT``      the envelope is created, its answer held until the client gives up
``TRICKLE``      the envelope is created, its answer sent a byte at a time
``UNAVAILABLE``  503, nothing created
``MALFORMED``    the envelope is created; the signed answer lacks the signing URLs
``DUPLICATE``    every callback is delivered twice (same event, same body)
``REORDERED``    the envelope's callbacks are held until its last event, then delivered
                 last first
===============  ===================================================================

Callbacks are delivered one at a time per envelope, each retried with exponential backoff
while the receiver answers other than 2xx (or cannot be reached), up to a number of attempts;
each attempt is signed afresh (``integrations/esign/callbacks.py``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import random
import re
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from stdnum.cn import ric, uscc

from domain.contracts.esign_ports import (
    EnvelopeStatus,
    EventType,
    SignerRole,
    SignerStatus,
    sha256_hex,
)
from integrations.esign.callbacks import sign_callback
from integrations.provider import (
    TRANSPORT_FAILURES,
    Call,
    Reply,
    SandboxProvider,
    last_word_outcome,
)

__all__ = [
    "SIGNER_OUTCOMES",
    "CallbackOptions",
    "ESignSandbox",
    "create_app",
    "signed_content",
]

SIGNER_OUTCOMES = ("GOOD", "DECLINE", "EXPIRE")
_CREATION_FAILURES: Final = (*sorted(TRANSPORT_FAILURES), "MALFORMED")


@dataclass(frozen=True)
class CallbackOptions:
    """How the sandbox calls back: the secret callbacks are signed with, and the retries."""

    secret: bytes = field(repr=False)
    #: Seconds before the first retry of a refused delivery; doubled for each further one.
    backoff: float = 0.5
    #: Deliveries of one callback before the sandbox gives up on it.
    attempts: int = 6
    #: Seconds one delivery may take.
    timeout: float = 5.0


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _words(reference: str) -> set[str]:
    return set(re.split(r"[-_\s]+", reference.upper()))


def signed_content(content: bytes, envelope_id: str, signers: list[tuple[str, str, int]]) -> bytes:
    """The signed document: the original bytes, then a line per signer (``signer_id``, role,
    order) in signing order, then a newline."""
    lines = "".join(
        f"\n%SANDBOX-SIGNATURE {envelope_id} {signer_id} {role} {order}"
        for signer_id, role, order in signers
    )
    return content + lines.encode() + b"\n"


@dataclass
class _Signer:
    signer_id: str
    role: SignerRole
    name: str
    order: int
    signing_url: str
    status: SignerStatus = SignerStatus.PENDING
    identity_verified: bool = False
    signed_at: datetime | None = None

    def json(self) -> dict[str, Any]:
        return {
            "signer_id": self.signer_id,
            "role": self.role.value,
            "order": self.order,
            "signing_url": self.signing_url,
            "status": self.status.value,
            "identity_verified": self.identity_verified,
            "signed_at": None if self.signed_at is None else self.signed_at.isoformat(),
        }


@dataclass
class _Envelope:
    envelope_id: str
    key_id: str
    reference: str
    callback_url: str
    filename: str
    content: bytes = field(repr=False)
    signers: list[_Signer]
    status: EnvelopeStatus = EnvelopeStatus.SENT
    signed: bytes | None = field(default=None, repr=False)
    void_reason: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "envelope_id": self.envelope_id,
            "reference": self.reference,
            "status": self.status.value,
            "document": {"sha256": sha256_hex(self.content), "filename": self.filename},
            "signed_document": None if self.signed is None else {"sha256": sha256_hex(self.signed)},
            "signers": [s.json() for s in self.signers],
        }


class _Invalid(Exception):
    """A request the sandbox refuses (400 ``INVALID_REQUEST``)."""


class _Refused(Exception):
    """A well-formed request the sandbox refuses (422 with ``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _text(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{where}.{name} is required")
    return value


class ESignSandbox:
    """The sandbox's envelopes and what it does with them. Runs on the server's event loop."""

    def __init__(self, provider: SandboxProvider, callbacks: CallbackOptions) -> None:
        self.provider = provider
        self.callbacks = callbacks
        # (key ID, envelope ID): an account sees its own envelopes only.
        self._envelopes: dict[tuple[str, str], _Envelope] = {}
        self._signers: dict[str, _Signer] = {}
        # The running drivers (a task without a reference may be collected mid-way).
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> Starlette:
        """The service's routes: the API behind the provider's checks, and the signing pages."""
        return Starlette(
            routes=[
                Route("/v1/envelopes", self.provider.endpoint(self._create), methods=["POST"]),
                Route(
                    "/v1/envelopes/{envelope_id}",
                    self.provider.endpoint(self._read),
                    methods=["GET"],
                ),
                Route(
                    "/v1/envelopes/{envelope_id}/signed-document",
                    self.provider.endpoint(self._signed_document),
                    methods=["GET"],
                ),
                Route(
                    "/v1/envelopes/{envelope_id}/void",
                    self.provider.endpoint(self._void),
                    methods=["POST"],
                ),
                Route("/sign/{signer_id}", self._signing_page, methods=["GET"]),
            ]
        )

    # -- the API ---------------------------------------------------------------------------------

    async def _create(self, call: Call) -> Reply:
        try:
            envelope = self._envelope_of(call)
        except _Invalid as exc:
            return Reply.refuse(400, "INVALID_REQUEST", str(exc))
        except _Refused as exc:
            return Reply.refuse(422, exc.code, str(exc))
        words = _words(envelope.reference)
        failure = next((w for w in _CREATION_FAILURES if w in words), None)
        if failure == "UNAVAILABLE":
            return Reply.unavailable()
        self._envelopes[(envelope.key_id, envelope.envelope_id)] = envelope
        self._signers.update((s.signer_id, s) for s in envelope.signers)
        task = asyncio.get_running_loop().create_task(
            self._drive(envelope, duplicate="DUPLICATE" in words, reordered="REORDERED" in words)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        payload = envelope.json()
        if failure == "MALFORMED":
            for signer in payload["signers"]:
                del signer["signing_url"]
        if failure in TRANSPORT_FAILURES:
            return Reply.failing(failure, payload)
        return Reply.ok(payload)

    async def _read(self, call: Call) -> Reply:
        envelope = self._envelopes.get((call.key_id, call.request.path_params["envelope_id"]))
        if envelope is None:
            return Reply.refuse(404, "ENVELOPE_NOT_FOUND", "no such envelope")
        return Reply.ok(envelope.json())

    async def _signed_document(self, call: Call) -> Reply:
        envelope = self._envelopes.get((call.key_id, call.request.path_params["envelope_id"]))
        if envelope is None:
            return Reply.refuse(404, "ENVELOPE_NOT_FOUND", "no such envelope")
        if envelope.signed is None:
            return Reply.refuse(409, "NOT_COMPLETED", "the envelope is not completed")
        return Reply.ok(
            {
                "envelope_id": envelope.envelope_id,
                "sha256": sha256_hex(envelope.signed),
                "content_base64": base64.b64encode(envelope.signed).decode(),
            }
        )

    async def _void(self, call: Call) -> Reply:
        envelope = self._envelopes.get((call.key_id, call.request.path_params["envelope_id"]))
        if envelope is None:
            return Reply.refuse(404, "ENVELOPE_NOT_FOUND", "no such envelope")
        reason = call.data.get("reason") if isinstance(call.data, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            return Reply.refuse(400, "INVALID_REQUEST", "a reason is required")
        if envelope.status is EnvelopeStatus.SENT:
            # The signers still to sign are not asked: the driver stops at its next step.
            envelope.status = EnvelopeStatus.VOIDED
            envelope.void_reason = reason
        elif envelope.status is not EnvelopeStatus.VOIDED:
            return Reply.refuse(409, "ENVELOPE_FINAL", f"the envelope is {envelope.status}")
        return Reply.ok(envelope.json())

    async def _signing_page(self, request: Request) -> Response:
        signer = self._signers.get(request.path_params["signer_id"])
        if signer is None:
            return PlainTextResponse("no such signer", status_code=404)
        # The sandbox signs by itself; the page only says where the signer stands.
        return PlainTextResponse(f"Sandbox signing page: {signer.role} {signer.status}")

    def _envelope_of(self, call: Call) -> _Envelope:
        data = call.data
        if not isinstance(data, dict):
            raise _Invalid("the body must be an object")
        document = data.get("document")
        if not isinstance(document, dict):
            raise _Invalid("document is required")
        sha256 = _text(document, "sha256", "document")
        filename = _text(document, "filename", "document")
        try:
            content = base64.b64decode(_text(document, "content_base64", "document"), validate=True)
        except (binascii.Error, ValueError):
            raise _Invalid("document.content_base64 is not base64") from None
        signers = data.get("signers")
        if not isinstance(signers, list) or not signers:
            raise _Invalid("signers must be a non-empty list")
        callback_url = _text(data, "callback_url", "envelope")
        if not callback_url.startswith(("http://", "https://")):
            raise _Invalid("callback_url must be an http:// or https:// URL")
        reference = _text(data, "reference", "envelope")

        envelope_id = f"EV-{uuid.uuid4().hex[:16].upper()}"
        # Where this service is mounted (the request's root path), on the host it was called at.
        pages = call.request.url.replace(path=call.request.scope.get("root_path", ""), query="")
        base = str(pages).rstrip("/")
        read: list[_Signer] = []
        refused: list[str] = []
        for i, item in enumerate(signers):
            where = f"signers[{i}]"
            if not isinstance(item, dict):
                raise _Invalid(f"{where} must be an object")
            try:
                role = SignerRole(_text(item, "role", where))
            except ValueError:
                raise _Invalid(f"{where}.role is not a signer role") from None
            name = _text(item, "name", where)
            id_number = _text(item, "id_number", where)
            order = item.get("order")
            if not isinstance(order, int) or isinstance(order, bool) or order < 1:
                raise _Invalid(f"{where}.order must be a positive integer")
            # The funder signs as the service's own customer (its account, by the API key),
            # not as a party identified by a register: only the other parties' IDs are checked.
            if role is not SignerRole.FUNDER and not (
                ric.is_valid(id_number) or uscc.is_valid(id_number)
            ):
                refused.append(where)
            signer_id = f"SG-{uuid.uuid4().hex[:16].upper()}"
            read.append(_Signer(signer_id, role, name, order, f"{base}/sign/{signer_id}"))
        if len({s.order for s in read}) != len(read):
            raise _Invalid("signers' orders must be distinct")
        if refused:
            raise _Refused(
                "INVALID_ID_NUMBER",
                f"not a valid resident ID or social credit code: {', '.join(refused)}",
            )
        if sha256_hex(content) != sha256.lower():
            raise _Refused("DOCUMENT_HASH_MISMATCH", "document.sha256 does not match its content")
        return _Envelope(
            envelope_id=envelope_id,
            key_id=call.key_id,
            reference=reference,
            callback_url=callback_url,
            filename=filename,
            content=content,
            signers=sorted(read, key=lambda s: s.order),
        )

    # -- signing and callbacks -------------------------------------------------------------------

    async def _drive(self, envelope: _Envelope, *, duplicate: bool, reordered: bool) -> None:
        """Walk the signers in order, announcing each step; deliver the announcements."""
        events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        delivery = asyncio.get_running_loop().create_task(
            self._deliver(envelope, events, duplicate=duplicate, reordered=reordered)
        )
        try:
            await self._sign(envelope, events)
        finally:
            events.put_nowait(None)
        await delivery

    async def _sign(
        self, envelope: _Envelope, events: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        def announce(kind: EventType, signer: _Signer | None = None) -> None:
            event: dict[str, Any] = {
                "event_id": f"EVT-{uuid.uuid4().hex.upper()}",
                "type": kind.value,
                "envelope_id": envelope.envelope_id,
                "reference": envelope.reference,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            if signer is not None:
                event["signer_id"] = signer.signer_id
            if kind is EventType.ENVELOPE_COMPLETED:
                assert envelope.signed is not None
                event["signed_document"] = {
                    "sha256": sha256_hex(envelope.signed),
                    "content_base64": base64.b64encode(envelope.signed).decode(),
                }
            events.put_nowait(event)

        for signer in envelope.signers:
            await self._wait()
            if envelope.status is EnvelopeStatus.VOIDED:
                # Withdrawn by the sender: nobody more signs, nothing more is announced.
                return
            outcome = last_word_outcome(signer.name, SIGNER_OUTCOMES)
            if outcome == "EXPIRE":
                envelope.status = EnvelopeStatus.EXPIRED
                announce(EventType.ENVELOPE_EXPIRED)
                return
            # The signer's identity is checked when they open the signing page, before
            # anything else (the sandbox checked the number's form at creation).
            signer.identity_verified = True
            if outcome == "DECLINE":
                signer.status = SignerStatus.DECLINED
                envelope.status = EnvelopeStatus.DECLINED
                announce(EventType.SIGNER_DECLINED, signer)
                announce(EventType.ENVELOPE_DECLINED)
                return
            signer.status = SignerStatus.SIGNED
            signer.signed_at = datetime.now(UTC)
            announce(EventType.SIGNER_SIGNED, signer)
        if envelope.status is EnvelopeStatus.VOIDED:
            return
        envelope.signed = signed_content(
            envelope.content,
            envelope.envelope_id,
            [(s.signer_id, s.role.value, s.order) for s in envelope.signers],
        )
        envelope.status = EnvelopeStatus.COMPLETED
        announce(EventType.ENVELOPE_COMPLETED)

    async def _wait(self) -> None:
        latency = self.provider.latency
        # Spread around the setting, as people take their time.
        await asyncio.sleep(latency * random.uniform(0.5, 1.5) if latency > 0 else 0)  # noqa: S311

    async def _deliver(
        self,
        envelope: _Envelope,
        events: asyncio.Queue[dict[str, Any] | None],
        *,
        duplicate: bool,
        reordered: bool,
    ) -> None:
        """POST each event to the envelope's callback URL, one at a time, in order (or, when
        ``reordered``, all at the end, last first)."""
        copies = 2 if duplicate else 1
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.callbacks.timeout),
            verify=_tls_context(),
            follow_redirects=False,
            trust_env=False,
        ) as http:
            held: list[dict[str, Any]] = []
            while (event := await events.get()) is not None:
                if reordered:
                    held.append(event)
                    continue
                for _ in range(copies):
                    await self._post(http, envelope, event)
            for event in reversed(held):
                for _ in range(copies):
                    await self._post(http, envelope, event)

    async def _post(
        self, http: httpx.AsyncClient, envelope: _Envelope, event: dict[str, Any]
    ) -> bool:
        """Deliver one event, retrying with backoff; whether the receiver took it."""
        body = json.dumps(event, separators=(",", ":")).encode()
        options = self.callbacks
        for attempt in range(1, options.attempts + 1):
            headers = sign_callback(
                body, options.secret, key_id=envelope.key_id, created=datetime.now(UTC)
            )
            headers.append(("x-delivery-attempt", str(attempt)))
            try:
                response = await http.post(envelope.callback_url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    return True
            except httpx.HTTPError:
                pass
            if attempt < options.attempts:
                await asyncio.sleep(options.backoff * 2 ** (attempt - 1))
        return False


def create_app(provider: SandboxProvider, callbacks: CallbackOptions) -> Starlette:
    """The e-signature service's routes behind ``provider``'s checks, calling back as
    ``callbacks`` say."""
    return ESignSandbox(provider, callbacks).app()
