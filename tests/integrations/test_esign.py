"""The e-signature client against the sandbox service over loopback HTTP, and the sandbox's
callbacks as a real receiver (a Starlette app on another loopback port) gets them: in signing
order, signed, with the signed document; declined and expired envelopes; duplicated,
reordered and retried deliveries; and verify_callback refusing what it must."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from stdnum.cn import uscc

from domain.contracts.esign_ports import (
    Document,
    Envelope,
    EnvelopeEvent,
    EnvelopeNotFound,
    EnvelopeRejected,
    EnvelopeRequest,
    EnvelopeStatus,
    ESignature,
    ESignatureAnswerNotAuthentic,
    ESignatureError,
    ESignatureTimeout,
    ESignatureUnavailable,
    EventType,
    MalformedESignatureAnswer,
    Signer,
    SignerRequest,
    SignerRole,
    SignerStatus,
)
from domain.risk.ports import ProviderKind, RequestRejected
from integrations.esign.callbacks import (
    BadSignature,
    MalformedCallback,
    StaleTimestamp,
    sign_callback,
    verify_callback,
)
from integrations.esign.client import HttpESignature, esignature_from_settings
from integrations.http import SignedJsonClient
from integrations.sandboxes import LoopbackServer, SandboxServer
from integrations.signing import Credentials
from lendgraph.settings import ConfigurationError, Settings, load_settings
from tests.integrations.conftest import HANG_SECONDS, SHORT_TIMEOUT, resident_id, sandbox_settings
from tests.integrations.test_authentication import Interceptor

#: How long a test waits for callbacks before it fails.
WAIT = 10.0
#: The sandbox's first retry of a refused callback comes this many seconds later, then twice
#: as late each time.
BACKOFF = 0.05

BORROWER_ID = resident_id("44030419880815123")


def social_credit_code(body: str) -> str:
    """A valid unified social credit code: 17 characters and their check character
    (computed by python-stdnum)."""
    return body + uscc.calc_check_digit(body)


CORE_CODE = social_credit_code("91310000MA1FL8LQ2")
FUNDER_CODE = social_credit_code("91110000600037341")
CONTRACT = Document("supply-chain-loan-0042.pdf", b"%PDF-1.7\nloan agreement 0042\n%%EOF\n")
_inboxes = itertools.count(1)


# -- a callback receiver ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One callback as it arrived, and what the receiver answered."""

    headers: list[tuple[str, str]]
    body: bytes
    answered: int
    received_at: datetime

    @property
    def event_id(self) -> str:
        return str(json.loads(self.body)["event_id"])


