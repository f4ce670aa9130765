"""E-signature of a contract: the envelope's creation (a worker's job) and the service's
callbacks (webhook handlers).

1. ``send_for_signing`` (``domain.contracts.service``) leaves the contract SENT with its
   signers PENDING and the deal SIGNING, and enqueues :func:`send_envelope`.
2. :func:`send_envelope` (the worker): the contract is claimed for a lease (its attempt
   counted on the row, ``envelope_attempts``), its PDF read from the document store, and the
   service asked outside any transaction, with the sending's idempotency key (the contract's
   ID, ``:resend:<n>`` after it for the n-th resend) and reference (``<id>`` or ``<id>#<n>``),
   so a retried creation gets the first envelope back. The envelope's ID and each signer's ID
   are recorded. A retryable failure is retried after a backoff recorded on the row, at most
   ``envelope_max_attempts`` (:data:`MAX_ATTEMPTS`) attempts; a refusal, or the last failed
   attempt, leaves the contract FAILED with the alert ``deal.envelope_failed`` (the deal stays
   SIGNING, not disbursable; the funder may send it again).
3. The callbacks (in the platform scope of the webhook inbox), each finding the contract by
   its reference, locked:

   * ``signer.signed``: the signer's progress (status, time); no transition.
   * ``envelope.completed``: the signed document (its hash checked by the callback's reader)
     is stored, the contract SIGNED with the signed document's hash and key, every signer
     SIGNED, the deal SIGNING -> SIGNED.
   * ``envelope.declined``: the contract DECLINED; the deal stays SIGNING (it cannot be
     disbursed: disbursement needs SIGNED) with the outbox event ``deal.signature_declined``.
     The funder may withdraw it, or prepare and send again once the terms change.
   * ``envelope.expired``: the contract EXPIRED and the deal SIGNING -> EXPIRED, its
     collateral released (as an approval that lapses).

   A callback may come twice (``"duplicate"``), out of order (a ``signer.signed`` after the
   completion only fills in the signer's time), or before the worker recorded the envelope
   (the reference is ours, so it applies; a ``signer.*`` event whose signer is not known yet is
   retried by the service). A final event for a contract already final otherwise is
   ``"superseded"``.
4. Recovery (the sweeper): a SENT contract whose creation's lease or backoff ran out without
   an answer recorded is sent again (:func:`unsent_envelopes`, :func:`resend`); one whose
   envelope has not been heard of for the reconciliation delay is read back
   (:func:`reconcile_envelope`) and what the service says is applied by the handlers above,
   so a missed completion signs the deal once and a late callback is a duplicate.
5. Resend: ``send_for_signing`` sends a DECLINED or FAILED contract again (a new envelope,
   ``resends`` + 1); events of an earlier envelope are then refused.
6. The signing deadline (:func:`expire_signing`): a SIGNING deal past its approval's
   ``expires_at`` expires as an expired envelope does, and its envelope is voided
   (:func:`void_envelope`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.contracts import policy, repository
from domain.contracts.esign_ports import (
    Document,
    Envelope,
    EnvelopeEvent,
    EnvelopeNotFound,
    EnvelopeRejected,
    EnvelopeRequest,
    EnvelopeStatus,
    ESignature,
    ESignatureError,
    EventType,
    MalformedESignatureAnswer,
    SignedDocument,
    Signer,
    SignerRequest,
    SignerRole,
    SignerStatus,
)
from domain.contracts.models import Contract, ContractStatus
from domain.contracts.service import SEND_ENVELOPE_QUEUE, send_envelope_job
from domain.deals import repository as deals_repository
from domain.deals import service as deals
from domain.deals.models import Deal, DealStatus
from domain.events import repository as events
from domain.kernel.actor import SYSTEM
from domain.kernel.clock import transaction_now, utcnow
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.storage import DocumentStorage
from domain.persistence.after_commit import Job, enqueue_after_commit
from domain.persistence.constraints import refusing
from domain.pledges import service as pledges
from domain.reviews import repository as reviews
from domain.reviews.models import ReviewStage

__all__ = [
    "DEADLINE_REASON",
    "LEASE",
    "MAX_ATTEMPTS",
    "RECONCILE_ENVELOPE_ACTOR",
    "VOID_ENVELOPE_ACTOR",
    "DeadlineOutcome",
    "SendEnvelopeResult",
    "apply_completed",
    "apply_declined",
    "apply_declined_signer",
    "apply_expired",
    "apply_signer_signed",
    "expire_signing",
    "reconcile",
    "reconcile_envelope",
    "reconcile_envelope_job",
    "resend",
    "send_envelope",
    "signed_documents",
    "signing_past_deadline",
    "unheard_envelopes",
    "unsent_envelopes",
    "void_envelope",
    "void_envelope_job",
]

#: Attempts at creating one envelope before the contract is recorded FAILED.
MAX_ATTEMPTS: Final = 8
#: How long one attempt may hold a contract before another delivery may take it (longer than
#: the job's own timeout on the call).
LEASE: Final = timedelta(seconds=60)
_PDF: Final = "application/pdf"

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class _SignedDocuments:
    """Where the callbacks keep signed documents: the process's document store, set by the
    edge that receives them (the API, at start-up; a worker that reconciles, when wired)."""

    store: DocumentStorage | None = None

    def get(self) -> DocumentStorage:
        if self.store is None:
            raise RuntimeError("no document store for signed documents")
        return self.store


#: The document store of the completion callback (set at start-up).
signed_documents = _SignedDocuments()


@dataclass(frozen=True, slots=True)
class SendEnvelopeResult:
    """What one delivery of the job did: ``SENT`` (envelope recorded), ``DONE`` (recorded
    already, or the contract is no longer SENT), ``SKIPPED`` (not found, or held by another
    delivery), ``NOT_DUE`` (its backoff or another attempt's lease runs), ``RETRY`` (a
    retryable failure; try again in ``retry_in_ms``), ``FAILED`` (refused or out of attempts:
    the contract is FAILED). ``attempt`` is the row's count of attempts."""

    outcome: str
    envelope_id: str | None = None
    retry_in_ms: int | None = None
    attempt: int | None = None


