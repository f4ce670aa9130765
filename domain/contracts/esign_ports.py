"""What the contracts context needs from outside: an e-signature service.

An **envelope** carries one document to its signers (the borrower, the core enterprise, the
funder), who sign it one after another in their ``order``. The service verifies each signer's
identity before they sign, and announces what happens (a signer signed or declined, the
envelope completed, was declined or expired) as :class:`EnvelopeEvent` s sent to the
envelope's callback URL; the state can also be read back (:meth:`ESignature.envelope`) to
reconcile a missed event.

The port is a :class:`typing.Protocol`. A call returns a frozen result or raises one of the
typed errors below, so a caller (a job) decides by type alone whether to retry
(:attr:`ESignatureError.retryable`) or record a final failure. An adapter makes one attempt per
call: retries, backoff and their bounds belong to the job calling it. A retried creation sends
the same :attr:`EnvelopeRequest.idempotency_key`, so it gets the first envelope back instead of
a second one.

Pure: no I/O, no provider names, no HTTP.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = [
    "Document",
    "ESignature",
    "ESignatureAnswerNotAuthentic",
    "ESignatureError",
    "ESignatureTimeout",
    "ESignatureUnavailable",
    "Envelope",
    "EnvelopeEvent",
    "EnvelopeNotFound",
    "EnvelopeRejected",
    "EnvelopeRequest",
    "EnvelopeStatus",
    "EventType",
    "MalformedESignatureAnswer",
    "SignedDocument",
    "Signer",
    "SignerRequest",
    "SignerRole",
    "SignerStatus",
    "sha256_hex",
]


def sha256_hex(content: bytes) -> str:
    """Lower-case hex SHA-256 of ``content`` (how documents are named by their hash)."""
    return hashlib.sha256(content).hexdigest()


# -- errors -------------------------------------------------------------------------------------


class ESignatureError(Exception):
    """A call to the e-signature service gave no usable answer.

    ``request_id`` is the ID the call was sent with (``None`` when nothing was sent), so a
    failure can be found in the service's logs.
    """

    #: Whether the same call may succeed later (the job retries it, within its bound).
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, request_id: str | None = None):
        super().__init__(message)
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only fields do not survive the default (positional) pickling, and a
        # failure may cross a process boundary on its way to the job that records it.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[ESignatureError], message: str, fields: dict[str, Any]) -> ESignatureError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


class ESignatureTimeout(ESignatureError):
    """No whole answer within the configured time (connecting, sending or reading). The
    envelope may have been created all the same: retry with the same idempotency key."""


class ESignatureUnavailable(ESignatureError):
    """The service could not be reached or answered with a server error (5xx)."""

    def __init__(self, message: str, *, request_id: str | None = None, status: int | None = None):
        super().__init__(message, request_id=request_id)
        #: The HTTP status, or ``None`` when no answer arrived (refused or reset connection).
        self.status = status


class MalformedESignatureAnswer(ESignatureError):
    """An answer arrived but is not what the protocol promises (shape, types, values, or
    signers other than the ones asked for). Retryable: a bad deploy is usually rolled back,
    and the job's bound stops it."""


class ESignatureAnswerNotAuthentic(MalformedESignatureAnswer):
    """The answer's signature is missing, invalid, stale or not for this request: its content
    may have been changed on the way and is not used."""


class EnvelopeRejected(ESignatureError):
    """The service refused the request (4xx): wrong credentials, an invalid signer ID number,
    a document whose hash does not match. Sending it again unchanged gets the same answer."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, request_id: str | None = None, status: int, code: str):
        super().__init__(message, request_id=request_id)
        self.status = status
        #: The service's reason, e.g. ``UNAUTHENTICATED``, ``INVALID_ID_NUMBER``.
        self.code = code


class EnvelopeNotFound(EnvelopeRejected):
    """The service knows no envelope of that ID (for this account)."""


# -- requests -----------------------------------------------------------------------------------


class SignerRole(StrEnum):
    """Which party of the deal signs."""

    BORROWER = "BORROWER"
    CORE_ENTERPRISE = "CORE_ENTERPRISE"
    FUNDER = "FUNDER"


@dataclass(frozen=True, slots=True)
class Document:
    """The document to be signed (a PDF, usually), named by its SHA-256."""

    filename: str
    content: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the content."""
        return sha256_hex(self.content)


@dataclass(frozen=True, slots=True)
class SignerRequest:
    """One signer: their role, registered name, ID number (a resident ID for a person, a
    unified social credit code for an enterprise) and place in the signing order (1 signs
    first)."""

    role: SignerRole
    name: str
    id_number: str = field(repr=False)
    order: int


@dataclass(frozen=True, slots=True)
class EnvelopeRequest:
    """An envelope to send: one document, its signers, where events go, and the caller's own
    reference for it (e.g. the deal), which every event carries back."""

    document: Document
    signers: tuple[SignerRequest, ...]
    callback_url: str
    reference: str
    #: The same key gets the same envelope back instead of a second one (a retried creation).
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if not self.signers:
            raise ValueError("an envelope needs at least one signer")
        orders = [s.order for s in self.signers]
        if any(o < 1 for o in orders) or len(set(orders)) != len(orders):
            raise ValueError("signing orders must be distinct and start from 1")
        if not self.reference.strip():
            raise ValueError("an envelope needs a reference")

    @property
    def signers_in_order(self) -> tuple[SignerRequest, ...]:
        """The signers as they sign, first to last."""
        return tuple(sorted(self.signers, key=lambda s: s.order))


