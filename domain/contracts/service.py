"""Use cases of contracts: prepare the contract of an APPROVED deal.

:func:`prepare_contract` writes the contract from the approved terms: the parties (the
borrower, the funder and, for order financing, the core enterprise that owes the order), the
amount and rate the second review approved, the deal's term, the product version's repayment
method, fee and penalties, the schedule from a value date computed by the schedule engine on
the approved amount and rate, and the pledged receipts of a pledge. The PDF goes to the
document store first (a rolled-back transaction leaves at most an unreferenced object, never a
row without its bytes); the row keeps its SHA-256 and the store's key.

Versions: the same terms give the same digest, and preparing again returns the current version
unchanged (nothing written). Any changed term gives another digest: the current version is
voided ("terms changed") and version n+1 is written in the same transaction. The deal's status
does not change (sending for signature moves it to SIGNING, later), so the timeline, which
records transitions, is not written; an audit row records each version written.

The deal is locked (``FOR UPDATE``) first, so two preparations of one deal take turns and the
later one sees the earlier's version. Refusals raise :class:`DomainError`; the use case runs
in a savepoint of its own, so a refusal part-way writes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.calendars import service as calendars
from domain.collateral import repository as collateral
from domain.contracts import policy, repository
from domain.contracts.models import Contract, ContractStatus
from domain.contracts.rendering import ContractRenderer, UnrenderableTerms
from domain.contracts.terms import ContractParties, ContractParty, PledgedReceipt, terms_digest
from domain.deals import policy as deal_policy
from domain.deals import repository as deals_repository
from domain.deals import service as deals
from domain.deals.models import Deal, DealStatus
from domain.events import repository as events
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.kernel.storage import DocumentStorage
from domain.loans.policy import ScheduleError, build_schedule
from domain.parties import repository as parties
from domain.persistence.after_commit import Job, enqueue_after_commit
from domain.persistence.atomic import atomic as _atomic
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.products import policy as product_policy
from domain.products import repository as products
from domain.products.models import ProductLine
from domain.reviews import repository as reviews
from domain.reviews.models import ReviewDecision, ReviewStage

__all__ = ["ContractOutcome", "SigningOutcome", "prepare_contract", "send_for_signing"]

_PDF = "application/pdf"


@dataclass(frozen=True, slots=True)
class ContractOutcome:
    """The deal's current contract after :func:`prepare_contract`; ``created`` is False when
    the terms were unchanged and the current version was returned as it was."""

    contract: Contract
    created: bool
    voided: Contract | None = None


def _not_found(what: str, field: str = "dealId") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"no such {what}", field)


def _refusals() -> dict[str, DomainError]:
    # Built per call: a raised refusal carries its cause, so instances are never shared.
    duplicate = DomainError(
        ErrorCode.DUPLICATE, "another contract of this deal was prepared at the same time", "dealId"
    )
    return {
        "uq_contracts_current": duplicate,
        "uq_contracts_version": duplicate,
        "ck_contracts_void_final": DomainError(
            ErrorCode.INVALID_TRANSITION, "a void contract stays void", "dealId"
        ),
    }


async def _load_deal(session: AsyncSession, actor: Actor, deal_id: uuid.UUID) -> Deal:
    """The deal, locked, if it is the actor's funder's: NOT_FOUND otherwise (another funder's
    deal does not exist to its staff, whatever scope the session has)."""
    found = await deals_repository.deal(session, deal_id)
    if found is None or actor.tenant_id is None or found.tenant_id != actor.tenant_id:
        raise _not_found("deal")
    locked = await deals_repository.deal(session, deal_id, for_update=True)
    if locked is None:  # pragma: no cover - the funder may lock what it sees
        raise _not_found("deal")
    return locked


async def _approval(session: AsyncSession, deal: Deal) -> policy.ApprovedTerms | None:
    """The terms the second review of the deal's latest round approved, if it approved."""
    t, d = deal.tenant_id, deal.id
    latest = await reviews.latest_round(session, tenant_id=t, deal_id=d)
    if not latest:
        return None
    review = await reviews.review(
        session, tenant_id=t, deal_id=d, stage=ReviewStage.SECOND, round=latest
    )
    if (
        review is None
        or review.decision is not ReviewDecision.APPROVE
        or review.approved_amount is None
        or review.approved_rate is None
    ):
        return None
    amount: Money = review.approved_amount
    return policy.ApprovedTerms(
        amount=amount, rate=review.approved_rate, expires_at=review.expires_at
    )


