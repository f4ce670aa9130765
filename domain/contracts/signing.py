"""E-signature of a contract: the envelope's creation (a worker's job) and the service's
callbacks (webhook handlers).

1. ``send_for_signing`` (``domain.contracts.service``) leaves the contract SENT with its
   signers PENDING and the deal SIGNING, and enqueues :func:`send_envelope`.
2. :func:`send_envelope` (the worker): the contract is read (the row is the truth), its PDF
   read from the document store, and the service asked to create the envelope outside any
   transaction, with the contract's ID as the idempotency key and the reference, so a retried
   creation gets the first envelope back. The envelope's ID and each signer's ID are recorded.
   A retryable failure is retried after a backoff, at most :data:`MAX_ATTEMPTS` deliveries
   (the message's own count bounds them); a refusal is final and raised as an alert event.
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
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.contracts import policy, repository
from domain.contracts.esign_ports import (
    Document,
    EnvelopeEvent,
    EnvelopeRejected,
    EnvelopeRequest,
    ESignature,
    ESignatureError,
    SignerRequest,
    SignerRole,
)
from domain.contracts.models import Contract, ContractStatus
from domain.deals import repository as deals_repository
from domain.deals import service as deals
from domain.deals.models import Deal, DealStatus
from domain.events import repository as events
from domain.kernel.actor import SYSTEM
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.storage import DocumentStorage
from domain.persistence.constraints import refusing
from domain.pledges import service as pledges

__all__ = [
    "MAX_ATTEMPTS",
    "SendEnvelopeResult",
    "apply_completed",
    "apply_declined",
    "apply_declined_signer",
    "apply_expired",
    "apply_signer_signed",
    "send_envelope",
    "signed_documents",
]

#: How many deliveries of ``send_envelope`` may ask the service before it gives up.
MAX_ATTEMPTS: Final = 8
_PDF: Final = "application/pdf"

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class _SignedDocuments:
    """Where the callbacks keep signed documents: the process's document store, set by the
    edge that receives them (the API, at start-up)."""

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
    already, or the contract is no longer SENT), ``SKIPPED`` (not found), ``RETRY`` (a
    retryable failure; try again), ``FAILED`` (refused or out of attempts)."""

    outcome: str
    envelope_id: str | None = None


async def send_envelope(
    unit_of_work: UnitOfWork,
    esign: ESignature,
    store: DocumentStorage,
    *,
    tenant_id: uuid.UUID,
    contract_id: uuid.UUID,
    callback_url: str,
    attempt: int = 1,
    reference_suffix: str = "",
    timeout_seconds: float = 30.0,
) -> SendEnvelopeResult:
    """Create the envelope of SENT contract ``contract_id`` (see the module's docstring);
    idempotent: a contract whose envelope is recorded, or no longer SENT, is left alone.
    ``attempt`` is this delivery's number (1-based). ``reference_suffix`` is appended to the
    reference (after a space), for the service's own words."""
    async with unit_of_work() as session:
        contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
        if contract is None:
            return SendEnvelopeResult("SKIPPED")
        if contract.status is not ContractStatus.SENT or contract.envelope_id is not None:
            return SendEnvelopeResult("DONE", contract.envelope_id)
        specs = policy.signer_specs(contract.terms)
        document_key = contract.document_key
        version = contract.version
        deal_id = contract.deal_id
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
        reference=f"{contract_id} {reference_suffix}".strip(),
        idempotency_key=str(contract_id),
    )
    try:
        async with asyncio.timeout(timeout_seconds):
            envelope = await esign.create_envelope(request)
    except (ESignatureError, TimeoutError) as error:
        final = isinstance(error, EnvelopeRejected) or attempt >= MAX_ATTEMPTS
        if not final:
            return SendEnvelopeResult("RETRY")
        async with unit_of_work() as session:
            # The alert: an operator looks at the contract (the deal stays SIGNING).
            await events.append(
                session,
                tenant_id=tenant_id,
                type="deal.envelope_failed",
                aggregate_type="Deal",
                aggregate_id=deal_id,
                payload={
                    "contract_id": str(contract_id),
                    "attempts": attempt,
                    "reason": getattr(error, "code", type(error).__name__),
                },
            )
        return SendEnvelopeResult("FAILED")
    ids = {(s.role.value, s.order): s.signer_id for s in envelope.signers}
    async with unit_of_work() as session:
        contract = await repository.lock_by_id(session, contract_id, tenant_id=tenant_id)
        if contract is None:  # pragma: no cover - contracts are never deleted
            return SendEnvelopeResult("SKIPPED")
        if contract.envelope_id is None:
            contract.envelope_id = envelope.envelope_id
        # A callback may have come first: keep what it recorded, add the signers' IDs.
        contract.signers = [
            {**s, "signer_id": s.get("signer_id") or ids.get((s["role"], s["order"]))}
            for s in contract.signers
        ]
    return SendEnvelopeResult("SENT", envelope.envelope_id)


# -- callbacks ----------------------------------------------------------------------------------


async def _contract_of(session: AsyncSession, event: EnvelopeEvent) -> Contract:
    """The contract the event's reference names, locked. A reference not ours, or an envelope
    other than the contract's, is refused for good."""
    contract_id = policy.parse_reference(event.reference)
    if contract_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such contract", "reference")
    contract = await repository.lock_by_id(session, contract_id)
    if contract is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such contract", "reference")
    if contract.envelope_id is not None and contract.envelope_id != event.envelope_id:
        raise DomainError(ErrorCode.INVALID, "another envelope than the contract's", "envelopeId")
    if contract.status is ContractStatus.DRAFT or contract.status is ContractStatus.VOID:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "the contract was not sent for signature", "reference"
        )
    contract.envelope_id = event.envelope_id
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
    if deal.status is DealStatus.SIGNING:
        now = await transaction_now(session)
        async with refusing(session, deals.deal_refusals(deal.channel)):
            deal.status = DealStatus.EXPIRED
            deal.updated_at = now
            await session.flush()
        released = await deals.release_collateral(session, deal)
        await deals.record_transition(
            session,
            SYSTEM,
            deal,
            "expire",
            from_status=DealStatus.SIGNING,
            contract_id=str(contract.id),
            envelope_id=event.envelope_id,
            released=released or None,
        )
    return None
