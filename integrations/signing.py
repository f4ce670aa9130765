"""Authentication of provider calls: HTTP Message Signatures (RFC 9421, HMAC-SHA256 with a
shared secret per key ID) over both the request and the response, with the body bound by
``Content-Digest`` (RFC 9530). The signatures themselves are made and checked by the
``http-message-signatures`` library; this module only says what each one covers.

Request (client to provider), label ``req``, tag ``lendgraph-request``: ``@method``,
``@authority``, ``@path``, ``@query``, ``content-type``, ``x-request-id`` and
``content-digest``; ``created`` and ``nonce`` (the request ID) are signed parameters. The
provider refuses a signature older than :data:`MAX_AGE` and a nonce it has already seen.

Response (provider to client), label ``resp``, tag ``lendgraph-response``: ``@status``,
``content-type``, ``x-request-id``, ``content-digest`` and the request's own signature
(``"signature";req;key="req"``), so an answer can be used only for the request it was made
for: it cannot be replayed to another call or moved onto another request. The distinct tags
keep a request signature from ever verifying as a response one.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

__all__ = [
    "MAX_AGE",
    "REQUEST_COMPONENTS",
    "RESPONSE_COMPONENTS",
    "Credentials",
    "HeaderLines",
    "InvalidSignature",
    "RequestView",
    "ResponseView",
    "SignatureRefused",
    "sign_request",
    "sign_response",
    "verify_request",
    "verify_response",
]

REQUEST_LABEL = "req"
RESPONSE_LABEL = "resp"
REQUEST_TAG = "lendgraph-request"
RESPONSE_TAG = "lendgraph-response"
REQUEST_COMPONENTS: tuple[str, ...] = (
    "@method",
    "@authority",
    "@path",
    "@query",
    "content-type",
    "x-request-id",
)
RESPONSE_COMPONENTS: tuple[str, ...] = (
    "@status",
    "content-type",
    "x-request-id",
    f'"signature";req;key="{REQUEST_LABEL}"',
)
#: How old a signature may be when it arrives (clock skew plus transit).
MAX_AGE = datetime.timedelta(minutes=5)
#: RFC 9421 section 3.3.3 asks for keys at least as long as the HMAC output.
MIN_SECRET_BYTES = 32


class SignatureRefused(Exception):
    """A message's signature is missing, malformed, invalid, stale or of an unknown key."""


@dataclass(frozen=True)
class Credentials:
    """A key ID and the secret shared with the provider under it."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key_id:
            raise ValueError("a key ID is required")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret must have at least {MIN_SECRET_BYTES} bytes")


class HeaderLines:
    """Header field lines in wire order, as the signature library reads and writes them.
    Repeated lines are kept apart, so a second ``Signature`` line cannot hide behind a dict."""

    def __init__(self, lines: Iterable[tuple[str, str]] = ()) -> None:
        self._lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._lines)

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self._lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self._lines = [(n, v) for n, v in self._lines if n.lower() != name.lower()]

    def get(self, name: str) -> str | None:
        """The first value of ``name``."""
        for n, v in self._lines:
            if n.lower() == name.lower():
                return v
        return None


@dataclass
class RequestView:
    """A request as the signature library sees it: method, absolute URL, header lines."""

    method: str
    url: str
    headers: HeaderLines


@dataclass
class ResponseView:
    """A response and the request it answers."""

    status_code: int
    headers: HeaderLines
    request: RequestView


def _resolver(keys: Mapping[str, bytes]) -> MappingKeyResolver:
    return MappingKeyResolver(public_keys=keys, private_keys=keys)


def sign_request(
    request: RequestView, body: bytes, credentials: Credentials, *, nonce: str
) -> None:
    """Add ``Content-Digest``, ``Signature-Input`` and ``Signature`` to ``request``."""
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=_resolver({credentials.key_id: credentials.secret}),
    )
    signer.sign(
        request,
        key_id=credentials.key_id,
        nonce=nonce,
        label=REQUEST_LABEL,
        tag=REQUEST_TAG,
        covered_component_ids=REQUEST_COMPONENTS,
        body=body,
    )


def _verify(
    message: RequestView | ResponseView,
    body: bytes,
    keys: Mapping[str, bytes],
    *,
    tag: str,
    label: str,
    components: tuple[str, ...],
) -> tuple[str, str | None]:
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_resolver(keys)
    )
    try:
        results = verifier.verify(
            message,
            max_age=MAX_AGE,
            expect_tag=tag,
            expect_label=label,
            require_components=(*components, "content-digest"),
            body=body,
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError, KeyError) as exc:
        # InvalidSignature is an HTTPMessageSignaturesException; the others come from headers
        # too malformed for the parser to say more.
        raise SignatureRefused(str(exc) or type(exc).__name__) from exc
    (result,) = results
    nonce = result.parameters.get("nonce")
    return str(result.parameters["keyid"]), None if nonce is None else str(nonce)


def verify_request(
    request: RequestView, body: bytes, keys: Mapping[str, bytes]
) -> tuple[str, str | None]:
    """Check a request's signature against the known ``keys`` (key ID to secret); the key ID
    and nonce it was signed with. Raises :class:`SignatureRefused`."""
    return _verify(
        request,
        body,
        keys,
        tag=REQUEST_TAG,
        label=REQUEST_LABEL,
        components=REQUEST_COMPONENTS,
    )


def sign_response(response: ResponseView, body: bytes, credentials: Credentials) -> None:
    """Sign ``response`` (bound to the signature of ``response.request``)."""
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=_resolver({credentials.key_id: credentials.secret}),
    )
    signer.sign(
        response,
        key_id=credentials.key_id,
        label=RESPONSE_LABEL,
        tag=RESPONSE_TAG,
        covered_component_ids=RESPONSE_COMPONENTS,
        body=body,
    )


def verify_response(response: ResponseView, body: bytes, credentials: Credentials) -> None:
    """Check that ``response`` was signed by the provider sharing ``credentials``, for this
    very request, over this body. Raises :class:`SignatureRefused`."""
    key_id, _ = _verify(
        response,
        body,
        {credentials.key_id: credentials.secret},
        tag=RESPONSE_TAG,
        label=RESPONSE_LABEL,
        components=RESPONSE_COMPONENTS,
    )
    if key_id != credentials.key_id:  # the resolver knows one key; belt and braces
        raise SignatureRefused("signed with another key")