async def _borrower(session: AsyncSession, cipher: PersonalDataCipher, deal: Deal) -> ContractParty:
    """The applicant as the contract names it: a person's full name and resident ID (decrypted
    here, for the document only), or a company's name and social credit code."""
    if deal.applicant_person_id is not None:
        person = (await parties.persons_by_ids(session, [deal.applicant_person_id])).get(
            deal.applicant_person_id
        )
        if person is None:  # pragma: no cover - a funder sees the applicants of its deals
            raise _not_found("applicant")
        return ContractParty(person.full_name, cipher.decrypt(person.resident_id_encrypted))
    if deal.applicant_organization_id is not None:
        org = (await parties.organizations_by_ids(session, [deal.applicant_organization_id])).get(
            deal.applicant_organization_id
        )
        if org is None:  # pragma: no cover - a funder sees the applicants of its deals
            raise _not_found("applicant")
        return ContractParty(org.name, org.social_credit_code)
    raise _not_found("applicant")  # pragma: no cover - a CHECK forbids


async def _core_enterprise(session: AsyncSession, deal: Deal) -> ContractParty | None:
    """For order financing, the buyer that owes the financed order: the third party."""
    if deal.product_line is not ProductLine.ORDER_FINANCING:
        return None
    if deal.purchase_order_id is None:  # pragma: no cover - submission requires the order
        raise _not_found("purchase order")
    order = (await collateral.purchase_orders_by_ids(session, [deal.purchase_order_id])).get(
        deal.purchase_order_id
    )
    if order is None:  # pragma: no cover - a funder sees the orders its deals name
        raise _not_found("purchase order")
    buyer_id = order.buyer_organization_id
    buyer = (await parties.organizations_by_ids(session, [buyer_id])).get(buyer_id)
    if buyer is None:  # pragma: no cover - core enterprises are public
        raise _not_found("core enterprise")
    return ContractParty(buyer.name, buyer.social_credit_code)


async def _receipts(session: AsyncSession, deal: Deal) -> tuple[PledgedReceipt, ...]:
    """For a pledge, the receipts pledged, in the order the deal names them."""
    if deal.product_line is not ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
        return ()
    found = await collateral.receipts_by_ids(session, list(deal.warehouse_receipt_ids))
    out = []
    for receipt_id in deal.warehouse_receipt_ids:
        receipt = found.get(receipt_id)
        if receipt is None:  # pragma: no cover - a funder sees the receipts its deals name
            raise _not_found("warehouse receipt")
        out.append(
            PledgedReceipt(
                number=receipt.number,
                goods=receipt.goods_description,
                quantity=receipt.quantity,
                unit=receipt.unit,
            )
        )
    return tuple(out)


