"""The payment rail: the payout client against the sandbox rail over loopback HTTP, and the
sandbox's signed settlement callbacks received by a small HTTP receiver on loopback (its own
uvicorn server, as the API would be). Ordering is shown by waiting on what the receiver and
the sandbox record, never by sleeping.

Amounts and expected values are written out by hand from the protocol in
integrations/README.md."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.kernel.money import Money
from domain.payments.ports import (
    Beneficiary,
    BeneficiaryRejected,
    IdempotencyKeyReused,
    MalformedAnswer,
    PaymentEventType,
    PayoutEvent,
    PayoutNotFound,
    PayoutRail,
    PayoutRequest,
    PayoutStatus,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RequestRejected,
)
from integrations.answers import Malformed as AnswerMalformed
from integrations.http import SignedJsonClient
from integrations.payments import sandbox as payments_sandbox
from integrations.payments.callbacks import (
    BadSignature,
    Malformed,
    StaleTimestamp,
    sign_callback,
    verify_callback,
)
from integrations.payments.client import HttpPayoutRail, payout_rail, read_acceptance, read_state
from integrations.provider import SandboxLog, SandboxProvider
from integrations.sandboxes import SandboxServer
from integrations.signing import Credentials, HeaderLines, RequestView, sign_request
from lendgraph.settings import ConfigurationError, Settings, load_settings
from tests.integrations.conftest import HANG_SECONDS, SHORT_TIMEOUT, sandbox_settings

KIND = ProviderKind.PAYMENT_RAIL
#: Long enough for what the sandbox does after a call (settle, call back, retry twice).
WAIT = 15.0
ACCOUNT = "6222020200112233445"
# Industrial and Commercial Bank of China, Beijing (a CNAPS code).
BANK = "102100099996"


# -- a callback receiver on loopback --------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """One callback request as the receiver got it."""

    hook: str
    headers: list[tuple[str, str]]
    body: bytes
    #: ``time.monotonic()`` when the receiver had it.
    at: float


class CallbackReceiver:
    """An HTTP endpoint per hook name (``/hooks/<name>``) that records every request and
    answers 200, or the statuses scripted for that hook first. Served by uvicorn on a free
    loopback port in a thread of its own."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._received: list[Delivered] = []
        self._scripted: dict[str, list[int]] = {}
        app = Starlette(routes=[Route("/hooks/{hook}", self._hook, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        )
        self._thread: threading.Thread | None = None
        self.port = 0

    async def _hook(self, request: Request) -> Response:
        hook = str(request.path_params["hook"])
        body = await request.body()
        with self._changed:
            script = self._scripted.get(hook) or []
            status = script.pop(0) if script else 200
            self._received.append(
                Delivered(hook, list(request.headers.items()), body, time.monotonic())
            )
            self._changed.notify_all()
        return Response(status_code=status)

    def url(self, hook: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{hook}"

    def answer_first(self, hook: str, *statuses: int) -> None:
        """Answer the first requests to ``hook`` with ``statuses``, then 200."""
        with self._changed:
            self._scripted[hook] = list(statuses)

    def received(self, hook: str) -> list[Delivered]:
        with self._changed:
            return [d for d in self._received if d.hook == hook]

    async def wait_for(self, hook: str, count: int, within: float = WAIT) -> list[Delivered]:
        """The first ``count`` requests to ``hook``, once they have come (fails after
        ``within`` seconds)."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(
                    lambda: len([d for d in self._received if d.hook == hook]) >= count, within
                )

        assert await asyncio.to_thread(wait), f"{count} callback(s) to {hook} within {within} s"
        return self.received(hook)[:count]

    def start(self) -> CallbackReceiver:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver().start()
    yield server
    server.stop()


def _rail(sandbox: SandboxServer, **overrides: object) -> HttpPayoutRail:
    """The client configured from the settings the sandbox's environment gives, as a
    deployment reads them."""
    return payout_rail(sandbox_settings(sandbox, **overrides))


@pytest.fixture
async def rail(sandbox: SandboxServer) -> AsyncIterator[HttpPayoutRail]:
    client = _rail(sandbox)
    yield client
    await client.aclose()


@pytest.fixture
async def impatient(sandbox: SandboxServer) -> AsyncIterator[HttpPayoutRail]:
    client = _rail(sandbox, provider_timeout_seconds=SHORT_TIMEOUT)
    yield client
    await client.aclose()


@pytest.fixture
def callback_secret(sandbox: SandboxServer) -> str:
    settings = sandbox_settings(sandbox)
    assert settings.payments_callback_secret is not None
    return settings.payments_callback_secret.get_secret_value()


def cny(amount: str) -> Money:
    return Money.parse(amount, "CNY")


def payout(
    receiver: CallbackReceiver,
    name: str = "Chen Jing",
    *,
    amount: str = "1234.56",
    hook: str | None = None,
    key: str | None = None,
) -> PayoutRequest:
    """A payout to ``name`` with a fresh reference, key and hook (unless given)."""
    tag = uuid.uuid4().hex[:12]
    return PayoutRequest(
        amount=cny(amount),
        beneficiary=Beneficiary(name=name, account_number=ACCOUNT, bank_code=BANK),
        reference=f"loan:{tag}:disbursement",
        callback_url=receiver.url(hook or tag),
        idempotency_key=key or f"disburse-{tag}",
    )


def hook_of(request: PayoutRequest) -> str:
    return request.callback_url.rsplit("/", 1)[1]


async def done(sandbox: SandboxServer, payout_id: str) -> None:
    """Wait until the sandbox has settled the payout and finished every delivery."""
    assert await asyncio.to_thread(sandbox.payouts.wait_done, payout_id, WAIT)


def verified(delivered: Delivered, secret: str) -> PayoutEvent:
    return verify_callback(delivered.headers, delivered.body, secret, now=datetime.now(UTC))


# -- payouts over HTTP ---------------------------------------------------------------------------


async def test_a_payout_settles_and_its_signed_callback_arrives(
    rail: HttpPayoutRail,
    sandbox: SandboxServer,
    receiver: CallbackReceiver,
    callback_secret: str,
) -> None:
    assert isinstance(rail, PayoutRail)
    request = payout(receiver)
    accepted = await rail.disburse(request)

    assert accepted.status is PayoutStatus.PENDING
    assert accepted.payout_id.startswith("PO-")
    assert accepted.reference == request.reference
    (delivered,) = await receiver.wait_for(hook_of(request), 1)
    event = verified(delivered, callback_secret)
    assert event.type is PaymentEventType.PAYOUT_SETTLED
    assert event.payout_status is PayoutStatus.SETTLED
    assert event.payout_id == accepted.payout_id
    assert event.reference == request.reference
    assert event.amount == Money(123456, "CNY")
    assert event.failure_reason is None
    assert event.event_id.startswith("EV-")

    state = await rail.payout(accepted.payout_id)
    assert state.status is PayoutStatus.SETTLED
    assert state.settled_at == event.occurred_at
    assert state.amount == Money(123456, "CNY")
    assert (state.reference, state.failure_reason) == (request.reference, None)

    # The sandbox's own record: one payout, under the configured key, called back once.
    await done(sandbox, accepted.payout_id)
    (record,) = sandbox.payouts.payouts(request.reference)
    assert record.key_id == sandbox.credentials[KIND].key_id
    assert record.beneficiary_name == "Chen Jing"
    assert [(a.delivery, a.attempt, a.status) for a in record.attempts] == [(1, 1, 200)]
    received = sandbox.log.find(accepted.request_id)
    assert received is not None and received.outcome == "202"


async def test_the_same_key_and_body_get_the_same_payout(
    rail: HttpPayoutRail, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    request = payout(receiver)
    first = await rail.disburse(request)
    await receiver.wait_for(hook_of(request), 1)
    again = await rail.disburse(request)

    # The first answer again (PENDING, as answered then), to a new request.
    assert (again.payout_id, again.status) == (first.payout_id, PayoutStatus.PENDING)
    assert again.request_id != first.request_id
    await done(sandbox, first.payout_id)
    (record,) = sandbox.payouts.payouts(request.reference)
    assert len(record.attempts) == 1
    assert len(receiver.received(hook_of(request))) == 1


async def test_concurrent_requests_with_one_key_make_one_payout(
    sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    request = payout(receiver, "Zhou Lei")
    # A generous bound: 200 signed requests share two cores with the sandbox.
    client = _rail(sandbox, provider_timeout_seconds=60.0)
    try:
        answers = await asyncio.gather(*(client.disburse(request) for _ in range(200)))
    finally:
        await client.aclose()

    assert len(answers) == 200
    assert len({a.request_id for a in answers}) == 200
    (payout_id,) = {a.payout_id for a in answers}
    await done(sandbox, payout_id)
    (record,) = sandbox.payouts.payouts(request.reference)
    assert record.payout_id == payout_id
    assert [(a.delivery, a.attempt, a.status) for a in record.attempts] == [(1, 1, 200)]
    (delivered,) = receiver.received(hook_of(request))
    assert json.loads(delivered.body)["payout_id"] == payout_id


async def test_the_same_key_with_another_amount_is_refused(
    rail: HttpPayoutRail, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    request = payout(receiver)
    first = await rail.disburse(request)
    with pytest.raises(IdempotencyKeyReused) as caught:
        await rail.disburse(replace(request, amount=cny("1234.57")))

    assert isinstance(caught.value, RequestRejected)
    assert (caught.value.status, caught.value.code) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert caught.value.kind is KIND
    assert not caught.value.retryable
    (record,) = sandbox.payouts.payouts(request.reference)
    assert (record.payout_id, record.amount) == (first.payout_id, Money(123456, "CNY"))


async def test_a_failed_payout(
    rail: HttpPayoutRail, receiver: CallbackReceiver, callback_secret: str
) -> None:
    request = payout(receiver, "Wang Fang fail")
    accepted = await rail.disburse(request)

    (delivered,) = await receiver.wait_for(hook_of(request), 1)
    event = verified(delivered, callback_secret)
    assert event.type is PaymentEventType.PAYOUT_FAILED
    assert event.payout_status is PayoutStatus.FAILED
    assert (event.payout_id, event.failure_reason) == (accepted.payout_id, "ACCOUNT_CLOSED")
    state = await rail.payout(accepted.payout_id)
    assert (state.status, state.failure_reason, state.settled_at) == (
        PayoutStatus.FAILED,
        "ACCOUNT_CLOSED",
        None,
    )


async def test_a_duplicated_callback_is_the_same_event(
    rail: HttpPayoutRail,
    sandbox: SandboxServer,
    receiver: CallbackReceiver,
    callback_secret: str,
) -> None:
    request = payout(receiver, "Liu Yang DUPLICATE")
    accepted = await rail.disburse(request)

    first, second = await receiver.wait_for(hook_of(request), 2)
    assert first.body == second.body
    one, other = verified(first, callback_secret), verified(second, callback_secret)
    assert one == other
    assert one.payout_id == accepted.payout_id
    await done(sandbox, accepted.payout_id)
    (record,) = sandbox.payouts.payouts(request.reference)
    assert [(a.event_id, a.delivery, a.status) for a in record.attempts] == [
        (one.event_id, 1, 200),
        (one.event_id, 2, 200),
    ]
    assert len(receiver.received(hook_of(request))) == 2


async def test_an_early_settlement_arrives_before_the_answer(
    rail: HttpPayoutRail, receiver: CallbackReceiver, callback_secret: str
) -> None:
    request = payout(receiver, "Huang Min early")
    accepted = await rail.disburse(request)
    returned_at = time.monotonic()

    # Already there when the call returns: no waiting.
    (delivered,) = receiver.received(hook_of(request))
    assert delivered.at < returned_at
    event = verified(delivered, callback_secret)
    assert (event.payout_id, event.type) == (accepted.payout_id, PaymentEventType.PAYOUT_SETTLED)
    # The answer says what it said on acceptance; the settlement overtook it.
    assert accepted.status is PayoutStatus.PENDING


async def test_an_unanswered_callback_is_retried(
    rail: HttpPayoutRail,
    sandbox: SandboxServer,
    receiver: CallbackReceiver,
    callback_secret: str,
) -> None:
    request = payout(receiver)
    receiver.answer_first(hook_of(request), 500, 503)
    accepted = await rail.disburse(request)

    attempts = await receiver.wait_for(hook_of(request), 3)
    events = [verified(d, callback_secret) for d in attempts]
    assert len({e.event_id for e in events}) == 1
    assert len({d.body for d in attempts}) == 1
    # Each attempt after the backoff: at least 0.2 s, then at least 0.4 s.
    assert attempts[1].at - attempts[0].at >= 0.2
    assert attempts[2].at - attempts[1].at >= 0.4
    await done(sandbox, accepted.payout_id)
    (record,) = sandbox.payouts.payouts(request.reference)
    assert [(a.attempt, a.status) for a in record.attempts] == [(1, 500), (2, 503), (3, 200)]


async def test_a_timed_out_payout_is_retried_with_its_key_without_paying_twice(
    impatient: HttpPayoutRail,
    rail: HttpPayoutRail,
    sandbox: SandboxServer,
    receiver: CallbackReceiver,
) -> None:
    request = payout(receiver, "Zhao Lei timeout")
    with pytest.raises(ProviderTimeout) as caught:
        await impatient.disburse(request)
    assert caught.value.kind is KIND and caught.value.retryable
    assert HANG_SECONDS > SHORT_TIMEOUT

    # The rail took it on all the same; the retry gets that payout back, promptly.
    (record,) = sandbox.payouts.payouts(request.reference)
    again = await rail.disburse(request)
    assert again.payout_id == record.payout_id
    await done(sandbox, record.payout_id)
    assert len(sandbox.payouts.payouts(request.reference)) == 1
    assert len(await receiver.wait_for(hook_of(request), 1)) == 1


async def test_an_unavailable_rail_accepts_nothing(
    rail: HttpPayoutRail, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    request = payout(receiver, "Sun Li unavailable")
    with pytest.raises(ProviderUnavailable) as caught:
        await rail.disburse(request)
    assert (caught.value.kind, caught.value.status) == (KIND, 503)
    assert sandbox.payouts.payouts(request.reference) == []


async def test_a_malformed_answer(rail: HttpPayoutRail, receiver: CallbackReceiver) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        await rail.disburse(payout(receiver, "Ma Jun MALFORMED"))
    assert caught.value.kind is KIND
    assert "payout_id" in str(caught.value)


async def test_an_unknown_payout(rail: HttpPayoutRail) -> None:
    with pytest.raises(PayoutNotFound) as caught:
        await rail.payout("PO-NOSUCHPAYOUT")
    assert (caught.value.status, caught.value.code, caught.value.kind) == (
        404,
        "PAYOUT_NOT_FOUND",
        KIND,
    )


async def test_refusals_map_to_typed_errors(
    rail: HttpPayoutRail, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    request = payout(receiver)
    bad_account = replace(
        request, beneficiary=Beneficiary("Chen Jing", account_number="6222-02", bank_code=BANK)
    )
    with pytest.raises(BeneficiaryRejected) as caught:
        await rail.disburse(bad_account)
    assert (caught.value.status, caught.value.code) == (422, "INVALID_BENEFICIARY")

    with pytest.raises(RequestRejected) as refused:
        await rail.disburse(replace(request, amount=Money(100, "USD")))
    assert type(refused.value) is RequestRejected
    assert (refused.value.status, refused.value.code) == (422, "UNSUPPORTED_CURRENCY")
    assert sandbox.payouts.payouts(request.reference) == []


async def test_a_payout_without_an_idempotency_key_is_refused(
    sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        replace(payout(receiver), idempotency_key=" ")
    # A client that sends none anyway is refused by the rail.
    client = SignedJsonClient(
        kind=KIND, base_url=sandbox.url(KIND), credentials=sandbox.credentials[KIND], timeout=5
    )
    try:
        with pytest.raises(RequestRejected) as caught:
            await client.call(
                "POST",
                "/v1/payouts",
                payload={
                    "amount": {"amount": "10.00", "currency": "CNY"},
                    "beneficiary": {"name": "A B", "account_number": ACCOUNT, "bank_code": BANK},
                    "reference": "r-no-key",
                    "callback_url": receiver.url("no-key"),
                },
            )
    finally:
        await client.aclose()
    assert (caught.value.status, caught.value.code) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    assert sandbox.payouts.payouts("r-no-key") == []


async def test_a_callback_cannot_be_read_with_another_secret(
    rail: HttpPayoutRail, receiver: CallbackReceiver, callback_secret: str
) -> None:
    request = payout(receiver)
    await rail.disburse(request)
    (delivered,) = await receiver.wait_for(hook_of(request), 1)
    with pytest.raises(BadSignature):
        verify_callback(delivered.headers, delivered.body, "x" * 64, now=datetime.now(UTC))
    # Nor a body changed on the way.
    changed = delivered.body.replace(b'"1234.56"', b'"9234.56"')
    assert changed != delivered.body
    with pytest.raises(BadSignature):
        verify_callback(delivered.headers, changed, callback_secret, now=datetime.now(UTC))


def test_missing_payment_settings_are_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        payout_rail(Settings(environment="test", payments_url="http://127.0.0.1:1"))
    assert str(caught.value) == (
        "LENDGRAPH_PAYMENTS_KEY_ID and LENDGRAPH_PAYMENTS_SECRET are required for the payment rail"
    )


def test_production_pays_over_https_only(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigurationError) as caught:
        payout_rail(sandbox_settings(sandbox, environment="production"))
    assert str(caught.value) == "LENDGRAPH_PAYMENTS_URL must be an https:// URL in production"


def test_payment_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDGRAPH_PAYMENTS_CALLBACK_SECRET", "short")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "LENDGRAPH_PAYMENTS_CALLBACK_SECRET is invalid: must have at least 32 characters"
    )
    monkeypatch.delenv("LENDGRAPH_PAYMENTS_CALLBACK_SECRET")
    monkeypatch.setenv("LENDGRAPH_PAYMENTS_URL", "ftp://rail")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "LENDGRAPH_PAYMENTS_URL is invalid: expected an http:// or https:// URL"
    )


# -- verify_callback ------------------------------------------------------------------------------

SECRET = "c" * 64
SIGNED_AT = datetime(2026, 12, 4, 9, 30, 0, tzinfo=UTC)
EVENT = {
    "event_id": "EV-0001",
    "type": "payout.settled",
    "payout_id": "PO-0001",
    "reference": "loan:1:disbursement",
    "amount": {"amount": "50000.00", "currency": "CNY"},
    "occurred_at": "2026-12-04T09:29:58+00:00",
}


def _signed(
    event: object = EVENT, *, event_id: str = "EV-0001", at: datetime = SIGNED_AT
) -> tuple[list[tuple[str, str]], bytes]:
    body = json.dumps(event).encode() if not isinstance(event, bytes) else event
    return sign_callback(body, SECRET, event_id=event_id, timestamp=at), body


def test_a_signed_callback_is_read() -> None:
    headers, body = _signed()
    event = verify_callback(headers, body, SECRET, now=SIGNED_AT + timedelta(seconds=3))
    assert event.event_id == "EV-0001"
    assert event.type is PaymentEventType.PAYOUT_SETTLED
    assert (event.payout_id, event.reference) == ("PO-0001", "loan:1:disbursement")
    assert event.amount == Money(5_000_000, "CNY")
    assert event.occurred_at == datetime(2026, 12, 4, 9, 29, 58, tzinfo=UTC)
    names = {name.lower() for name, _ in headers}
    assert {"webhook-id", "webhook-timestamp", "content-digest", "signature"} <= names
    assert dict(headers)["webhook-timestamp"] == str(int(SIGNED_AT.timestamp()))
    # Starlette-like mappings and plain dicts are read alike.
    assert verify_callback(dict(headers), body, SECRET.encode(), now=SIGNED_AT) == event


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.replace(b"50000.00", b"90000.00"), id="tampered"),
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b + b" ", id="extended"),
        pytest.param(lambda b: b"", id="emptied"),
    ],
)
def test_a_changed_body_is_refused(change: Callable[[bytes], bytes]) -> None:
    headers, body = _signed()
    with pytest.raises(BadSignature):
        verify_callback(headers, change(body), SECRET, now=SIGNED_AT)


def test_another_secret_is_refused() -> None:
    headers, body = _signed()
    with pytest.raises(BadSignature):
        verify_callback(headers, body, "d" * 64, now=SIGNED_AT)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("content-type", "application/json")], id="unsigned"),
        pytest.param(
            [("signature-input", "cb=("), ("signature", "cb=:AAA:")], id="garbled-signature"
        ),
    ],
)
def test_no_usable_signature_is_refused(headers: list[tuple[str, str]]) -> None:
    _, body = _signed()
    with pytest.raises(BadSignature):
        verify_callback(headers, body, SECRET, now=SIGNED_AT)


def test_a_changed_signed_header_is_refused() -> None:
    headers, body = _signed()
    later = str(int(SIGNED_AT.timestamp()) + 60)
    moved = [(n, later if n == "webhook-timestamp" else v) for n, v in headers]
    with pytest.raises(BadSignature):
        verify_callback(moved, body, SECRET, now=SIGNED_AT)
    renamed = [(n, "EV-0002" if n == "webhook-id" else v) for n, v in headers]
    with pytest.raises(BadSignature):
        verify_callback(renamed, body, SECRET, now=SIGNED_AT)


def test_a_provider_request_signature_is_not_a_callback_signature() -> None:
    # The same secret signing the same body as a provider call (another tag): refused.
    body = json.dumps(EVENT).encode()
    view = RequestView(
        "POST",
        "http://127.0.0.1/hooks/x",
        HeaderLines([("content-type", "application/json"), ("x-request-id", "r1")]),
    )
    sign_request(view, body, Credentials("callbacks", SECRET.encode()), nonce="r1")
    with pytest.raises(BadSignature):
        verify_callback(view.headers.items(), body, SECRET, now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
        (-timedelta(minutes=5), True),
        (-timedelta(minutes=5, seconds=1), False),
        (timedelta(days=3), False),
    ],
    ids=["5-min-late", "stale", "5-min-early", "future", "days-old"],
)
def test_the_timestamp_must_be_within_the_tolerance(offset: timedelta, accepted: bool) -> None:
    headers, body = _signed()
    now = SIGNED_AT + offset
    if accepted:
        assert verify_callback(headers, body, SECRET, now=now).event_id == "EV-0001"
    else:
        with pytest.raises(StaleTimestamp):
            verify_callback(headers, body, SECRET, now=now)


def test_the_tolerance_is_the_receivers() -> None:
    headers, body = _signed()
    with pytest.raises(StaleTimestamp):
        verify_callback(
            headers,
            body,
            SECRET,
            now=SIGNED_AT + timedelta(seconds=31),
            tolerance=timedelta(seconds=30),
        )


@pytest.mark.parametrize(
    ("event", "event_id"),
    [
        pytest.param(b"not json", "EV-0001", id="not-json"),
        pytest.param({**EVENT, "type": "payout.reversed"}, "EV-0001", id="unknown-type"),
        pytest.param({**EVENT, "type": "payout.failed"}, "EV-0001", id="failed-without-reason"),
        pytest.param({**EVENT, "failure_reason": "X"}, "EV-0001", id="settled-with-reason"),
        pytest.param({**EVENT, "amount": 50000}, "EV-0001", id="amount-not-money"),
        pytest.param({**EVENT, "occurred_at": "2026-12-04T09:29:58"}, "EV-0001", id="naive"),
        pytest.param(EVENT, "EV-0002", id="another-event-id"),
    ],
)
def test_an_authentic_callback_that_breaks_the_format(event: object, event_id: str) -> None:
    headers, body = _signed(event, event_id=event_id)
    with pytest.raises(Malformed):
        verify_callback(headers, body, SECRET, now=SIGNED_AT)


# -- two merchants on one rail, and the answer readers -------------------------------------------


async def test_merchants_are_apart(receiver: CallbackReceiver) -> None:
    # One rail serving two merchant keys, in process (the protocol checks all the same).
    first = Credentials("merchant-a", b"a" * 32)
    second = Credentials("merchant-b", b"b" * 32)
    provider = SandboxProvider(
        KIND.value, {"merchant-a": first, "merchant-b": second}, log=SandboxLog()
    )
    app = payments_sandbox.create_app(provider)
    record = payments_sandbox.rail_of(app)
    transport = httpx.ASGITransport(app=app)
    a = HttpPayoutRail("http://rail.test", first, timeout=5, transport=transport)
    b = HttpPayoutRail("http://rail.test", second, timeout=5, transport=transport)
    try:
        request = payout(receiver)
        paid_by_a = await a.disburse(request)
        # The same key is another merchant's own: another payout, not a replay or a refusal.
        paid_by_b = await b.disburse(replace(request, amount=cny("10.00")))
        assert paid_by_b.payout_id != paid_by_a.payout_id
        with pytest.raises(PayoutNotFound):
            await b.payout(paid_by_a.payout_id)
        assert (await a.payout(paid_by_a.payout_id)).amount == Money(123456, "CNY")
        assert [(p.key_id, p.amount) for p in record.payouts(request.reference)] == [
            ("merchant-a", Money(123456, "CNY")),
            ("merchant-b", Money(1000, "CNY")),
        ]
        await receiver.wait_for(hook_of(request), 2)
    finally:
        await a.aclose()
        await b.aclose()


STATE = {
    "payout_id": "PO-1",
    "status": "SETTLED",
    "reference": "loan:1:disbursement",
    "amount": {"amount": "1234.56", "currency": "CNY"},
    "settled_at": "2026-12-04T09:30:00+00:00",
    "failure_reason": None,
}


def test_a_payout_state_is_read() -> None:
    state = read_state(STATE, "r1", "PO-1")
    assert (state.status, state.amount) == (PayoutStatus.SETTLED, Money(123456, "CNY"))
    assert state.settled_at == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    pending = read_state({**STATE, "status": "PENDING", "settled_at": None}, "r1", "PO-1")
    assert (pending.status, pending.settled_at, pending.failure_reason) == (
        PayoutStatus.PENDING,
        None,
        None,
    )


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({**STATE, "status": "PENDING"}, id="settled-at-while-pending"),
        pytest.param({**STATE, "settled_at": None}, id="settled-without-time"),
        pytest.param({**STATE, "status": "FAILED", "settled_at": None}, id="failed-without-reason"),
        pytest.param({**STATE, "failure_reason": "ACCOUNT_CLOSED"}, id="settled-with-reason"),
        pytest.param({**STATE, "payout_id": "PO-2"}, id="another-payout"),
        pytest.param({**STATE, "status": "REVERSED"}, id="unknown-status"),
        pytest.param({**STATE, "amount": "1234.56"}, id="amount-not-money"),
    ],
)
def test_a_payout_state_that_breaks_the_format(answer: dict[str, object]) -> None:
    with pytest.raises(AnswerMalformed):
        read_state(answer, "r1", "PO-1")


def test_an_acceptance_for_another_reference_is_refused(receiver: CallbackReceiver) -> None:
    request = payout(receiver)
    answer = {"payout_id": "PO-1", "status": "PENDING", "reference": request.reference}
    assert read_acceptance(answer, "r1", request).payout_id == "PO-1"
    with pytest.raises(AnswerMalformed):
        read_acceptance({**answer, "reference": "loan:other"}, "r1", request)