class CallbackReceiver(LoopbackServer):
    """Takes callbacks at ``/inbox/{name}``: keeps each as it came (raw headers and body),
    answers 204, or 503 to the first ``refuse_first`` of an inbox."""

    thread_name = "callback-receiver"

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._deliveries: dict[str, list[Delivery]] = {}
        self._refusals: dict[str, int] = {}
        super().__init__(Starlette(routes=[Route("/inbox/{name}", self._take, methods=["POST"])]))

    def inbox(self, *, refuse_first: int = 0) -> str:
        """The URL of a new inbox."""
        name = f"i{next(_inboxes)}"
        with self._changed:
            self._deliveries[name] = []
            self._refusals[name] = refuse_first
        return f"{self.base_url}/inbox/{name}"

    async def _take(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        with self._changed:
            refuse = self._refusals.get(name, 0) > 0
            if refuse:
                self._refusals[name] -= 1
            status = 503 if refuse else 204
            self._deliveries.setdefault(name, []).append(
                Delivery(request.headers.items(), body, status, datetime.now(UTC))
            )
            self._changed.notify_all()
        return Response(status_code=status)

    def _wait(self, url: str, count: int, timeout: float) -> list[Delivery]:
        name = url.rsplit("/", 1)[1]

        def taken() -> list[Delivery]:
            return [d for d in self._deliveries[name] if d.answered < 300]

        with self._changed:
            if not self._changed.wait_for(lambda: len(taken()) >= count, timeout):
                raise AssertionError(
                    f"{len(taken())} of {count} callbacks arrived within {timeout} s"
                )
            return list(self._deliveries[name])

    async def delivered(self, url: str, count: int) -> list[Delivery]:
        """Every delivery to ``url`` (refused ones too), once ``count`` were taken (within
        :data:`WAIT` seconds)."""
        return await asyncio.to_thread(self._wait, url, count, WAIT)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    # This module's own sandboxes: quick retries of refused callbacks.
    with SandboxServer(
        latency=0.0, hang_seconds=HANG_SECONDS, callback_backoff=BACKOFF, callback_attempts=4
    ) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


@pytest.fixture
async def esign(sandbox: SandboxServer) -> AsyncIterator[HttpESignature]:
    client = esignature_from_settings(sandbox_settings(sandbox))
    yield client
    await client.aclose()


@pytest.fixture
async def impatient(sandbox: SandboxServer) -> AsyncIterator[HttpESignature]:
    client = esignature_from_settings(
        sandbox_settings(sandbox, provider_timeout_seconds=SHORT_TIMEOUT)
    )
    yield client
    await client.aclose()


def envelope_request(
    callback_url: str,
    reference: str = "deal-0042",
    *,
    borrower: str = "Zhang Min",
    core: str = "Shanghai Steel Trading Co",
    funder: str = "Pudong Supply Chain Finance",
    idempotency_key: str | None = None,
) -> EnvelopeRequest:
    # Given out of order on purpose: the order field decides who signs when.
    return EnvelopeRequest(
        document=CONTRACT,
        signers=(
            SignerRequest(SignerRole.FUNDER, funder, FUNDER_CODE, 3),
            SignerRequest(SignerRole.BORROWER, borrower, BORROWER_ID, 1),
            SignerRequest(SignerRole.CORE_ENTERPRISE, core, CORE_CODE, 2),
        ),
        callback_url=callback_url,
        reference=reference,
        idempotency_key=idempotency_key,
    )


def secret_of(sandbox: SandboxServer) -> str:
    """The callback secret, as the API reads it from its settings."""
    secret = sandbox_settings(sandbox).esign_callback_secret
    assert secret is not None
    return secret.get_secret_value()


def events(sandbox: SandboxServer, deliveries: list[Delivery]) -> list[EnvelopeEvent]:
    """The taken deliveries, each verified as the webhook endpoint will."""
    return [
        verify_callback(d.headers, d.body, secret_of(sandbox), now=d.received_at)
        for d in deliveries
        if d.answered < 300
    ]


# -- creation and the happy path ----------------------------------------------------------------


async def test_an_envelope_lists_its_signers_in_signing_order(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    assert isinstance(esign, ESignature)
    envelope = await esign.create_envelope(envelope_request(receiver.inbox()))
    assert envelope.status is EnvelopeStatus.SENT
    assert envelope.reference == "deal-0042"
    assert envelope.envelope_id.startswith("EV-")
    assert [(s.role, s.order) for s in envelope.signers] == [
        (SignerRole.BORROWER, 1),
        (SignerRole.CORE_ENTERPRISE, 2),
        (SignerRole.FUNDER, 3),
    ]
    assert all(s.status is SignerStatus.PENDING for s in envelope.signers)
    assert all(not s.identity_verified and s.signed_at is None for s in envelope.signers)
    assert len({s.signer_id for s in envelope.signers}) == 3
    assert all(
        s.signing_url == f"{sandbox.url(ProviderKind.ESIGNATURE)}/sign/{s.signer_id}"
        for s in envelope.signers
    )
    assert envelope.next_signer == envelope.signers[0]
    assert envelope.document_sha256 == hashlib.sha256(CONTRACT.content).hexdigest()
    received = sandbox.log.find(envelope.request_id)
    assert received is not None
    assert (received.path, received.outcome) == ("/esign/v1/envelopes", "200")


async def test_everyone_signs_in_order_and_the_signed_document_is_called_back(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox()
    envelope = await esign.create_envelope(envelope_request(inbox))
    borrower, core, funder = envelope.signers

    got = events(sandbox, await receiver.delivered(inbox, 4))

    assert [(e.type, e.signer_id) for e in got] == [
        (EventType.SIGNER_SIGNED, borrower.signer_id),
        (EventType.SIGNER_SIGNED, core.signer_id),
        (EventType.SIGNER_SIGNED, funder.signer_id),
        (EventType.ENVELOPE_COMPLETED, None),
    ]
    assert {e.envelope_id for e in got} == {envelope.envelope_id}
    assert {e.reference for e in got} == {"deal-0042"}
    assert len({e.event_id for e in got}) == 4
    assert [e.occurred_at for e in got] == sorted(e.occurred_at for e in got)
    # The signed document is the original with a line per signer, as the sandbox documents it.
    eid = envelope.envelope_id
    expected = (
        CONTRACT.content
        + (
            f"\n%SANDBOX-SIGNATURE {eid} {borrower.signer_id} BORROWER 1"
            f"\n%SANDBOX-SIGNATURE {eid} {core.signer_id} CORE_ENTERPRISE 2"
            f"\n%SANDBOX-SIGNATURE {eid} {funder.signer_id} FUNDER 3\n"
        ).encode()
    )
    signed = got[-1].signed_document
    assert signed is not None
    assert signed.content == expected
    assert signed.sha256 == hashlib.sha256(expected).hexdigest()
    assert all(e.signed_document is None for e in got[:-1])

    # Reconciliation reads the same story back.
    now = await esign.envelope(envelope.envelope_id)
    assert now.status is EnvelopeStatus.COMPLETED
    assert now.signed_document_sha256 == signed.sha256
    assert [s.status for s in now.signers] == [SignerStatus.SIGNED] * 3
    assert all(s.identity_verified for s in now.signers)
    signed_at = [s.signed_at for s in now.signers]
    assert None not in signed_at
    assert signed_at == sorted(signed_at)  # type: ignore[type-var]
    assert now.next_signer is None


async def test_a_declining_signer_stops_the_envelope(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox()
    envelope = await esign.create_envelope(
        envelope_request(inbox, core="Shanghai Steel Trading Co decline")
    )
    borrower, core, _ = envelope.signers

    got = events(sandbox, await receiver.delivered(inbox, 3))

    assert [(e.type, e.signer_id) for e in got] == [
        (EventType.SIGNER_SIGNED, borrower.signer_id),
        (EventType.SIGNER_DECLINED, core.signer_id),
        (EventType.ENVELOPE_DECLINED, None),
    ]
    assert got[-1].signed_document is None
    now = await esign.envelope(envelope.envelope_id)
    assert now.status is EnvelopeStatus.DECLINED
    assert [s.status for s in now.signers] == [
        SignerStatus.SIGNED,
        SignerStatus.DECLINED,
        SignerStatus.PENDING,
    ]
    assert now.signed_document_sha256 is None


async def test_an_envelope_expires_waiting_for_a_signer(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox()
    envelope = await esign.create_envelope(
        envelope_request(inbox, funder="Pudong Supply Chain Finance EXPIRE")
    )
    borrower, core, _ = envelope.signers

    got = events(sandbox, await receiver.delivered(inbox, 3))

    assert [(e.type, e.signer_id) for e in got] == [
        (EventType.SIGNER_SIGNED, borrower.signer_id),
        (EventType.SIGNER_SIGNED, core.signer_id),
        (EventType.ENVELOPE_EXPIRED, None),
    ]
    now = await esign.envelope(envelope.envelope_id)
    assert now.status is EnvelopeStatus.EXPIRED
    assert [s.status for s in now.signers] == [
        SignerStatus.SIGNED,
        SignerStatus.SIGNED,
        SignerStatus.PENDING,
    ]


# -- delivery modes -----------------------------------------------------------------------------


async def test_duplicate_delivery_sends_every_event_twice(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox()
    await esign.create_envelope(envelope_request(inbox, "deal-0043-DUPLICATE"))

    deliveries = await receiver.delivered(inbox, 8)
    got = events(sandbox, deliveries)

    assert len(got) == 8
    # Each event twice in a row: the same event, byte for byte, signed afresh.
    for i in range(0, 8, 2):
        assert deliveries[i].body == deliveries[i + 1].body
        assert got[i] == got[i + 1]
    assert [e.type for e in got[::2]] == [
        EventType.SIGNER_SIGNED,
        EventType.SIGNER_SIGNED,
        EventType.SIGNER_SIGNED,
        EventType.ENVELOPE_COMPLETED,
    ]
    assert len({e.event_id for e in got}) == 4


async def test_reordered_delivery_sends_the_last_event_first(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox()
    envelope = await esign.create_envelope(envelope_request(inbox, "deal-0044-REORDERED"))
    borrower, core, funder = envelope.signers

    got = events(sandbox, await receiver.delivered(inbox, 4))

    assert [(e.type, e.signer_id) for e in got] == [
        (EventType.ENVELOPE_COMPLETED, None),
        (EventType.SIGNER_SIGNED, funder.signer_id),
        (EventType.SIGNER_SIGNED, core.signer_id),
        (EventType.SIGNER_SIGNED, borrower.signer_id),
    ]
    # What happened when is still told by the events themselves.
    assert [e.occurred_at for e in got] == sorted((e.occurred_at for e in got), reverse=True)


async def test_a_refused_callback_is_retried_with_backoff(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox(refuse_first=2)
    envelope = await esign.create_envelope(envelope_request(inbox))

    deliveries = await receiver.delivered(inbox, 4)

    assert [d.answered for d in deliveries] == [503, 503, 204, 204, 204, 204]
    # The first event, three times: refused twice, taken the third time.
    assert {d.event_id for d in deliveries[:3]} == {deliveries[0].event_id}
    attempts = [dict(d.headers)["x-delivery-attempt"] for d in deliveries]
    assert attempts == ["1", "2", "3", "1", "1", "1"]
    # Waited 0.05 s, then 0.1 s: together at least 0.15 s.
    assert deliveries[2].received_at - deliveries[0].received_at >= timedelta(seconds=0.15)
    got = events(sandbox, deliveries)
    assert got[0].signer_id == envelope.signers[0].signer_id
    assert got[-1].type is EventType.ENVELOPE_COMPLETED


async def test_a_repeated_creation_gets_the_first_envelope_back(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    request = envelope_request(receiver.inbox(), idempotency_key="contract-0042-v1")
    first = await esign.create_envelope(request)
    again = await esign.create_envelope(request)
    assert again.envelope_id == first.envelope_id
    assert [s.signer_id for s in again.signers] == [s.signer_id for s in first.signers]
    received = sandbox.log.find(again.request_id)
    assert received is not None
    assert received.outcome == "replayed"


# -- verify_callback ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def a_callback(
    sandbox: SandboxServer, receiver: CallbackReceiver
) -> tuple[list[tuple[str, str]], bytes, datetime]:
    """A real completion callback from the sandbox: its headers, body and arrival time."""
    client = esignature_from_settings(sandbox_settings(sandbox))
    inbox = receiver.inbox()
    try:
        await client.create_envelope(envelope_request(inbox, "deal-0045"))
    finally:
        await client.aclose()
    last = (await receiver.delivered(inbox, 4))[-1]
    return last.headers, last.body, last.received_at


async def test_an_authentic_callback_is_accepted_within_the_tolerance(
    a_callback: tuple[list[tuple[str, str]], bytes, datetime], sandbox: SandboxServer
) -> None:
    headers, body, at = a_callback
    secret = secret_of(sandbox)
    for now in (at, at + timedelta(minutes=4), at - timedelta(minutes=4)):
        event = verify_callback(headers, body, secret, now=now)
        assert event.type is EventType.ENVELOPE_COMPLETED
        assert event.reference == "deal-0045"
    # Bytes work as the secret too, and a mapping as the headers.
    event = verify_callback(dict(headers), body, secret.encode(), now=at)
    assert event.signed_document is not None


def _flip(body: bytes) -> bytes:
    # One character of the reference changed: still JSON, same length.
    return body.replace(b'"deal-0045"', b'"deal-0046"')


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda h, b, s: (h, _flip(b), s), BadSignature),
        (lambda h, b, s: (h, b[:-7], s), BadSignature),
        (lambda h, b, s: (h, b, "w" * 64), BadSignature),
        (
            lambda h, b, s: ([(n, v) for n, v in h if n.lower() != "signature"], b, s),
            BadSignature,
        ),
        (
            lambda h, b, s: ([(n, v) for n, v in h if n.lower() != "content-digest"], b, s),
            BadSignature,
        ),
    ],
    ids=["tampered-body", "truncated-body", "wrong-secret", "no-signature", "no-digest"],
)
async def test_a_callback_that_is_not_authentic_is_refused(
    a_callback: tuple[list[tuple[str, str]], bytes, datetime],
    sandbox: SandboxServer,
    change: object,
    error: type[Exception],
) -> None:
    headers, body, at = a_callback
    assert _flip(body) != body
    changed_headers, changed_body, secret = change(headers, body, secret_of(sandbox))  # type: ignore[operator]
    with pytest.raises(error):
        verify_callback(changed_headers, changed_body, secret, now=at)


@pytest.mark.parametrize(
    ("shift", "word"),
    [(timedelta(minutes=6), "ago"), (timedelta(minutes=-6), "future")],
    ids=["stale", "future"],
)
async def test_a_callback_outside_the_tolerance_is_refused(
    a_callback: tuple[list[tuple[str, str]], bytes, datetime],
    sandbox: SandboxServer,
    shift: timedelta,
    word: str,
) -> None:
    headers, body, at = a_callback
    with pytest.raises(StaleTimestamp) as caught:
        verify_callback(
            headers, body, secret_of(sandbox), now=at + shift, tolerance=timedelta(minutes=5)
        )
    assert word in str(caught.value)
    # The timestamp is whole seconds: the age is the shift give or take one.
    assert abs(caught.value.age - shift) <= timedelta(seconds=1)


def _signed(body: bytes, secret: str, created: datetime) -> list[tuple[str, str]]:
    return sign_callback(body, secret, key_id="sandbox-esignature-test", created=created)


def test_a_signed_timestamp_cannot_be_moved() -> None:
    secret = "s" * 64
    created = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    body = json.dumps(
        {
            "event_id": "EVT-1",
            "type": "envelope.expired",
            "envelope_id": "EV-1",
            "reference": "deal-1",
            "occurred_at": "2026-12-04T11:59:59+00:00",
        }
    ).encode()
    headers = _signed(body, secret, created)
    assert verify_callback(headers, body, secret, now=created).event_id == "EVT-1"
    # Rewriting created=... in Signature-Input breaks the signature over it.
    stamp = str(int(created.timestamp()))
    moved = [
        (n, v.replace(stamp, str(int(created.timestamp()) + 3600)))
        if n.lower() == "signature-input"
        else (n, v)
        for n, v in headers
    ]
    with pytest.raises(BadSignature):
        verify_callback(moved, body, secret, now=created + timedelta(hours=1))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not an object"),
        (
            json.dumps(
                {
                    "event_id": "EVT-2",
                    "type": "signer.signed",
                    "envelope_id": "EV-1",
                    "reference": "deal-1",
                    "occurred_at": "2026-12-04T11:59:59+00:00",
                }
            ).encode(),
            "signer_id is missing",
        ),
        (
            json.dumps(
                {
                    "event_id": "EVT-3",
                    "type": "envelope.completed",
                    "envelope_id": "EV-1",
                    "reference": "deal-1",
                    "occurred_at": "2026-12-04T11:59:59+00:00",
                    "signed_document": {
                        "sha256": hashlib.sha256(b"the signed one").hexdigest(),
                        "content_base64": base64.b64encode(b"another one").decode(),
                    },
                }
            ).encode(),
            "does not match its content",
        ),
        (
            json.dumps(
                {
                    "event_id": "EVT-4",
                    "type": "envelope.voided",
                    "envelope_id": "EV-1",
                    "reference": "deal-1",
                    "occurred_at": "2026-12-04T11:59:59+00:00",
                }
            ).encode(),
            "unknown value",
        ),
    ],
    ids=["not-json", "not-an-object", "signer-event-without-signer", "hash-mismatch", "type"],
)
def test_an_authentic_callback_that_is_not_an_event_is_malformed(body: bytes, message: str) -> None:
    secret = "s" * 64
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    with pytest.raises(MalformedCallback) as caught:
        verify_callback(_signed(body, secret, now), body, secret, now=now)
    assert message in str(caught.value)


# -- client errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["TIMEOUT", "TRICKLE"])
async def test_a_slow_answer_times_out(
    impatient: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer, outcome: str
) -> None:
    with pytest.raises(ESignatureTimeout) as caught:
        await impatient.create_envelope(envelope_request(receiver.inbox(), f"deal-0050-{outcome}"))
    assert caught.value.retryable
    received = sandbox.log.find(str(caught.value.request_id))
    assert received is not None
    assert received.outcome == outcome.lower()


async def test_a_server_error(esign: HttpESignature, receiver: CallbackReceiver) -> None:
    with pytest.raises(ESignatureUnavailable) as caught:
        await esign.create_envelope(envelope_request(receiver.inbox(), "deal-0051-UNAVAILABLE"))
    assert (caught.value.status, caught.value.retryable) == (503, True)


async def test_a_malformed_answer(esign: HttpESignature, receiver: CallbackReceiver) -> None:
    with pytest.raises(MalformedESignatureAnswer) as caught:
        await esign.create_envelope(envelope_request(receiver.inbox(), "deal-0052-MALFORMED"))
    assert not isinstance(caught.value, ESignatureAnswerNotAuthentic)
    assert "signing_url is missing" in str(caught.value)
    assert caught.value.retryable


async def test_an_answer_changed_on_the_way_is_not_authentic(
    sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    # The same length, so only the signature can tell.
    tamper = Interceptor(response=lambda body: body.replace(b'"SENT"', b'"SEN7"'))
    client = esignature_from_settings(sandbox_settings(sandbox), transport=tamper)
    try:
        with pytest.raises(ESignatureAnswerNotAuthentic) as caught:
            await client.create_envelope(envelope_request(receiver.inbox()))
    finally:
        await client.aclose()
    assert caught.value.retryable
    assert b"SEN7" in tamper.answers[0].content


async def test_an_unknown_envelope(esign: HttpESignature) -> None:
    with pytest.raises(EnvelopeNotFound) as caught:
        await esign.envelope("EV-NOSUCHENVELOPE")
    assert (caught.value.status, caught.value.code) == (404, "ENVELOPE_NOT_FOUND")
    assert not caught.value.retryable


async def test_another_account_does_not_see_the_envelope(
    esign: HttpESignature, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    envelope = await esign.create_envelope(envelope_request(receiver.inbox()))
    # The bureau's credentials are known to the sandboxes, but not as an e-signature account.
    other = HttpESignature(
        sandbox.url(ProviderKind.ESIGNATURE),
        sandbox.credentials[ProviderKind.CREDIT_BUREAU],
        timeout=5.0,
    )
    try:
        with pytest.raises(EnvelopeRejected) as caught:
            await other.envelope(envelope.envelope_id)
    finally:
        await other.aclose()
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("signer", "code"),
    [
        (
            SignerRequest(SignerRole.BORROWER, "Zhang Min", "110105194912310021", 1),
            "INVALID_ID_NUMBER",
        ),
        (
            SignerRequest(SignerRole.CORE_ENTERPRISE, "Shanghai Steel", "91310000MA1FL8LQ2B", 1),
            "INVALID_ID_NUMBER",
        ),
    ],
    ids=["resident-id-check-digit", "social-credit-code-check-character"],
)
async def test_a_signer_with_an_invalid_id_number_is_refused(
    esign: HttpESignature, receiver: CallbackReceiver, signer: SignerRequest, code: str
) -> None:
    request = EnvelopeRequest(CONTRACT, (signer,), receiver.inbox(), "deal-0053")
    with pytest.raises(EnvelopeRejected) as caught:
        await esign.create_envelope(request)
    assert (caught.value.status, caught.value.code) == (422, code)
    assert not caught.value.retryable
    assert not isinstance(caught.value, EnvelopeNotFound)


def _raw_envelope(inbox: str, changes: dict[str, object]) -> dict[str, object]:
    payload: dict[str, object] = {
        "document": {
            "sha256": hashlib.sha256(CONTRACT.content).hexdigest(),
            "filename": CONTRACT.filename,
            "content_base64": base64.b64encode(CONTRACT.content).decode(),
        },
        "signers": [
            {"role": "BORROWER", "name": "Zhang Min", "id_number": BORROWER_ID, "order": 1},
            {"role": "FUNDER", "name": "Pudong", "id_number": FUNDER_CODE, "order": 2},
        ],
        "callback_url": inbox,
        "reference": "deal-0054",
    }
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        (
            {"document": {"sha256": "0" * 64, "filename": "x.pdf", "content_base64": "eA=="}},
            422,
            "DOCUMENT_HASH_MISMATCH",
        ),
        (
            {
                "signers": [
                    {"role": "BORROWER", "name": "A", "id_number": BORROWER_ID, "order": 1},
                    {"role": "FUNDER", "name": "B", "id_number": FUNDER_CODE, "order": 1},
                ]
            },
            400,
            "INVALID_REQUEST",
        ),
        ({"signers": []}, 400, "INVALID_REQUEST"),
        ({"callback_url": "ftp://nowhere"}, 400, "INVALID_REQUEST"),
    ],
    ids=["document-hash", "same-order-twice", "no-signers", "callback-not-http"],
)
async def test_the_service_checks_what_the_client_does_not_send(
    sandbox: SandboxServer,
    receiver: CallbackReceiver,
    changes: dict[str, object],
    status: int,
    code: str,
) -> None:
    # Below the port, which never sends these: the service refuses them itself.
    raw = SignedJsonClient(
        kind=ProviderKind.ESIGNATURE,
        base_url=sandbox.url(ProviderKind.ESIGNATURE),
        credentials=sandbox.credentials[ProviderKind.ESIGNATURE],
        timeout=5.0,
    )
    try:
        with pytest.raises(RequestRejected) as caught:
            await raw.call(
                "POST", "/v1/envelopes", payload=_raw_envelope(receiver.inbox(), changes)
            )
    finally:
        await raw.aclose()
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_no_service_listening(sandbox: SandboxServer, receiver: CallbackReceiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = esignature_from_settings(
        sandbox_settings(sandbox, esign_url=f"http://127.0.0.1:{port}")
    )
    try:
        with pytest.raises(ESignatureUnavailable) as caught:
            await client.create_envelope(envelope_request(receiver.inbox()))
    finally:
        await client.aclose()
    assert caught.value.status is None
    assert isinstance(caught.value, ESignatureError) and caught.value.retryable


# -- the request and the settings ---------------------------------------------------------------


def test_signing_orders_must_be_distinct() -> None:
    twice = (
        SignerRequest(SignerRole.BORROWER, "Zhang Min", BORROWER_ID, 1),
        SignerRequest(SignerRole.FUNDER, "Pudong", FUNDER_CODE, 1),
    )
    with pytest.raises(ValueError, match="distinct"):
        EnvelopeRequest(CONTRACT, twice, "http://127.0.0.1:1/cb", "deal-1")
    with pytest.raises(ValueError, match="at least one signer"):
        EnvelopeRequest(CONTRACT, (), "http://127.0.0.1:1/cb", "deal-1")


def test_an_envelope_knows_whose_turn_it_is() -> None:
    def signer(n: int, status: SignerStatus) -> Signer:
        return Signer(f"SG-{n}", SignerRole.BORROWER, n, f"http://s/{n}", status)

    def envelope(status: EnvelopeStatus, *statuses: SignerStatus) -> Envelope:
        signers = tuple(signer(n, s) for n, s in enumerate(statuses, 1))
        return Envelope("EV-1", "r", "deal-1", status, signers, "0" * 64)

    halfway = envelope(EnvelopeStatus.SENT, SignerStatus.SIGNED, SignerStatus.PENDING)
    assert halfway.next_signer is not None and halfway.next_signer.signer_id == "SG-2"
    declined = envelope(EnvelopeStatus.DECLINED, SignerStatus.DECLINED, SignerStatus.PENDING)
    assert declined.next_signer is None
    assert EnvelopeStatus.EXPIRED.final and not EnvelopeStatus.SENT.final
    # The document's bytes stay out of logs.
    assert "content" not in repr(CONTRACT)


def test_missing_esign_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for part in ("URL", "KEY_ID", "SECRET"):
        monkeypatch.delenv(f"LENDGRAPH_ESIGN_{part}", raising=False)
    settings = Settings(environment="test", esign_url="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError) as caught:
        esignature_from_settings(settings)
    assert str(caught.value) == (
        "LENDGRAPH_ESIGN_KEY_ID and LENDGRAPH_ESIGN_SECRET are required for e-signature"
    )


def test_production_calls_the_esign_service_over_https_only(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigurationError) as caught:
        esignature_from_settings(sandbox_settings(sandbox, environment="production"))
    assert str(caught.value) == "LENDGRAPH_ESIGN_URL must be an https:// URL in production"


def test_the_sandbox_environment_names_every_esign_setting(sandbox: SandboxServer) -> None:
    env = sandbox.environment()
    assert env["LENDGRAPH_ESIGN_URL"] == sandbox.base_url + "/esign"
    assert env["LENDGRAPH_ESIGN_KEY_ID"] == sandbox.credentials[ProviderKind.ESIGNATURE].key_id
    assert env["LENDGRAPH_ESIGN_CALLBACK_SECRET"] == sandbox.callback_secret.decode()
    assert isinstance(sandbox.credentials[ProviderKind.ESIGNATURE], Credentials)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "LENDGRAPH_ESIGN_SECRET",
            "short",
            "LENDGRAPH_ESIGN_SECRET is invalid: must have at least 32 characters",
        ),
        (
            "LENDGRAPH_ESIGN_CALLBACK_SECRET",
            "s" * 31,
            "LENDGRAPH_ESIGN_CALLBACK_SECRET is invalid: must have at least 32 characters",
        ),
        (
            "LENDGRAPH_ESIGN_URL",
            "ftp://esign",
            "LENDGRAPH_ESIGN_URL is invalid: expected an http:// or https:// URL",
        ),
    ],
)
def test_invalid_esign_settings(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == message


# -- reading the signed document back, voiding -------------------------------------------------


async def test_the_signed_document_is_read_back_once_completed(
    esign: HttpESignature, receiver: CallbackReceiver, sandbox: SandboxServer
) -> None:
    inbox = receiver.inbox()
    envelope = await esign.create_envelope(envelope_request(inbox))
    got = events(sandbox, await receiver.delivered(inbox, 4))
    completion = got[-1]
    assert completion.signed_document is not None
    document = await esign.signed_document(envelope.envelope_id)
    # The same bytes the completion callback carried, under the hash the envelope names.
    assert document == completion.signed_document
    assert (await esign.envelope(envelope.envelope_id)).signed_document_sha256 == document.sha256
    assert hashlib.sha256(document.content).hexdigest() == document.sha256
    # A completed envelope is not voided.
    with pytest.raises(EnvelopeRejected) as caught:
        await esign.void_envelope(envelope.envelope_id, "too late")
    assert (caught.value.status, caught.value.code) == (409, "ENVELOPE_FINAL")


async def test_an_envelope_out_for_signing_is_voided_and_nobody_more_signs(
    receiver: CallbackReceiver,
) -> None:
    # Signers take their time (0.5-1.5 s each): the envelope is voided while still out.
    with SandboxServer(latency=1.0, callback_backoff=BACKOFF, callback_attempts=2) as slow:
        client = esignature_from_settings(sandbox_settings(slow))
        try:
            inbox = receiver.inbox()
            envelope = await client.create_envelope(envelope_request(inbox))
            # The void's answer takes at most 1.5 s; three signatures take at least 1.5 s.
            voided = await client.void_envelope(envelope.envelope_id, "signing deadline passed")
            assert voided.status is EnvelopeStatus.VOIDED
            assert SignerStatus.PENDING in [s.status for s in voided.signers]
            # Voiding again answers it again; a voided envelope has no signed document.
            again = await client.void_envelope(envelope.envelope_id, "signing deadline passed")
            assert again.status is EnvelopeStatus.VOIDED
            with pytest.raises(EnvelopeRejected) as caught:
                await client.signed_document(envelope.envelope_id)
            assert (caught.value.status, caught.value.code) == (409, "NOT_COMPLETED")
            now = await client.envelope(envelope.envelope_id)
        finally:
            await client.aclose()
    assert (now.status, now.signed_document_sha256) == (EnvelopeStatus.VOIDED, None)


async def test_an_unknown_envelope_is_neither_read_back_nor_voided(esign: HttpESignature) -> None:
    with pytest.raises(EnvelopeNotFound):
        await esign.signed_document("EV-NOPE")
    with pytest.raises(EnvelopeNotFound):
        await esign.void_envelope("EV-NOPE", "no reason")