@_atomic
async def prepare_contract(
    session: AsyncSession,
    actor: Actor,
    *,
    deal_id: uuid.UUID,
    renderer: ContractRenderer,
    store: DocumentStorage,
    cipher: PersonalDataCipher,
    value_date: date | None = None,
) -> ContractOutcome:
    """Write (or find) the contract of an APPROVED deal of the actor's funder (scope
    contracts:write). ``value_date`` is when the loan starts to accrue, by default today in
    the funder's time zone; not before today (INVALID). NOT_FOUND for another funder's deal;
    INVALID_TRANSITION for a deal that is not APPROVED or whose approval has lapsed. The same
    terms as the current version return it (``created`` False); other terms void it and write
    the next version."""
    require(actor, Scope.CONTRACTS_WRITE)
    deal = await _load_deal(session, actor, deal_id)
    now = await transaction_now(session)
    approval = await _approval(session, deal)
    policy.check_preparable(deal.status, approval, now)
    assert approval is not None  # check_preparable refuses a deal without one
    funder = await deals_repository.funder(session, deal.tenant_id)
    if funder is None:  # pragma: no cover - a funder's staff see their funder
        raise _not_found("funder")
    today = deal_policy.funder_day(funder.time_zone, now)
    start = value_date or today
    policy.check_value_date(start, today)

    pinned = await deals_repository.product_of(session, deal)
    if pinned is None:  # pragma: no cover - the funder sees its product versions
        raise _not_found("product", "productId")
    product = products.terms_of(pinned[1])
    calendar = await calendars.calendar_from(session, product.holiday_calendar, start)
    # The schedule of the approved amount at the approved rate, which may both be less than
    # the request and the product version's rate.
    shaped = replace(
        product_policy.schedule_terms(product, approval.amount, deal.term, start, calendar),
        annual_rate=approval.rate,
    )
    try:
        schedule = build_schedule(shaped)
    except ScheduleError as exc:
        raise DomainError(ErrorCode.INVALID, f"no schedule: {exc}", "valueDate") from exc
    parties_ = ContractParties(
        borrower=await _borrower(session, cipher, deal),
        funder=policy.funder_party(funder.name, funder.registration_number),
        core_enterprise=await _core_enterprise(session, deal),
    )
    terms = policy.build_terms(
        deal_id=deal.id,
        issued_on=today,
        product_line=deal.product_line,
        parties=parties_,
        approved=approval,
        term=deal.term,
        term_unit=deal.term_unit,
        product=product,
        schedule=schedule,
        receipts=await _receipts(session, deal),
    )
    digest = terms_digest(terms)

    current = await repository.current(
        session, tenant_id=deal.tenant_id, deal_id=deal.id, for_update=True
    )
    if current is not None and current.terms_digest == digest:
        return ContractOutcome(contract=current, created=False)

    version = await repository.latest_version(session, tenant_id=deal.tenant_id, deal_id=deal.id)
    terms = replace(terms, version=version + 1)
    try:
        # CPU-bound (fonts, layout): off the event loop.
        rendered = await asyncio.to_thread(renderer.render, terms)
    except UnrenderableTerms as exc:
        raise DomainError(ErrorCode.INVALID, f"the contract cannot be printed: {exc}") from exc
    stored = await store.put(rendered.pdf, content_type=_PDF)

    if current is not None:
        # Voided first (its own flush): the partial unique index admits one current version.
        async with refusing(session, _refusals()):
            current.status = ContractStatus.VOID
            current.voided_at = now
            current.void_reason = policy.TERMS_CHANGED
    row = Contract(
        tenant_id=deal.tenant_id,
        id=new_id(),
        deal_id=deal.id,
        version=terms.version,
        status=ContractStatus.DRAFT,
        terms_digest=digest,
        sha256=rendered.sha256,
        document_key=stored.key,
        pages=rendered.pages,
        terms=policy.stored_terms(terms),
        created_by=actor.user_id,
        created_at=now,
    )
    async with refusing(session, _refusals()):
        repository.add(session, row)
    await audit.record(
        session,
        actor,
        action="contract.prepare",
        object_type="Contract",
        object_id=row.id,
        tenant_id=deal.tenant_id,
        details={
            "deal_id": str(deal.id),
            "version": row.version,
            "terms_digest": digest,
            "sha256": row.sha256,
            "pages": row.pages,
            "value_date": start.isoformat(),
            "voided": None if current is None else str(current.id),
        },
    )
    return ContractOutcome(contract=row, created=True, voided=current)


#: The actor that creates a contract's envelope, and its queue (declared in ``workers``).
SEND_ENVELOPE_ACTOR = "send_envelope"
SEND_ENVELOPE_QUEUE = "signing"


def send_envelope_job(tenant_id: uuid.UUID, contract_id: uuid.UUID) -> Job:
    """The message that makes a worker create a contract's envelope: IDs only."""
    return Job(SEND_ENVELOPE_ACTOR, SEND_ENVELOPE_QUEUE, (str(tenant_id), str(contract_id)))