# -- answers ------------------------------------------------------------------------------------


class EnvelopeStatus(StrEnum):
    """Where an envelope stands."""

    #: Out for signing; some signers have yet to sign.
    SENT = "SENT"
    #: Every signer signed; the signed document exists.
    COMPLETED = "COMPLETED"
    #: A signer declined; nobody after them is asked.
    DECLINED = "DECLINED"
    #: The signing window closed before every signer signed.
    EXPIRED = "EXPIRED"
    #: The sender withdrew it (:meth:`ESignature.void_envelope`); nobody more is asked.
    VOIDED = "VOIDED"

    @property
    def final(self) -> bool:
        """Nothing more happens to the envelope."""
        return self is not EnvelopeStatus.SENT


class SignerStatus(StrEnum):
    """Where one signer stands."""

    PENDING = "PENDING"
    SIGNED = "SIGNED"
    DECLINED = "DECLINED"


@dataclass(frozen=True, slots=True)
class Signer:
    """A signer as the service holds them."""

    signer_id: str
    role: SignerRole
    order: int
    #: Where the signer signs (sent to them by the service, or shown by us).
    signing_url: str
    status: SignerStatus
    #: The service verified the signer's identity (it does so before they may sign).
    identity_verified: bool = False
    signed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """An envelope as the service holds it; its signers in signing order."""

    envelope_id: str
    #: The ID the call that returned it was sent with.
    request_id: str
    reference: str
    status: EnvelopeStatus
    signers: tuple[Signer, ...]
    #: SHA-256 of the document as sent.
    document_sha256: str
    #: SHA-256 of the signed document, once the envelope is completed.
    signed_document_sha256: str | None = None

    @property
    def next_signer(self) -> Signer | None:
        """Whose turn it is, while the envelope is out for signing."""
        if self.status is not EnvelopeStatus.SENT:
            return None
        return next((s for s in self.signers if s.status is SignerStatus.PENDING), None)


class EventType(StrEnum):
    """What an event announces."""

    SIGNER_SIGNED = "signer.signed"
    SIGNER_DECLINED = "signer.declined"
    ENVELOPE_COMPLETED = "envelope.completed"
    ENVELOPE_DECLINED = "envelope.declined"
    ENVELOPE_EXPIRED = "envelope.expired"

    @property
    def about_a_signer(self) -> bool:
        """The event names the signer it is about."""
        return self in (EventType.SIGNER_SIGNED, EventType.SIGNER_DECLINED)

    @property
    def final_status(self) -> EnvelopeStatus | None:
        """The envelope's final status this event announces, if it announces one."""
        return {
            EventType.ENVELOPE_COMPLETED: EnvelopeStatus.COMPLETED,
            EventType.ENVELOPE_DECLINED: EnvelopeStatus.DECLINED,
            EventType.ENVELOPE_EXPIRED: EnvelopeStatus.EXPIRED,
        }.get(self)


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """The document with every signature applied, as the completion event carries it. Its
    hash has been checked against its content."""

    sha256: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class EnvelopeEvent:
    """One event the service announced. ``event_id`` is unique per event and repeated when the
    same event is delivered again: the receiver keeps it to apply each event once. Events may
    arrive out of order; ``occurred_at`` and the envelope's state tell what happened when."""

    event_id: str
    type: EventType
    envelope_id: str
    #: The caller's reference of the envelope (from :attr:`EnvelopeRequest.reference`).
    reference: str
    occurred_at: datetime
    #: The signer a ``signer.*`` event is about (``None`` for ``envelope.*`` events).
    signer_id: str | None = None
    #: On ``envelope.completed`` only.
    signed_document: SignedDocument | None = None


@runtime_checkable
class ESignature(Protocol):
    """Sends documents for signing and reports on them."""

    async def create_envelope(self, request: EnvelopeRequest) -> Envelope:
        """Send ``request``'s document to its signers; the new envelope (``SENT``, every
        signer ``PENDING``). Raises one of the :class:`ESignatureError` kinds."""
        ...

    async def envelope(self, envelope_id: str) -> Envelope:
        """The envelope's current state (for reconciliation). Raises
        :class:`EnvelopeNotFound` for an unknown ID, or another :class:`ESignatureError`."""
        ...

    async def signed_document(self, envelope_id: str) -> SignedDocument:
        """The signed document of a COMPLETED envelope (for reconciliation: the completion
        event carries it too), its hash checked against its content. Raises
        :class:`EnvelopeNotFound`, :class:`EnvelopeRejected` (``NOT_COMPLETED``) or another
        :class:`ESignatureError`."""
        ...

    async def void_envelope(self, envelope_id: str, reason: str) -> Envelope:
        """Withdraw an envelope that is still out for signing: VOIDED, nobody more is asked
        to sign, and no more events follow. Voiding a VOIDED envelope answers it again.
        Raises :class:`EnvelopeRejected` (``ENVELOPE_FINAL``) for one completed, declined or
        expired meanwhile, :class:`EnvelopeNotFound`, or another :class:`ESignatureError`."""
        ...
