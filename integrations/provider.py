"""The provider side of the protocol, shared by the sandboxes: it authenticates each request
(signature, key, freshness, no replayed nonce), echoes the request ID, waits a realistic
latency, replays an earlier answer for a repeated ``Idempotency-Key``, and signs what it
answers. A sandbox kind only says what to answer (:class:`Reply`) for a verified :class:`Call`.

Every request is written to a :class:`SandboxLog` before anything is checked, so a test can
tell that a call never reached the provider.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from integrations.signing import (
    MAX_AGE,
    Credentials,
    HeaderLines,
    RequestView,
    ResponseView,
    SignatureRefused,
    sign_response,
    verify_request,
)

__all__ = ["Call", "Received", "Reply", "SandboxLog", "SandboxProvider"]

MAX_REQUEST_BYTES: Final = 64 * 1024
_JSON: Final = "application/json"
# Seconds between the bytes of a trickled answer.
TRICKLE_INTERVAL: Final = 0.2


@dataclass
class Received:
    """One request as the sandbox saw it."""

    kind: str
    method: str
    path: str
    request_id: str | None
    #: The key that signed it, once verified.
    key_id: str | None = None
    #: What the sandbox answered: a status, or ``timeout`` / ``trickle`` / ``replayed``.
    outcome: str | None = None
    #: The client went away before the answer was sent.
    abandoned: bool = False


class SandboxLog:
    """Every request the sandboxes received, in arrival order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Received] = []

    def add(self, entry: Received) -> Received:
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, kind: str | None = None) -> list[Received]:
        """A copy of the entries, of one kind or all."""
        with self._lock:
            return [e for e in self._entries if kind is None or e.kind == kind]

    def find(self, request_id: str) -> Received | None:
        """The entry of the request sent with ``request_id``."""
        with self._lock:
            return next((e for e in self._entries if e.request_id == request_id), None)


@dataclass(frozen=True)
class Call:
    """A verified request: who signed it and what it asked."""

    request: Request
    request_id: str
    key_id: str
    data: Any
    idempotency_key: str | None


@dataclass(frozen=True)
class Reply:
    """What to answer. ``behaviour`` is ``answer`` (a signed JSON body with ``status``),
    ``unavailable`` (an unsigned 503, as a failing gateway gives), ``timeout`` (hold the
    request until the client gives up, then answer ``payload`` all the same) or ``trickle``
    (send the signed answer a byte at a time)."""

    status: int = 200
    payload: Any = None
    behaviour: str = "answer"

    @classmethod
    def ok(cls, payload: Any) -> Reply:
        return cls(200, payload)

    @classmethod
    def refuse(cls, status: int, code: str, message: str) -> Reply:
        return cls(status, {"error": {"code": code, "message": message}})

    @classmethod
    def unavailable(cls) -> Reply:
        return cls(
            503, {"error": {"code": "UNAVAILABLE", "message": "try again later"}}, "unavailable"
        )

    @classmethod
    def hang(cls, payload: Any) -> Reply:
        return cls(200, payload, "timeout")

    @classmethod
    def trickle(cls, payload: Any) -> Reply:
        return cls(200, payload, "trickle")

    @classmethod
    def failing(cls, outcome: str, payload: Any) -> Reply:
        """``payload`` answered as a transport failure outcome asks (one of
        :data:`TRANSPORT_FAILURES`)."""
        if outcome == "UNAVAILABLE":
            return cls.unavailable()
        if outcome == "TIMEOUT":
            return cls.hang(payload)
        assert outcome == "TRICKLE", outcome
        return cls.trickle(payload)


#: Outcomes every sandbox acts out on the wire, whatever its answer would have been.
TRANSPORT_FAILURES = frozenset({"TIMEOUT", "TRICKLE", "UNAVAILABLE"})