@dataclass(frozen=True, slots=True)
class SigningOutcome:
    """The deal (SIGNING) and its contract (SENT) after :func:`send_for_signing`;
    ``resent`` when it was a declined or failed contract sent again."""

    deal: Deal
    contract: Contract
    resent: bool = False


@_atomic
async def send_for_signing(
    session: AsyncSession, actor: Actor, *, deal_id: uuid.UUID
) -> SigningOutcome:
    """Send the current contract of a deal of the actor's funder for e-signature (scope
    contracts:write): the contract SENT with its signers in signing order (the borrower, the
    core enterprise for order financing, the funder; all PENDING), and ``send_envelope``
    enqueued after commit (the envelope is created by a worker, outside any transaction).

    * An APPROVED deal's DRAFT contract: the deal APPROVED -> SIGNING.
    * A SIGNING deal whose contract a signer DECLINED, or whose envelope could not be
      created (FAILED): the same version (the same terms and document) sent again in a new
      envelope (its idempotency key and reference carry the resend number, so a late event
      of the earlier envelope is refused), at most ``policy.MAX_RESENDS`` times; the deal
      stays SIGNING. Changed terms are not sent this way: the deal is withdrawn and applied
      for again.

    NOT_FOUND for another funder's deal or a deal without a contract; INVALID_TRANSITION for
    a deal in another status or a contract out for signature or final; RESEND_LIMIT_REACHED;
    SIGNING_DEADLINE_PASSED once the approval has lapsed."""
    require(actor, Scope.CONTRACTS_WRITE)
    deal = await _load_deal(session, actor, deal_id)
    current = await repository.current(
        session, tenant_id=deal.tenant_id, deal_id=deal.id, for_update=True
    )
    now = await transaction_now(session)
    approval = await _approval(session, deal)
    resend = policy.check_sendable(
        deal.status,
        None if current is None else current.status.value,
        resends=0 if current is None else current.resends,
        deadline=None if approval is None else approval.expires_at,
        now=now,
    )
    assert current is not None  # check_sendable refuses a deal without one
    signers = policy.signer_specs(current.terms)
    previous = current.status
    current.status = ContractStatus.SENT
    current.sent_at = now
    # No ID numbers here: the worker reads them from the terms the contract was written with.
    current.signers = [
        {"role": s.role, "order": s.order, "name": s.name, "status": "PENDING", "signed_at": None}
        for s in signers
    ]
    # The envelope's creation is due now; the sweeper re-sends it if its message is lost.
    current.envelope_attempts = 0
    current.envelope_next_attempt_at = now
    current.envelope_last_error = None
    current.envelope_seen_at = None
    if resend:
        earlier = current.envelope_id
        current.resends += 1
        current.envelope_id = None
        current.failure_reason = None
        await session.flush()
        await audit.record(
            session,
            actor,
            action="contract.resend",
            object_type="Contract",
            object_id=current.id,
            tenant_id=deal.tenant_id,
            details={
                "deal_id": str(deal.id),
                "version": current.version,
                "resend": current.resends,
                "after": previous.value,
                "earlier_envelope_id": earlier,
            },
        )
        await events.append(
            session,
            tenant_id=deal.tenant_id,
            type="deal.contract_resent",
            aggregate_type="Deal",
            aggregate_id=deal.id,
            payload={
                "contract_id": str(current.id),
                "resend": current.resends,
                "after": previous.value,
            },
        )
    else:
        source = deal.status
        async with refusing(session, deals.deal_refusals(deal.channel)):
            deal.status = DealStatus.SIGNING
            deal.updated_at = now
            await session.flush()
        await deals.record_transition(
            session,
            actor,
            deal,
            "send_for_signing",
            from_status=source,
            contract_id=str(current.id),
            version=current.version,
            signers=[s.role for s in signers],
        )
    enqueue_after_commit(session, send_envelope_job(deal.tenant_id, current.id))
    return SigningOutcome(deal=deal, contract=current, resent=resend)
