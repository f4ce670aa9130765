"""A sandbox payment rail: a real HTTP service speaking the payout protocol
(``integrations/README.md``) that settles each payout later and says so by a signed HTTP
callback to the payout's ``callback_url``, retried with backoff until it is answered 2xx.
For tests and ``lendgraph dev``.

The outcome is chosen by the last word of the beneficiary's name (case-insensitive):

===============  ====================================================================
``FAIL``         the payout fails: ``payout.failed``, reason ``ACCOUNT_CLOSED``
``DUPLICATE``    settles, and the callback is delivered twice (the same event, same bytes)
``EARLY``        settles at once: the callback is delivered before the 202 answer is sent
``TIMEOUT``      accepted (and settled later), but the answer is held until the client gives up
``TRICKLE``      accepted; the answer comes a byte at a time
``UNAVAILABLE``  503, nothing accepted
``MALFORMED``    accepted (and settled later); a signed answer that breaks the format
anything else    settles after the sandbox's latency: ``payout.settled``
===============  ====================================================================

Idempotency is the rail's own, per merchant key ID and ``Idempotency-Key`` (required): the
same key with the same body answers the first payout again (202, as first answered, whatever
happened to it since; no second payout, no second settlement), with another body 422
``IDEMPOTENCY_KEY_REUSED``. It holds under concurrency: the look-up and the creation happen
with nothing awaited between them.

What the rail did is kept in :class:`SandboxRail` (``payouts()``, ``wait_done()``), reachable
from the served app with :func:`rail_of`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from domain.kernel.money import Money, MoneyError
from integrations.payments.callbacks import sign_callback
from integrations.provider import (
    TRANSPORT_FAILURES,
    Call,
    Reply,
    SandboxProvider,
    last_word_outcome,
)

__all__ = [
    "OUTCOMES",
    "CallbackAttempt",
    "SandboxPayout",
    "SandboxRail",
    "create_app",
    "outcome_of",
    "rail_of",
]

OUTCOMES = (
    "GOOD",
    "FAIL",
    "DUPLICATE",
    "EARLY",
    "TIMEOUT",
    "TRICKLE",
    "UNAVAILABLE",
    "MALFORMED",
)
#: Seconds before each retry of an unanswered callback (then the rail gives up).
RETRY_DELAYS: Final = (0.2, 0.4, 0.8, 1.6, 3.2)
#: How long one callback attempt may take.
CALLBACK_TIMEOUT: Final = 5.0
CURRENCIES: Final = frozenset({"CNY"})
FAILURE_REASON: Final = "ACCOUNT_CLOSED"
_ACCOUNT_NUMBER: Final = re.compile(r"[0-9]{8,32}", re.ASCII)
# A CNAPS bank code: 12 digits.
_BANK_CODE: Final = re.compile(r"[0-9]{12}", re.ASCII)


def outcome_of(name: str) -> str:
    """The outcome a beneficiary's name asks for."""
    return last_word_outcome(name, OUTCOMES)


@dataclass(frozen=True)
class CallbackAttempt:
    """One callback delivery attempt: the event, which delivery of it (2 for the repeat of a
    ``DUPLICATE``), the receiver's status (``None``: no answer, see ``error``)."""

    event_id: str
    delivery: int
    attempt: int
    status: int | None
    error: str | None
    at: datetime

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class SandboxPayout:
    """A payout as the sandbox holds it."""

    payout_id: str
    key_id: str
    idempotency_key: str
    #: The request body, canonical JSON: what "the same body" is compared on.
    fingerprint: str
    reference: str
    amount: Money
    beneficiary_name: str
    callback_url: str
    outcome: str
    created_at: datetime
    #: What the creation answered (a replay answers it again).
    answer: dict[str, Any]
    status: str = "PENDING"
    settled_at: datetime | None = None
    failure_reason: str | None = None
    #: The settlement event, once settled.
    event: dict[str, Any] | None = None
    attempts: list[CallbackAttempt] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """The payout as ``GET /v1/payouts/{id}`` answers it."""
        return {
            "payout_id": self.payout_id,
            "status": self.status,
            "reference": self.reference,
            "amount": _wire(self.amount),
            "settled_at": None if self.settled_at is None else self.settled_at.isoformat(),
            "failure_reason": self.failure_reason,
        }


def _wire(money: Money) -> dict[str, str]:
    return {"amount": money.to_decimal_string(), "currency": money.currency}


