"""The client side of the provider protocol, shared by every kind: one signed JSON call, its
answer verified, every failure turned into a typed error of ``domain.risk.ports``.

A call is bounded as a whole: connecting, sending and reading the last byte happen within
``timeout`` seconds (httpx bounds each phase; the overall deadline also stops a provider that
trickles bytes). One attempt per call: the job calling the port retries.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import httpx

from domain.risk.ports import (
    AnswerNotAuthentic,
    MalformedAnswer,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RequestRejected,
)
from integrations.signing import (
    Credentials,
    HeaderLines,
    RequestView,
    ResponseView,
    SignatureRefused,
    sign_request,
    verify_response,
)

__all__ = ["Answer", "SignedJsonClient"]

#: Larger answers are not read (a report is a few kilobytes).
MAX_ANSWER_BYTES: Final = 1024 * 1024
_JSON: Final = "application/json"
#: Answers that carry a result: 200, and 202 for a request accepted to be carried out later
#: (a payout, settled afterwards).
_ANSWERED: Final = frozenset({200, 202})


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the trust store takes a noticeable fraction of a second: once per process, not
    # once per client.
    return ssl.create_default_context()


@dataclass(frozen=True)
class Answer:
    """A verified answer: the request ID it was sent with and the decoded JSON body."""

    request_id: str
    data: Any


class SignedJsonClient:
    """Signed JSON calls to one provider (``base_url``), as ``credentials``."""

    def __init__(
        self,
        *,
        kind: ProviderKind,
        base_url: str,
        credentials: Credentials,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.kind = kind
        self.timeout = timeout
        self._credentials = credentials
        # No proxies or netrc from the environment: where the call goes is the setting's word.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=_tls_context(),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        payload: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        """Send one signed request and return its verified answer, or raise the typed error
        for what went wrong."""
        request_id = str(uuid.uuid4())
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers: list[tuple[str, str]] = [
            ("content-type", _JSON),
            ("accept", _JSON),
            # The signed digest covers the bytes as sent: no content coding on the way back.
            ("accept-encoding", "identity"),
            ("x-request-id", request_id),
        ]
        if idempotency_key is not None:
            headers.append(("idempotency-key", idempotency_key))
        url = self._http.build_request(method, path, params=params).url
        view = RequestView(method, str(url), HeaderLines(headers))
        sign_request(view, body, self._credentials, nonce=request_id)
        request = httpx.Request(method, url, headers=view.headers.items(), content=body)

        try:
            async with asyncio.timeout(self.timeout):
                status, response_headers, content = await self._send(request, request_id)
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderTimeout(
                f"no answer within {self.timeout:g} s", kind=self.kind, request_id=request_id
            ) from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"not reachable: {type(exc).__name__}", kind=self.kind, request_id=request_id
            ) from exc

        if status >= 500:
            # Often a proxy's answer, unsigned; nothing in it is used.
            raise ProviderUnavailable(
                f"server error {status}", kind=self.kind, request_id=request_id, status=status
            )
        if 400 <= status < 500:
            # A refusal carries no data to trust, only a reason for the record.
            code, message = _refusal(content)
            raise RequestRejected(
                f"refused ({status} {code}): {message}",
                kind=self.kind,
                request_id=request_id,
                status=status,
                code=code,
            )
        if status not in _ANSWERED:
            raise MalformedAnswer(
                f"unexpected status {status}", kind=self.kind, request_id=request_id
            )
        answer = ResponseView(status, HeaderLines(response_headers), view)
        try:
            verify_response(answer, content, self._credentials)
        except SignatureRefused as exc:
            raise AnswerNotAuthentic(
                f"answer signature refused: {exc}", kind=self.kind, request_id=request_id
            ) from None
        if answer.headers.get("x-request-id") != request_id:
            raise AnswerNotAuthentic(
                "answer is for another request", kind=self.kind, request_id=request_id
            )
        if (answer.headers.get("content-type") or "").split(";")[0].strip() != _JSON:
            raise MalformedAnswer("answer is not JSON", kind=self.kind, request_id=request_id)
        try:
            data = json.loads(content)
        except ValueError:
            raise MalformedAnswer(
                "answer is not valid JSON", kind=self.kind, request_id=request_id
            ) from None
        return Answer(request_id, data)

    async def _send(
        self, request: httpx.Request, request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        response = await self._http.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            # Raw bytes: the digest is over the content as sent.
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise MalformedAnswer(
                        f"answer larger than {MAX_ANSWER_BYTES} bytes",
                        kind=self.kind,
                        request_id=request_id,
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response.status_code, response.headers.multi_items(), b"".join(chunks)


def _refusal(content: bytes) -> tuple[str, str]:
    """The code and message of a refusal body ``{"error": {"code", "message"}}``, as far as
    it has them."""
    try:
        error = json.loads(content)["error"]
        code, message = error["code"], error.get("message", "")
        if isinstance(code, str) and isinstance(message, str):
            return code[:64], message[:500]
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return "UNKNOWN", ""


class ProviderClient:
    """What every provider's HTTP client shares: one signed JSON client for its kind, closed
    with the client. A subclass names its :attr:`kind` and speaks its provider's API."""

    kind: ClassVar[ProviderKind]

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = SignedJsonClient(
            kind=self.kind,
            base_url=base_url,
            credentials=credentials,
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