def _ms(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000) + 1)


async def _give_up(
    session: AsyncSession, contract: Contract, *, reason: str, now: datetime
) -> None:
    """The contract FAILED (its envelope could not be created), with the alert
    ``deal.envelope_failed``; the deal stays SIGNING, and the funder may send it again."""
    contract.status = ContractStatus.FAILED
    contract.failure_reason = reason[:200]
    contract.envelope_next_attempt_at = None
    await session.flush()
    await events.append(
        session,
        tenant_id=contract.tenant_id,
        type="deal.envelope_failed",
        aggregate_type="Deal",
        aggregate_id=contract.deal_id,
        payload={
            "contract_id": str(contract.id),
            "attempts": contract.envelope_attempts,
            "resends": contract.resends,
            "reason": reason[:200],
            "at": now.isoformat(),
        },
    )


def _same_sending(contract: Contract | None, attempt: int, resends: int) -> bool:
    """The contract is still waiting for the envelope this attempt asked for."""
    return (
        contract is not None
        and contract.status is ContractStatus.SENT
        and contract.envelope_id is None
        and contract.resends == resends
        and contract.envelope_attempts == attempt
    )


async def send_envelope(
    unit_of_work: UnitOfWork,
    esign: ESignature,
    store: DocumentStorage,
    *,
    tenant_id: uuid.UUID,
    contract_id: uuid.UUID,
    callback_url: str,
    backoff_ms: Callable[[int], int],
    reference_suffix: str = "",
    clock: Callable[[], datetime] = utcnow,
    timeout_seconds: float = 30.0,
) -> SendEnvelopeResult:
    """One delivery of ``send_envelope``: claim the SENT contract ``contract_id`` for a lease
    (its attempt counted on the row), ask the service outside any transaction, record the
    envelope (see the module's docstring). Idempotent: a contract whose envelope is recorded,
    or no longer SENT, is left alone; a contract another attempt holds is not asked about
    again before its lease runs out. ``reference_suffix`` is appended to the reference
    (after a space), for the service's own words."""
    async with unit_of_work() as session:
        contract = await repository.lock_by_id(
            session, contract_id, tenant_id=tenant_id, skip_locked=True
        )
        if contract is None:
            return SendEnvelopeResult("SKIPPED")
        now = clock()
        decision = policy.claim_envelope(
            contract.status.value,
            contract.envelope_id,
            attempts=contract.envelope_attempts,
            max_attempts=contract.envelope_max_attempts,
            due=contract.envelope_next_attempt_at,
            now=now,
        )
        if decision is policy.EnvelopeClaim.DONE:
            return SendEnvelopeResult("DONE", contract.envelope_id)
        if decision is policy.EnvelopeClaim.EXHAUSTED:
            # The last attempt's worker died before it could record the outcome.
            await _give_up(
                session,
                contract,
                reason=f"no envelope after {contract.envelope_attempts} attempts",
                now=now,
            )
            return SendEnvelopeResult("FAILED", attempt=contract.envelope_attempts)
        if decision is policy.EnvelopeClaim.NOT_DUE:
            assert contract.envelope_next_attempt_at is not None
            return SendEnvelopeResult(
                "NOT_DUE", retry_in_ms=_ms(contract.envelope_next_attempt_at - now)
            )
        contract.envelope_attempts += 1
        contract.envelope_next_attempt_at = now + LEASE
        attempt = contract.envelope_attempts
        max_attempts = contract.envelope_max_attempts
        resends = contract.resends
        specs = policy.signer_specs(contract.terms)
        document_key = contract.document_key
        version = contract.version
    content = b"".join([chunk async for chunk in store.open(document_key)])
    request = EnvelopeRequest(
        document=Document(filename=f"contract-{contract_id}-v{version}.pdf", content=content),
        signers=tuple(
            SignerRequest(
                role=SignerRole(s.role), name=s.name, id_number=s.id_number, order=s.order
            )
            for s in specs
        ),
        callback_url=callback_url,
        reference=policy.envelope_reference(contract_id, resends, reference_suffix),
        # The same sending gets the same envelope back; a resend gets a new one.
        idempotency_key=policy.envelope_key(contract_id, resends),
    )
    try:
        async with asyncio.timeout(timeout_seconds):
            envelope = await esign.create_envelope(request)
    except (ESignatureError, TimeoutError) as error:
        refused = isinstance(error, EnvelopeRejected)
        wait = None if refused or attempt >= max_attempts else backoff_ms(attempt)
        now = clock()
        async with unit_of_work() as session:
            contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
            if not _same_sending(contract, attempt, resends):
                return SendEnvelopeResult("DONE")
            assert contract is not None
            contract.envelope_last_error = policy.error_text(error)
            if wait is None:
                reason = (
                    f"refused: {getattr(error, 'code', 'REJECTED')}"
                    if refused
                    else f"no envelope after {attempt} attempts: {type(error).__name__}"
                )
                await _give_up(session, contract, reason=reason, now=now)
            else:
                contract.envelope_next_attempt_at = now + timedelta(milliseconds=wait)
        if wait is None:
            return SendEnvelopeResult("FAILED", attempt=attempt)
        return SendEnvelopeResult("RETRY", retry_in_ms=wait, attempt=attempt)
    ids = {(s.role.value, s.order): s.signer_id for s in envelope.signers}
    async with unit_of_work() as session:
        contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
        if contract is None:  # pragma: no cover - contracts are never deleted
            return SendEnvelopeResult("SKIPPED")
        if contract.resends != resends:  # pragma: no cover - a resend needs this one final
            return SendEnvelopeResult("DONE", contract.envelope_id)
        if contract.envelope_id is None:
            contract.envelope_id = envelope.envelope_id
        contract.envelope_next_attempt_at = None
        contract.envelope_last_error = None
        contract.envelope_seen_at = clock()
        # A callback may have come first: keep what it recorded, add the signers' IDs.
        contract.signers = [
            {**s, "signer_id": s.get("signer_id") or ids.get((s["role"], s["order"]))}
            for s in contract.signers
        ]
    return SendEnvelopeResult("SENT", envelope.envelope_id, attempt=attempt)