class _Invalid(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.reply = Reply.refuse(status, code, message)


def _text(data: dict[str, Any], name: str, where: str, longest: int = 200) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise _Invalid(400, "INVALID_REQUEST", f"{where}{name} must be a non-blank string")
    return value


def _validated(data: Any) -> tuple[Money, str, str, str]:
    """The amount, beneficiary's name, reference and callback URL of a payout request."""
    if not isinstance(data, dict):
        raise _Invalid(400, "INVALID_REQUEST", "the body must be an object")
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise _Invalid(400, "INVALID_REQUEST", "amount must be {amount, currency}")
    currency = _text(amount, "currency", "amount.", 3)
    if currency not in CURRENCIES:
        raise _Invalid(422, "UNSUPPORTED_CURRENCY", f"payouts are in {', '.join(CURRENCIES)}")
    try:
        money = Money.parse(_text(amount, "amount", "amount.", 40), currency)
    except MoneyError:
        raise _Invalid(400, "INVALID_REQUEST", "amount.amount is not a decimal amount") from None
    if not money.is_positive():
        raise _Invalid(422, "INVALID_AMOUNT", "the amount must be positive")
    beneficiary = data.get("beneficiary")
    if not isinstance(beneficiary, dict):
        raise _Invalid(400, "INVALID_REQUEST", "beneficiary must be an object")
    name = _text(beneficiary, "name", "beneficiary.")
    account = _text(beneficiary, "account_number", "beneficiary.", 64)
    bank = _text(beneficiary, "bank_code", "beneficiary.", 64)
    if not _ACCOUNT_NUMBER.fullmatch(account):
        raise _Invalid(422, "INVALID_BENEFICIARY", "the account number must be 8 to 32 digits")
    if not _BANK_CODE.fullmatch(bank):
        raise _Invalid(422, "INVALID_BENEFICIARY", "the bank code must be 12 digits (CNAPS)")
    reference = _text(data, "reference", "", 64)
    callback_url = _text(data, "callback_url", "", 2000)
    if not callback_url.startswith(("http://", "https://")):
        raise _Invalid(400, "INVALID_REQUEST", "callback_url must be an http(s) URL")
    return money, name, reference, callback_url


class SandboxRail:
    """The sandbox rail's payouts and callbacks. Requests are served on the server's event
    loop; the record may be read from any thread."""

    def __init__(
        self,
        *,
        callback_secret: str,
        latency: float = 0.0,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.callback_secret = callback_secret
        self.latency = latency
        self.retry_delays = retry_delays
        self._lock = threading.Lock()
        self._payouts: dict[str, SandboxPayout] = {}
        self._by_key: dict[tuple[str, str], SandboxPayout] = {}
        self._done: dict[str, threading.Event] = {}
        # Settlements under way (a task nobody holds may be collected before it runs).
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what a test reads ----------------------------------------------------------------

    def payouts(self, reference: str | None = None) -> list[SandboxPayout]:
        """Copies of the payouts, all or those with ``reference``, in creation order."""
        with self._lock:
            return [
                dataclasses.replace(p, attempts=list(p.attempts))
                for p in self._payouts.values()
                if reference is None or p.reference == reference
            ]

    def wait_done(self, payout_id: str, timeout: float) -> bool:
        """Whether the payout's settlement and every callback delivery (all attempts) are
        over within ``timeout`` seconds (blocking: call it off the event loop)."""
        with self._lock:
            done = self._done.get(payout_id)
        return done is not None and done.wait(timeout)

    # -- endpoints --------------------------------------------------------------------------

    async def create(self, call: Call) -> Reply:
        """``POST /v1/payouts``."""
        key = call.idempotency_key
        if not key or len(key) > 255:
            return Reply.refuse(
                400, "IDEMPOTENCY_KEY_REQUIRED", "a payout needs an Idempotency-Key (1-255)"
            )
        fingerprint = json.dumps(call.data, sort_keys=True, separators=(",", ":"))
        # From the look-up to the insertion nothing is awaited: concurrent requests with one
        # key are served one after the other on the loop, and the lock covers readers.
        with self._lock:
            existing = self._by_key.get((call.key_id, key))
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    return Reply.refuse(
                        422, "IDEMPOTENCY_KEY_REUSED", "this key was used for another payout"
                    )
                return Reply(202, existing.answer)
            try:
                money, name, reference, callback_url = _validated(call.data)
            except _Invalid as refusal:
                return refusal.reply
            outcome = outcome_of(name)
            if outcome == "UNAVAILABLE":
                return Reply.unavailable()
            payout_id = f"PO-{uuid.uuid4().hex[:20].upper()}"
            answer = {"payout_id": payout_id, "status": "PENDING", "reference": reference}
            payout = SandboxPayout(
                payout_id=payout_id,
                key_id=call.key_id,
                idempotency_key=key,
                fingerprint=fingerprint,
                reference=reference,
                amount=money,
                beneficiary_name=name,
                callback_url=callback_url,
                outcome=outcome,
                created_at=datetime.now(UTC),
                answer=answer,
            )
            self._payouts[payout_id] = payout
            self._by_key[(call.key_id, key)] = payout
            self._done[payout_id] = threading.Event()

        first_attempt = asyncio.Event()
        task = asyncio.create_task(
            self._settle(payout, at_once=outcome == "EARLY", first_attempt=first_attempt)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if outcome == "EARLY":
            # The settlement overtakes the answer: the caller hears of it before it has the
            # payout ID to record.
            await first_attempt.wait()
        if outcome in TRANSPORT_FAILURES:
            return Reply(202, answer, "timeout" if outcome == "TIMEOUT" else "trickle")
        if outcome == "MALFORMED":
            return Reply(202, {**answer, "payout_id": 4711})
        return Reply(202, answer)

    async def read(self, call: Call) -> Reply:
        """``GET /v1/payouts/{payout_id}``: only the merchant that created it sees it."""
        payout_id = str(call.request.path_params["payout_id"])
        with self._lock:
            payout = self._payouts.get(payout_id)
            if payout is None or payout.key_id != call.key_id:
                return Reply.refuse(404, "PAYOUT_NOT_FOUND", "no such payout")
            return Reply.ok(payout.state())

    # -- settlement -------------------------------------------------------------------------

    async def _settle(
        self, payout: SandboxPayout, *, at_once: bool, first_attempt: asyncio.Event
    ) -> None:
        try:
            if not at_once and self.latency > 0:
                await asyncio.sleep(self.latency * random.uniform(0.5, 1.5))  # noqa: S311
            now = datetime.now(UTC)
            failed = payout.outcome == "FAIL"
            event: dict[str, Any] = {
                "event_id": f"EV-{uuid.uuid4().hex[:20].upper()}",
                "type": "payout.failed" if failed else "payout.settled",
                "payout_id": payout.payout_id,
                "reference": payout.reference,
                "amount": _wire(payout.amount),
                "occurred_at": now.isoformat(),
            }
            if failed:
                event["failure_reason"] = FAILURE_REASON
            with self._lock:
                payout.status = "FAILED" if failed else "SETTLED"
                payout.settled_at = None if failed else now
                payout.failure_reason = FAILURE_REASON if failed else None
                payout.event = event
            body = json.dumps(event, separators=(",", ":")).encode()
            deliveries = 2 if payout.outcome == "DUPLICATE" else 1
            async with httpx.AsyncClient(
                timeout=CALLBACK_TIMEOUT, trust_env=False, follow_redirects=False
            ) as http:
                for delivery in range(1, deliveries + 1):
                    await self._deliver(
                        http,
                        payout,
                        body,
                        event_id=event["event_id"],
                        delivery=delivery,
                        first_attempt=first_attempt,
                    )
        finally:
            first_attempt.set()
            with self._lock:
                self._done[payout.payout_id].set()

    async def _deliver(
        self,
        http: httpx.AsyncClient,
        payout: SandboxPayout,
        body: bytes,
        *,
        event_id: str,
        delivery: int,
        first_attempt: asyncio.Event,
    ) -> None:
        """One delivery of the event: attempts until one is answered 2xx or the retries run
        out. Each attempt is signed afresh (its own timestamp)."""
        for attempt, delay in enumerate((0.0, *self.retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            headers = sign_callback(
                body,
                self.callback_secret,
                event_id=event_id,
                timestamp=datetime.now(UTC),
                key_id=payout.key_id,
            )
            status: int | None = None
            error: str | None = None
            try:
                response = await http.post(payout.callback_url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            record = CallbackAttempt(event_id, delivery, attempt, status, error, datetime.now(UTC))
            with self._lock:
                payout.attempts.append(record)
            first_attempt.set()
            if record.delivered:
                return


def create_app(provider: SandboxProvider, rail: SandboxRail | None = None) -> Starlette:
    """The rail's routes behind ``provider``'s checks; ``rail`` (a fresh one, with a new
    callback secret and the provider's latency, by default) is kept as the app's
    ``state.payout_rail``."""
    if rail is None:
        rail = SandboxRail(callback_secret=secrets.token_hex(32), latency=provider.latency)
    app = Starlette(
        routes=[
            Route("/v1/payouts", provider.endpoint(rail.create), methods=["POST"]),
            Route("/v1/payouts/{payout_id}", provider.endpoint(rail.read), methods=["GET"]),
        ]
    )
    app.state.payout_rail = rail
    return app


def rail_of(app: object) -> SandboxRail:
    """The :class:`SandboxRail` of ``app``, or of the app mounted in it that serves one."""
    if not isinstance(app, Starlette):
        raise LookupError("not a Starlette app")
    rail = getattr(app.state, "payout_rail", None)
    if isinstance(rail, SandboxRail):
        return rail
    for route in app.routes:
        inner = getattr(route, "app", None)
        if isinstance(inner, Starlette):
            rail = getattr(inner.state, "payout_rail", None)
            if isinstance(rail, SandboxRail):
                return rail
    raise LookupError("no payment rail sandbox in this app")
