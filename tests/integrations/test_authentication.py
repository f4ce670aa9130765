"""Authentication both ways, over loopback HTTP: the sandbox refuses requests that are not
signed by a known key over exactly what they carry (401), and the client refuses answers that
are not signed by the provider over exactly what arrived, for the request it sent."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from domain.risk.ports import (
    AnswerNotAuthentic,
    CreditReportRequest,
    ProviderKind,
    RequestRejected,
)
from integrations.bureau.client import HttpCreditBureau
from integrations.risk import close_risk_providers
from integrations.sandboxes import SandboxServer
from integrations.signing import (
    Credentials,
    HeaderLines,
    RequestView,
    ResponseView,
    sign_response,
)
from tests.integrations.conftest import GOOD_ID, open_providers
from tests.integrations.test_bureau import CONSENT

BUREAU = ProviderKind.CREDIT_BUREAU


def pull(name: str = "Zhang Min") -> CreditReportRequest:
    return CreditReportRequest(resident_id=GOOD_ID, full_name=name, consent=CONSENT)


def _response(status: int, headers: object, content: bytes) -> httpx.Response:
    # A transport hands the client a stream, which the client reads as from the network.
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))  # type: ignore[arg-type]


class Interceptor(httpx.AsyncBaseTransport):
    """Sits on the wire between client and sandbox: may rewrite what goes out or comes back
    (same length, so the framing stays valid), and keeps what passed."""

    def __init__(
        self,
        *,
        request: Callable[[bytes], bytes] | None = None,
        response: Callable[[bytes], bytes] | None = None,
        headers: Callable[[httpx.Headers], httpx.Headers] | None = None,
    ) -> None:
        self._network = httpx.AsyncHTTPTransport()
        self._request, self._response, self._headers = request, response, headers
        self.sent: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if self._request is not None:
            request = httpx.Request(
                request.method, request.url, headers=request.headers, content=self._request(body)
            )
        self.sent.append(request)
        response = await self._network.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        headers = response.headers
        if self._response is not None:
            content = self._response(content)
        if self._headers is not None:
            headers = self._headers(headers)
        self.answers.append(httpx.Response(response.status_code, headers=headers, content=content))
        return _response(response.status_code, headers, content)

    async def aclose(self) -> None:
        await self._network.aclose()


async def _pull_through(sandbox: SandboxServer, transport: httpx.AsyncBaseTransport):
    providers = await open_providers(sandbox, transport=transport)
    try:
        return await providers.bureau.pull_report(pull())
    finally:
        await close_risk_providers(providers)


async def test_a_wrong_secret_is_refused(sandbox: SandboxServer) -> None:
    key_id = sandbox.credentials[BUREAU].key_id
    client = HttpCreditBureau(sandbox.url(BUREAU), Credentials(key_id, b"w" * 32), timeout=5)
    try:
        with pytest.raises(RequestRejected) as caught:
            await client.pull_report(pull())
    finally:
        await client.aclose()
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHENTICATED")
    assert not caught.value.retryable
    received = sandbox.log.find(str(caught.value.request_id))
    assert received is not None
    assert (received.outcome, received.key_id) == ("401", None)


async def test_an_unknown_key_is_refused(sandbox: SandboxServer) -> None:
    secret = sandbox.credentials[BUREAU].secret
    client = HttpCreditBureau(sandbox.url(BUREAU), Credentials("stranger", secret), timeout=5)
    try:
        with pytest.raises(RequestRejected) as caught:
            await client.pull_report(pull())
    finally:
        await client.aclose()
    assert caught.value.status == 401


async def test_an_unsigned_request_is_refused(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient() as plain:
        response = await plain.post(
            sandbox.url(BUREAU) + "/v1/credit-reports",
            json={"subject": {"resident_id": GOOD_ID, "name": "Zhang Min"}},
            headers={"x-request-id": "plain-1"},
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["x-request-id"] == "plain-1"


async def test_a_request_changed_after_signing_is_refused(sandbox: SandboxServer) -> None:
    # Another subject's report asked for under the same signature.
    wire = Interceptor(request=lambda body: body.replace(b"Zhang Min", b"Zhang Xin"))
    with pytest.raises(RequestRejected) as caught:
        await _pull_through(sandbox, wire)
    assert caught.value.status == 401
    assert b"Zhang Xin" in wire.sent[0].content


async def test_a_replayed_request_is_refused(sandbox: SandboxServer) -> None:
    wire = Interceptor()
    report = await _pull_through(sandbox, wire)
    assert report.score == 742
    (sent,) = wire.sent
    async with httpx.AsyncClient() as plain:
        again = await plain.send(
            httpx.Request(sent.method, sent.url, headers=sent.headers, content=sent.content)
        )
    assert again.status_code == 401
    assert "already used" in again.json()["error"]["message"]


async def test_a_tampered_answer_is_refused(sandbox: SandboxServer) -> None:
    # The score raised on the way back, the signature left as it was.
    wire = Interceptor(response=lambda body: body.replace(b'"value":742', b'"value":842'))
    with pytest.raises(AnswerNotAuthentic) as caught:
        await _pull_through(sandbox, wire)
    assert b'"value":842' in wire.answers[0].content
    assert "Content-Digest does not match" in str(caught.value)


async def test_an_unsigned_answer_is_refused(sandbox: SandboxServer) -> None:
    def strip(headers: httpx.Headers) -> httpx.Headers:
        kept = httpx.Headers(headers)
        del kept["signature"]
        del kept["signature-input"]
        return kept

    with pytest.raises(AnswerNotAuthentic):
        await _pull_through(sandbox, Interceptor(headers=strip))


async def test_an_answer_to_another_request_is_refused(sandbox: SandboxServer) -> None:
    """A genuine, signed answer served for a later request (its own headers and body, request
    ID rewritten to the new one): the signature covers the request it answered."""
    first = Interceptor()
    await _pull_through(sandbox, first)
    earlier = first.answers[0]

    class Replay(Interceptor):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            headers = httpx.Headers(earlier.headers)
            headers["x-request-id"] = request.headers["x-request-id"]
            return _response(200, headers, earlier.content)

    with pytest.raises(AnswerNotAuthentic):
        await _pull_through(sandbox, Replay())


async def test_an_answer_signed_with_another_secret_is_refused(sandbox: SandboxServer) -> None:
    """A well-formed answer signed for this very request under the bureau's key ID, but with
    another secret (a forger who knows the key ID, not the key)."""
    key_id = sandbox.credentials[BUREAU].key_id
    genuine = Interceptor()
    await _pull_through(sandbox, genuine)
    content = genuine.answers[0].content

    class Forge(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            view = RequestView(
                request.method, str(request.url), HeaderLines(request.headers.multi_items())
            )
            answer = ResponseView(
                200,
                HeaderLines(
                    [
                        ("content-type", "application/json"),
                        ("x-request-id", request.headers["x-request-id"]),
                    ]
                ),
                view,
            )
            sign_response(answer, content, Credentials(key_id, b"f" * 32))
            return _response(200, answer.headers.items(), content)

    with pytest.raises(AnswerNotAuthentic) as caught:
        await _pull_through(sandbox, Forge())
    # The body is the genuine one: what fails is the signature itself.
    assert "Content-Digest" not in str(caught.value)


async def test_the_same_forgery_with_the_right_secret_is_accepted(sandbox: SandboxServer) -> None:
    """The control of the test above: signed the same way with the bureau's secret, the
    answer is taken, so the refusal there is the secret's doing."""
    genuine = Interceptor()
    await _pull_through(sandbox, genuine)
    content = genuine.answers[0].content

    class Sign(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            view = RequestView(
                request.method, str(request.url), HeaderLines(request.headers.multi_items())
            )
            answer = ResponseView(
                200,
                HeaderLines(
                    [
                        ("content-type", "application/json"),
                        ("x-request-id", request.headers["x-request-id"]),
                    ]
                ),
                view,
            )
            sign_response(answer, content, sandbox.credentials[BUREAU])
            return _response(200, answer.headers.items(), content)

    report = await _pull_through(sandbox, Sign())
    assert report.score == 742