# -- callbacks ----------------------------------------------------------------------------------


async def _contract_of(session: AsyncSession, event: EnvelopeEvent) -> Contract:
    """The contract the event's reference names, locked. A reference not ours, or an envelope
    other than the contract's, is refused for good."""
    sending = policy.parse_sending(event.reference)
    if sending is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such contract", "reference")
    contract_id, resends = sending
    contract = await repository.lock_by_id(session, contract_id)
    if contract is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such contract", "reference")
    if resends != contract.resends:
        # An envelope of an earlier sending (the contract was sent again since).
        raise DomainError(
            ErrorCode.INVALID, "an envelope the contract was sent again after", "reference"
        )
    if contract.envelope_id is not None and contract.envelope_id != event.envelope_id:
        raise DomainError(ErrorCode.INVALID, "another envelope than the contract's", "envelopeId")
    if contract.status is ContractStatus.DRAFT or contract.status is ContractStatus.VOID:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "the contract was not sent for signature", "reference"
        )
    contract.envelope_id = event.envelope_id
    contract.envelope_next_attempt_at = None
    contract.envelope_seen_at = await transaction_now(session)
    return contract


async def _locked_deal(session: AsyncSession, contract: Contract) -> Deal:
    deal = await deals_repository.deal(session, contract.deal_id, for_update=True)
    if deal is None:  # pragma: no cover - the platform scope sees every deal
        raise DomainError(ErrorCode.NOT_FOUND, "no such deal", "reference")
    return deal