def last_word_outcome(name: str, outcomes: tuple[str, ...]) -> str:
    """The outcome a test name asks for by its last word (``GOOD`` when it names none)."""
    words = name.split()
    last = words[-1].upper() if words else ""
    return last if last in outcomes else "GOOD"


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass
class _Nonces:
    """Nonces seen within the signature age limit, to refuse a replayed request."""

    seen: dict[tuple[str, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, key_id: str, nonce: str) -> bool:
        now = time.monotonic()
        horizon = MAX_AGE.total_seconds() * 2
        with self.lock:
            if len(self.seen) > 10_000:
                self.seen = {k: t for k, t in self.seen.items() if now - t < horizon}
            if (key_id, nonce) in self.seen:
                return False
            self.seen[(key_id, nonce)] = now
            return True


class SandboxProvider:
    """The protocol machinery of one sandbox kind."""

    def __init__(
        self,
        kind: str,
        credentials: Mapping[str, Credentials] | Credentials,
        *,
        log: SandboxLog,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        if isinstance(credentials, Credentials):
            credentials = {credentials.key_id: credentials}
        self.kind = kind
        self.max_request_bytes = max_request_bytes
        self.log = log
        self.latency = latency
        self.hang_seconds = hang_seconds
        self._credentials = dict(credentials)
        self._keys = {key_id: c.secret for key_id, c in self._credentials.items()}
        self._nonces = _Nonces()
        # (key ID, path, idempotency key): the first request's body digest and answer.
        self._answers: dict[tuple[str, str, str], tuple[str, Reply]] = {}

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A Starlette endpoint running ``handler`` behind the protocol's checks."""

        async def endpoint(request: Request) -> Response:
            return await self._serve(request, handler)

        return endpoint

    async def _serve(self, request: Request, handler: Handler) -> Response:
        request_id = request.headers.get("x-request-id")
        entry = self.log.add(Received(self.kind, request.method, request.url.path, request_id))
        if not request_id or len(request_id) > 128:
            entry.outcome = "400"
            return _error(400, "REQUEST_ID_REQUIRED", "send X-Request-ID", None)
        if int(request.headers.get("content-length") or 0) > self.max_request_bytes:
            entry.outcome = "413"
            return _error(413, "TOO_LARGE", "request body too large", request_id)
        body = await request.body()
        view = RequestView(
            request.method, _signed_url(request), HeaderLines(request.headers.items())
        )
        try:
            key_id, nonce = verify_request(view, body, self._keys)
        except SignatureRefused as exc:
            entry.outcome = "401"
            return _error(401, "UNAUTHENTICATED", str(exc), request_id)
        if nonce != request_id or not self._nonces.first_time(key_id, nonce):
            entry.outcome = "401"
            return _error(401, "UNAUTHENTICATED", "nonce missing or already used", request_id)
        entry.key_id = key_id
        if self.latency > 0:
            # Spread around the setting, as a real provider's answers are.
            await asyncio.sleep(self.latency * random.uniform(0.5, 1.5))  # noqa: S311

        idempotency_key = request.headers.get("idempotency-key")
        remembered = (key_id, request.url.path, idempotency_key) if idempotency_key else None
        digest = hashlib.sha256(body).hexdigest()
        if remembered is not None and remembered in self._answers:
            first_digest, reply = self._answers[remembered]
            if first_digest == digest:
                entry.outcome = "replayed"
            else:
                reply = Reply.refuse(
                    422, "IDEMPOTENCY_KEY_REUSED", "this key was used for another request"
                )
                entry.outcome = "422"
        else:
            try:
                data = json.loads(body) if body else None
            except ValueError:
                data = _INVALID
            if data is _INVALID:
                reply = Reply.refuse(400, "INVALID_JSON", "the body is not JSON")
            else:
                reply = await handler(Call(request, request_id, key_id, data, idempotency_key))
            if remembered is not None and reply.status == 200:
                self._answers[remembered] = (digest, Reply.ok(reply.payload))
            entry.outcome = reply.behaviour if reply.behaviour != "answer" else str(reply.status)

        if reply.behaviour == "unavailable":
            return JSONResponse(
                reply.payload, status_code=reply.status, headers={"x-request-id": request_id}
            )
        if reply.behaviour == "timeout" and await self._held_until_gone(request):
            entry.abandoned = True
            return Response(status_code=499)
        content, headers = self._signed(reply, view, self._credentials[key_id], request_id)
        if reply.behaviour == "trickle":
            return StreamingResponse(_trickled(content), status_code=reply.status, headers=headers)
        return Response(content, status_code=reply.status, headers=headers)

    async def _held_until_gone(self, request: Request) -> bool:
        """Hold the request up to ``hang_seconds``; whether the client gave up meanwhile."""
        deadline = time.monotonic() + self.hang_seconds
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return True
            await asyncio.sleep(0.05)
        return False

    @staticmethod
    def _signed(
        reply: Reply, view: RequestView, credentials: Credentials, request_id: str
    ) -> tuple[bytes, dict[str, str]]:
        content = json.dumps(reply.payload, separators=(",", ":")).encode()
        answer = ResponseView(
            reply.status,
            HeaderLines([("content-type", _JSON), ("x-request-id", request_id)]),
            view,
        )
        sign_response(answer, content, credentials)
        return content, dict(answer.headers.items())


_INVALID: Final = object()


def _signed_url(request: Request) -> str:
    """The URL as the client wrote it: the raw (still percent-encoded) path, so a signature
    over ``@path`` means the same bytes on both sides."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    host = request.headers.get("host", "")
    url = f"{request.url.scheme}://{host}{raw_path.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


async def _trickled(content: bytes) -> AsyncIterator[bytes]:
    for i in range(len(content)):
        yield content[i : i + 1]
        await asyncio.sleep(TRICKLE_INTERVAL)


def _error(status: int, code: str, message: str, request_id: str | None) -> Response:
    # Unsigned: a refusal carries no data, and an unknown key cannot sign anything.
    headers = {"x-request-id": request_id} if request_id else {}
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)