def _signers(contract: Contract, update: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    contract.signers = [update(dict(s)) for s in contract.signers]


async def apply_signer_signed(session: AsyncSession, event: EnvelopeEvent) -> str | None:
    """``signer.signed``: that signer SIGNED at the event's time; no transition.
    ``"duplicate"`` when their time is recorded already."""
    contract = await _contract_of(session, event)
    known = [s for s in contract.signers if s.get("signer_id") == event.signer_id]
    if not known:
        # The worker has not recorded the signers' IDs yet: the service retries.
        raise LookupError(f"signer {event.signer_id} of contract {contract.id} not known (yet)")
    if known[0].get("signed_at") is not None:
        return "duplicate"
    at = event.occurred_at.isoformat()

    def signed(s: dict[str, Any]) -> dict[str, Any]:
        if s.get("signer_id") == event.signer_id:
            s.update(status="SIGNED", signed_at=at)
        return s

    _signers(contract, signed)
    await session.flush()
    return None


def _final(contract: Contract, wanted: ContractStatus) -> str | None:
    """``"duplicate"`` when the contract is ``wanted`` already, ``"superseded"`` when it is
    final otherwise, ``None`` when it is still SENT."""
    if contract.status is wanted:
        return "duplicate"
    if contract.status is not ContractStatus.SENT:
        return "superseded"
    return None


async def apply_completed(session: AsyncSession, event: EnvelopeEvent) -> str | None:
    """``envelope.completed``: the signed document stored with its hash, the contract and
    every signer SIGNED, the deal SIGNING -> SIGNED."""
    contract = await _contract_of(session, event)
    said = _final(contract, ContractStatus.SIGNED)
    if said is not None:
        return said
    if event.signed_document is None:
        raise DomainError(ErrorCode.INVALID, "a completion without its document", "document")
    stored = await signed_documents.get().put(event.signed_document.content, content_type=_PDF)
    deal = await _locked_deal(session, contract)
    now = await transaction_now(session)
    contract.status = ContractStatus.SIGNED
    contract.signed_at = event.occurred_at
    contract.signed_sha256 = event.signed_document.sha256
    contract.signed_document_key = stored.key
    _signers(contract, lambda s: {**s, "status": "SIGNED"})
    await session.flush()
    if deal.status is DealStatus.SIGNING:
        async with refusing(session, deals.deal_refusals(deal.channel)):
            deal.status = DealStatus.SIGNED
            deal.updated_at = now
            await session.flush()
        await deals.record_transition(
            session,
            SYSTEM,
            deal,
            "sign",
            from_status=DealStatus.SIGNING,
            contract_id=str(contract.id),
            envelope_id=event.envelope_id,
            signed_sha256=event.signed_document.sha256,
        )
        # A pledge deal's receipts are filed at the registry from here on (the jobs go
        # after commit); disbursement waits for the filings and the warehouse's custody.
        await pledges.request_pledges(session, deal)
    return None


async def apply_declined(session: AsyncSession, event: EnvelopeEvent) -> str | None:
    """``envelope.declined``: the contract DECLINED; the deal stays SIGNING, undisbursable,
    with the outbox event ``deal.signature_declined``."""
    contract = await _contract_of(session, event)
    said = _final(contract, ContractStatus.DECLINED)
    if said is not None:
        return said
    contract.status = ContractStatus.DECLINED
    await session.flush()
    await events.append(
        session,
        tenant_id=contract.tenant_id,
        type="deal.signature_declined",
        aggregate_type="Deal",
        aggregate_id=contract.deal_id,
        payload={"contract_id": str(contract.id), "envelope_id": event.envelope_id},
    )
    return None


async def apply_declined_signer(session: AsyncSession, event: EnvelopeEvent) -> str | None:
    """``signer.declined``: that signer DECLINED (the envelope's own event follows)."""
    contract = await _contract_of(session, event)
    if not any(s.get("signer_id") == event.signer_id for s in contract.signers):
        raise LookupError(f"signer {event.signer_id} of contract {contract.id} not known (yet)")

    def declined(s: dict[str, Any]) -> dict[str, Any]:
        if s.get("signer_id") == event.signer_id:
            s["status"] = "DECLINED"
        return s

    _signers(contract, declined)
    await session.flush()
    return None


async def _expire_deal(
    session: AsyncSession,
    contract: Contract,
    deal: Deal,
    *,
    envelope_id: str | None,
    deadline: datetime | None = None,
) -> bool:
    """The deal SIGNING -> EXPIRED with its collateral released (an envelope that expired, or
    the signing deadline); whether it moved (a deal no longer SIGNING is left alone)."""
    if deal.status is not DealStatus.SIGNING:
        return False
    now = await transaction_now(session)
    async with refusing(session, deals.deal_refusals(deal.channel)):
        deal.status = DealStatus.EXPIRED
        deal.updated_at = now
        await session.flush()
    released = await deals.release_collateral(session, deal)
    # Expired by the signing deadline rather than by the service.
    extra: dict[str, str] = (
        {} if deadline is None else {"reason": "signing_deadline", "deadline": deadline.isoformat()}
    )
    await deals.record_transition(
        session,
        SYSTEM,
        deal,
        "expire",
        from_status=DealStatus.SIGNING,
        contract_id=str(contract.id),
        envelope_id=envelope_id,
        released=released or None,
        **extra,
    )
    return True


async def apply_expired(session: AsyncSession, event: EnvelopeEvent) -> str | None:
    """``envelope.expired``: the contract EXPIRED, the deal SIGNING -> EXPIRED with its
    collateral released."""
    contract = await _contract_of(session, event)
    said = _final(contract, ContractStatus.EXPIRED)
    if said is not None:
        return said
    contract.status = ContractStatus.EXPIRED
    await session.flush()
    deal = await _locked_deal(session, contract)
    await _expire_deal(session, contract, deal, envelope_id=event.envelope_id)
    return None


# -- the signing deadline -----------------------------------------------------------------------

#: The actor that voids an envelope at the service, and its queue (declared in ``workers``).
VOID_ENVELOPE_ACTOR: Final = "void_envelope"
#: Why an envelope is voided when its deal's signing deadline passed.
DEADLINE_REASON: Final = "signing deadline passed"


def void_envelope_job(tenant_id: uuid.UUID, contract_id: uuid.UUID) -> Job:
    """The message that makes a worker void a contract's envelope: IDs only."""
    return Job(VOID_ENVELOPE_ACTOR, SEND_ENVELOPE_QUEUE, (str(tenant_id), str(contract_id)))


@dataclass(frozen=True, slots=True)
class DeadlineOutcome:
    """What :func:`expire_signing` did: ``expired`` when it moved the deal to EXPIRED;
    ``void`` when the contract's envelope is to be voided at the service."""

    expired: bool
    void: bool = False


async def expire_signing(session: AsyncSession, deal_id: uuid.UUID) -> DeadlineOutcome:
    """A SIGNING deal past its signing deadline (the approval's ``expires_at``, from the
    product version's approval window) expires as an expired envelope would: its current
    contract EXPIRED (whether SENT, DECLINED or FAILED), the deal EXPIRED with its collateral
    released, and, for an envelope still out, ``void_envelope`` enqueued after commit.

    Exactly once, and safe against a concurrent callback: the contract is locked before the
    deal, in the order the callbacks take them, so a completion applied first leaves the
    deal SIGNED (nothing is expired), and one applied after finds the contract EXPIRED
    (``"superseded"``). A deal not SIGNING, or whose approval still stands, is left alone."""
    found = await deals_repository.deal(session, deal_id)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such deal", "dealId")
    contract = await repository.current(
        session, tenant_id=found.tenant_id, deal_id=deal_id, for_update=True
    )
    deal = await deals_repository.deal(session, deal_id, for_update=True)
    assert deal is not None  # seen just above; deals are never deleted
    if deal.status is not DealStatus.SIGNING or contract is None:
        return DeadlineOutcome(expired=False)
    t, d = deal.tenant_id, deal.id
    latest = await reviews.latest_round(session, tenant_id=t, deal_id=d)
    approval = await reviews.review(
        session, tenant_id=t, deal_id=d, stage=ReviewStage.SECOND, round=latest
    )
    now = await transaction_now(session)
    deadline = None if approval is None else approval.expires_at
    if not policy.signing_deadline_passed(deadline, now):
        return DeadlineOutcome(expired=False)
    assert deadline is not None
    out_for_signing = contract.status is ContractStatus.SENT and contract.envelope_id is not None
    if contract.status in (ContractStatus.SENT, ContractStatus.DECLINED, ContractStatus.FAILED):
        contract.status = ContractStatus.EXPIRED
        contract.envelope_next_attempt_at = None
        await session.flush()
    await _expire_deal(
        session,
        contract,
        deal,
        envelope_id=contract.envelope_id,
        deadline=deadline,
    )
    if out_for_signing:
        enqueue_after_commit(session, void_envelope_job(t, contract.id))
    return DeadlineOutcome(expired=True, void=out_for_signing)


async def void_envelope(
    unit_of_work: UnitOfWork, esign: ESignature, *, tenant_id: uuid.UUID, contract_id: uuid.UUID
) -> str:
    """Void the envelope of a contract EXPIRED by the signing deadline, so that nobody signs
    it any more: ``"VOIDED"``, ``"FINAL"`` (the service had finished it meanwhile: its event
    finds the contract EXPIRED and changes nothing) or ``"SKIPPED"`` (no envelope, or the
    contract is not EXPIRED). A retryable failure of the service raises (the job retries)."""
    async with unit_of_work() as session:
        contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
        if (
            contract is None
            or contract.status is not ContractStatus.EXPIRED
            or contract.envelope_id is None
        ):
            return "SKIPPED"
        envelope_id = contract.envelope_id
    try:
        await esign.void_envelope(envelope_id, DEADLINE_REASON)
    except EnvelopeRejected as refusal:
        if refusal.code == "ENVELOPE_FINAL" or isinstance(refusal, EnvelopeNotFound):
            return "FINAL"
        raise
    return "VOIDED"


# -- reconciliation -----------------------------------------------------------------------------

#: The actor that reads an envelope back from the service, when its callbacks are overdue.
RECONCILE_ENVELOPE_ACTOR: Final = "reconcile_envelope"


def reconcile_envelope_job(tenant_id: uuid.UUID, contract_id: uuid.UUID) -> Job:
    """The message that makes a worker read a SENT contract's envelope back: IDs only."""
    return Job(RECONCILE_ENVELOPE_ACTOR, SEND_ENVELOPE_QUEUE, (str(tenant_id), str(contract_id)))


def _events_of(
    envelope: Envelope, document: SignedDocument | None, at: datetime
) -> list[EnvelopeEvent]:
    """The events the service's callbacks would have carried to bring a contract to
    ``envelope``'s state, in the order they happened. Their IDs are ours (``poll:...``): the
    handlers, not the inbox, make each apply once."""
    out: list[EnvelopeEvent] = []

    def event(kind: EventType, signer: Signer | None = None, **extra: Any) -> EnvelopeEvent:
        suffix = "" if signer is None else f":{signer.signer_id}"
        return EnvelopeEvent(
            event_id=f"poll:{envelope.envelope_id}:{kind.value}{suffix}",
            type=kind,
            envelope_id=envelope.envelope_id,
            reference=envelope.reference,
            occurred_at=(signer.signed_at if signer and signer.signed_at else at),
            signer_id=None if signer is None else signer.signer_id,
            **extra,
        )

    for signer in envelope.signers:
        if signer.status is SignerStatus.SIGNED:
            out.append(event(EventType.SIGNER_SIGNED, signer))
        elif signer.status is SignerStatus.DECLINED:
            out.append(event(EventType.SIGNER_DECLINED, signer))
    if envelope.status is EnvelopeStatus.COMPLETED:
        out.append(event(EventType.ENVELOPE_COMPLETED, signed_document=document))
    elif envelope.status is EnvelopeStatus.DECLINED:
        out.append(event(EventType.ENVELOPE_DECLINED))
    elif envelope.status is EnvelopeStatus.EXPIRED:
        out.append(event(EventType.ENVELOPE_EXPIRED))
    return out


#: The callbacks' handlers, by the event they apply (as ``domain.webhooks.handlers`` has them).
_HANDLERS: Final[
    dict[EventType, Callable[[AsyncSession, EnvelopeEvent], Awaitable[str | None]]]
] = {
    EventType.SIGNER_SIGNED: apply_signer_signed,
    EventType.SIGNER_DECLINED: apply_declined_signer,
    EventType.ENVELOPE_COMPLETED: apply_completed,
    EventType.ENVELOPE_DECLINED: apply_declined,
    EventType.ENVELOPE_EXPIRED: apply_expired,
}


async def reconcile_envelope(
    unit_of_work: UnitOfWork,
    esign: ESignature,
    *,
    tenant_id: uuid.UUID,
    contract_id: uuid.UUID,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Read a SENT contract's envelope back from the service and apply what it says through
    the callbacks' own handlers (a completion stores the signed document and signs the deal,
    once: a callback that comes later is a ``"duplicate"``; a completion applied meanwhile by
    a callback makes this one the duplicate). What was done: ``"SKIPPED"`` (not SENT, or no
    envelope), ``"PENDING"`` (still out for signing: its signers' progress applied, and the
    contract marked heard of, so it is read again only after the reconciliation delay), or
    the final handler's outcome (``"applied"``, ``"duplicate"``, ``"superseded"``,
    ``"refused: <code>"``). The service's errors propagate (the job retries)."""
    async with unit_of_work() as session:
        contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
        if (
            contract is None
            or contract.status is not ContractStatus.SENT
            or contract.envelope_id is None
        ):
            return "SKIPPED"
        envelope_id = contract.envelope_id
    envelope = await esign.envelope(envelope_id)
    document = None
    if envelope.status is EnvelopeStatus.COMPLETED:
        document = await esign.signed_document(envelope_id)
        if document.sha256 != envelope.signed_document_sha256:
            raise MalformedESignatureAnswer(
                "the signed document is not the one the envelope names",
                request_id=envelope.request_id,
            )
    found = _events_of(envelope, document, clock())
    outcome = "PENDING"
    async with unit_of_work() as session:
        for event in found:
            handler = _HANDLERS[event.type]
            try:
                async with session.begin_nested():
                    said = await handler(session, event)
                    await session.flush()
            except DomainError as refusal:
                said = f"refused: {refusal.code}"
            if event.type.final_status is not None:
                outcome = said or "applied"
        if outcome == "PENDING":
            contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
            if contract is not None and contract.status is ContractStatus.SENT:
                contract.envelope_seen_at = clock()
    return outcome


async def unsent_envelopes(
    session: AsyncSession, *, grace: timedelta, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SENT contracts whose envelope's creation was due more than ``grace`` ago and never got
    an answer recorded (a lost message, a worker killed holding the lease):
    ``(tenant_id, contract_id)``. Platform scope."""
    return await repository.unsent_envelopes(session, due_before=utcnow() - grace, limit=limit)


async def unheard_envelopes(
    session: AsyncSession, *, after: timedelta, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SENT contracts with an envelope the service has not been heard of for ``after``:
    ``(tenant_id, contract_id)``. Platform scope."""
    return await repository.unheard_envelopes(session, seen_before=utcnow() - after, limit=limit)


async def signing_past_deadline(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SIGNING deals whose approval lapsed at or before ``now`` (candidates for
    :func:`expire_signing`): ``(tenant_id, deal_id)``. Platform scope."""
    return await repository.signing_past_deadline(session, now=now, limit=limit)


def resend(session: AsyncSession, contracts: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``contracts``' envelope creation asked for again once the session
    commits."""
    for tenant_id, contract_id in contracts:
        enqueue_after_commit(session, send_envelope_job(tenant_id, contract_id))


def reconcile(session: AsyncSession, contracts: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``contracts``' envelope read back once the session commits."""
    for tenant_id, contract_id in contracts:
        enqueue_after_commit(session, reconcile_envelope_job(tenant_id, contract_id))
