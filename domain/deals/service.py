"""Use cases on deals: apply (create a DRAFT), edit, submit and withdraw.

Who: the applicant itself (a person for CONSUMER_CREDIT, a company's user otherwise), a
partner app for its user (client credentials of a PARTNER organization) or the funder's own
app (a principal of the funder's tenant, for its own products). The deal records the channel
and belongs to the funder from its creation.

The product version: a deal is pinned to the version that was current when it was created,
and keeps it: submission checks the rules of that version (frozen once published), even if the
funder has published a newer one since. The product itself must still be PUBLISHED, by an
ACTIVE funder, when the deal is submitted (PRODUCT_NOT_AVAILABLE otherwise).

Drafts are checked for shape only (a positive amount, a term, a purpose, collateral of the
right kind that the caller can see); the product's rules are checked on submission, which also
claims the collateral: an order or a receipt backs at most one live deal, across every funder,
decided by the database's unique indexes (of two concurrent submissions one wins; the other is
refused with PURCHASE_ORDER_ALREADY_FINANCED or RECEIPT_ALREADY_PLEDGED and writes nothing).
Withdrawing releases the claims.

Every change appends a timeline entry, an audit row and an outbox event in the same
transaction. Use cases flush and never commit; refusals raise :class:`DomainError`. (Retries of
``createDeal`` and ``submitDeal`` are made safe by idempotency keys around the use cases, in the
API: ``api.idempotency``.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.calendars import service as calendars
from domain.collateral import repository as collateral_repository
from domain.collateral import service as collateral
from domain.collateral.models import PurchaseOrderStatus, WarehouseReceiptStatus
from domain.deals import policy, repository
from domain.deals.models import ConsentMethod, Deal, DealChannel, DealStatus
from domain.events import repository as events
from domain.integration_calls import service as integration_calls
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors, collect
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.loans.policy import Schedule, ScheduleError, build_schedule
from domain.parties import repository as parties
from domain.parties.models import OrganizationKind
from domain.persistence.after_commit import enqueue_after_commit
from domain.persistence.atomic import atomic as _atomic
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.products import policy as product_policy
from domain.products import repository as products
from domain.products.models import ProductLine, ProductStatus


@dataclass(frozen=True, slots=True)
class ConsentInput:
    """Credit consent as the channel reports it; ``given_at`` defaults to now."""

    text_version: str
    method: ConsentMethod
    given_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DealOutcome:
    """A deal as a use case left it."""

    deal: Deal


def _not_found(what: str, field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"no such {what}", field)


def _gather(problems: list[DomainError], error: DomainError) -> None:
    problems.extend(error.errors if isinstance(error, ValidationErrors) else [error])


# -- recording ------------------------------------------------------------------------------------

#: The outbox type of each timeline action: the application's own, then the transitions the
#: other contexts make through :func:`record_transition` (reviews and their expiry, the
#: assessment, e-signature, disbursement; a failed payout's is the alert finance officers
#: follow).
_EVENTS = {
    "create": "deal.created",
    "update": "deal.updated",
    "submit": "deal.submitted",
    "withdraw": "deal.withdrawn",
    "start_first_review": "deal.first_review_started",
    "pass_first_review": "deal.first_review_passed",
    "approve": "deal.approved",
    "reject": "deal.rejected",
    "return": "deal.returned",
    "expire": "deal.expired",
    "send_for_signing": "deal.signing",
    "sign": "deal.signed",
    "disburse": "deal.disbursing",
    "activate": "deal.activated",
    "payout_failed": "deal.payout_failed",
}


async def _record(
    session: AsyncSession,
    actor: Actor,
    deal: Deal,
    action: str,
    *,
    from_status: DealStatus | None,
    note: str | None = None,
    **details: object,
) -> None:
    """The timeline entry, the audit row and the outbox event of one change to ``deal``. No
    personal data: the applicant is named by ID only."""
    payload: dict[str, Any] = {
        "product_id": str(deal.product_id),
        "product_version": deal.product_version,
        "product_line": deal.product_line.value,
        "channel": deal.channel.value,
        "from_status": None if from_status is None else from_status.value,
        "status": deal.status.value,
        "amount": deal.amount.to_decimal_string(),
        "currency": deal.currency,
        "term": deal.term,
        **details,
    }
    await repository.append_event(
        session,
        deal=deal,
        action=f"deal.{action}",
        from_status=from_status,
        actor_kind=policy.actor_kind(actor, deal),
        actor_user_id=actor.user_id,
        actor_client_id=actor.client_id,
        request_id=actor.request_id,
        note=note,
        details={k: v for k, v in details.items() if v is not None},
    )
    await audit.record(
        session,
        actor,
        action=f"deal.{action}",
        object_type="Deal",
        object_id=deal.id,
        tenant_id=deal.tenant_id,
        details=payload,
    )
    await events.append(
        session,
        tenant_id=deal.tenant_id,
        type=_EVENTS[action],
        aggregate_type="Deal",
        aggregate_id=deal.id,
        payload=payload,
    )


# -- shared checks --------------------------------------------------------------------------------


async def _channel(session: AsyncSession, actor: Actor) -> DealChannel:
    is_partner = False
    if actor.user_id is None and actor.tenant_id is None and actor.organization_id is not None:
        own = (await parties.organizations_by_ids(session, [actor.organization_id])).get(
            actor.organization_id
        )
        is_partner = own is not None and own.kind is OrganizationKind.PARTNER
    return policy.channel_of(actor, organization_is_partner=is_partner)


def _consent(
    problems: list[DomainError], consent: ConsentInput | None, now: datetime
) -> policy.Consent | None:
    if consent is None:
        return None
    try:
        return policy.clean_consent(
            given_at=consent.given_at or now,
            text_version=consent.text_version,
            method=consent.method,
            now=now,
        )
    except DomainError as exc:
        _gather(problems, exc)
        return None


async def _check_collateral_visible(
    session: AsyncSession,
    purchase_order_id: uuid.UUID | None,
    receipt_ids: Sequence[uuid.UUID],
) -> None:
    """The caller names only collateral it can see: its own orders and receipts (or, for the
    funder, those its deals already name)."""
    problems: list[DomainError] = []
    if purchase_order_id is not None:
        found = await collateral_repository.purchase_orders_by_ids(session, [purchase_order_id])
        if purchase_order_id not in found:
            problems.append(_not_found("purchase order", "purchaseOrderId"))
    if receipt_ids:
        seen = await collateral_repository.receipts_by_ids(session, list(receipt_ids))
        problems.extend(
            _not_found("warehouse receipt", f"warehouseReceiptIds.{n}")
            for n, rid in enumerate(receipt_ids)
            if rid not in seen
        )
    collect(problems)


def _write_refusals(channel: DealChannel) -> dict[str, DomainError]:
    # A partner app or a funder's app cannot see the applicant: a wrong kind reads as "not
    # found", so that they learn nothing about parties they cannot see.
    hidden = channel is not DealChannel.DIRECT
    kind = (
        _not_found("applicant", "applicantId")
        if hidden
        else DomainError(
            ErrorCode.WRONG_ORGANIZATION_KIND,
            "your organization is not of the kind this product line lends to",
            "applicantId",
        )
    )
    return {
        "fk_deals_applicant_person_id_persons": _not_found("applicant", "applicantId"),
        "fk_deals_applicant_organization_id_organizations": _not_found("applicant", "applicantId"),
        "ck_deals_applicant_kind": kind,
        "ck_deals_channel_partner": DomainError(
            ErrorCode.FORBIDDEN, "a partner channel belongs to a partner organization"
        ),
        "fk_deals_warehouse_receipt_ids": _not_found("warehouse receipt", "warehouseReceiptIds"),
        "fk_deals_purchase_order_id_purchase_orders": _not_found(
            "purchase order", "purchaseOrderId"
        ),
        "fk_deals_product_version": _not_found("product", "productId"),
        "ck_deals_final": DomainError(ErrorCode.INVALID_TRANSITION, "the deal has ended", "id"),
        # The app may act only for parties that onboarded with it or authorised it; to it,
        # any other party does not exist.
        "ck_deals_applicant_agent": _not_found("applicant", "applicantId"),
        "ck_deals_order_seller": DomainError(
            ErrorCode.PURCHASE_ORDER_SELLER_MISMATCH,
            "the order is owed to another company than the applicant",
            "purchaseOrderId",
        ),
        "ck_deals_receipt_owner": DomainError(
            ErrorCode.RECEIPT_OWNER_MISMATCH,
            "a receipt belongs to another company than the applicant",
            "warehouseReceiptIds",
        ),
        "ck_deals_request_frozen": DomainError(
            ErrorCode.DEAL_NOT_EDITABLE, "the application is no longer editable", "id"
        ),
        "ck_deals_transition": DomainError(
            ErrorCode.INVALID_TRANSITION, "the lifecycle does not allow this", "id"
        ),
    }


async def _load_for_applicant(session: AsyncSession, actor: Actor, deal_id: uuid.UUID) -> Deal:
    """The deal, locked, if the actor acts for its applicant: NOT_FOUND when it cannot see
    it, FORBIDDEN when it sees it but is not the applicant's side (the funder's staff)."""
    found = await repository.deal(session, deal_id)
    if found is None:
        raise _not_found("deal", "id")
    policy.check_acts_for_applicant(actor, found)
    locked = await repository.deal(session, deal_id, for_update=True)
    if locked is None:  # pragma: no cover - the applicant's side may lock what it sees
        raise _not_found("deal", "id")
    return locked


# -- create ---------------------------------------------------------------------------------------


@_atomic
async def create_deal(
    session: AsyncSession,
    actor: Actor,
    *,
    product_id: uuid.UUID,
    amount: Money,
    term: int,
    purpose: str,
    applicant_person_id: uuid.UUID | None = None,
    applicant_organization_id: uuid.UUID | None = None,
    consent: ConsentInput | None = None,
    purchase_order_id: uuid.UUID | None = None,
    warehouse_receipt_ids: Sequence[uuid.UUID] = (),
    monthly_income: Money | None = None,
    liveness_session: str | None = None,
) -> DealOutcome:
    """Apply for a product: a DRAFT deal with the applicant, the loan request, the credit
    consent (optional until submission) and the collateral (likewise), pinned to the
    product's current version; the declared monthly income and the identity provider's
    liveness capture reference, if given, are what the risk checks read."""
    require(actor, Scope.DEALS_APPLY)
    problems: list[DomainError] = []
    clean_purpose = ""
    for check in (
        lambda: policy.check_amount(amount),
        lambda: policy.check_term(term),
    ):
        try:
            check()
        except DomainError as exc:
            _gather(problems, exc)
    try:
        clean_purpose = policy.clean_text(purpose, "purpose", policy.MAX_PURPOSE)
    except DomainError as exc:
        _gather(problems, exc)
    income_minor, clean_liveness = _risk_inputs(
        problems, amount.currency, monthly_income, liveness_session
    )
    # One instant for the whole transaction: the deal, its consent, its timeline entry and
    # its audit row (whose columns default to the same now()).
    now = await transaction_now(session)
    clean_consent = _consent(problems, consent, now)
    collect(problems)

    channel = await _channel(session, actor)
    client_id = actor.client_id
    if client_id is None:  # pragma: no cover - every token names its client
        raise DomainError(ErrorCode.FORBIDDEN, "applications come through an OAuth client")
    found = (await products.products_by_ids(session, [product_id])).get(product_id)
    if found is None or (
        channel is DealChannel.FUNDER_APP and found.product.tenant_id != actor.tenant_id
    ):
        raise _not_found("product", "productId")
    product, version = found.product, found.version
    if product.status is not ProductStatus.PUBLISHED or not await products.funder_active(
        session, product.tenant_id
    ):
        raise DomainError(
            ErrorCode.PRODUCT_NOT_AVAILABLE, "the product takes no applications", "productId"
        )
    # The amount and term the product offers, refused as a quote refuses them (the same
    # codes for the same request); submission checks them again against the pinned version.
    product_policy.check_offer(found.terms, amount, term)
    applicant = policy.applicant_of(
        actor,
        channel,
        product.product_line,
        person_id=applicant_person_id,
        organization_id=applicant_organization_id,
    )
    if channel is DealChannel.DIRECT and applicant.organization_id is not None:
        # Its own organization, which it sees (others are checked by the database).
        own = (await parties.organizations_by_ids(session, [applicant.organization_id])).get(
            applicant.organization_id
        )
        if own is not None:
            policy.check_applicant_kind(product.product_line, own.kind)
    receipts = policy.check_collateral_for_line(
        product.product_line, purchase_order_id, warehouse_receipt_ids
    )
    await _check_collateral_visible(session, purchase_order_id, receipts)

    deal = Deal(
        tenant_id=product.tenant_id,
        id=new_id(),
        product_id=product.id,
        product_version=version.version,
        product_line=product.product_line,
        status=DealStatus.DRAFT,
        channel=channel,
        channel_client_id=client_id,
        channel_organization_id=actor.organization_id
        if channel is DealChannel.PARTNER_APP
        else None,
        applicant_person_id=applicant.person_id,
        applicant_organization_id=applicant.organization_id,
        currency=amount.currency,
        amount_minor=amount.amount_minor,
        term=term,
        term_unit=version.term_unit,
        purpose=clean_purpose,
        monthly_income_minor=income_minor,
        liveness_session=clean_liveness,
        consent_given_at=None if clean_consent is None else clean_consent.given_at,
        consent_text_version=None if clean_consent is None else clean_consent.text_version,
        consent_method=None if clean_consent is None else clean_consent.method,
        purchase_order_id=purchase_order_id,
        warehouse_receipt_ids=list(receipts),
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    async with refusing(session, _write_refusals(channel)):
        repository.add(session, deal)
    await _record(session, actor, deal, "create", from_status=None)
    return DealOutcome(deal)


# -- update ---------------------------------------------------------------------------------------


@_atomic
async def update_deal(
    session: AsyncSession,
    actor: Actor,
    *,
    deal_id: uuid.UUID,
    amount: Money | None = None,
    term: int | None = None,
    purpose: str | None = None,
    consent: ConsentInput | None = None,
    purchase_order_id: uuid.UUID | None = None,
    warehouse_receipt_ids: Sequence[uuid.UUID] | None = None,
    monthly_income: Money | None = None,
    liveness_session: str | None = None,
) -> DealOutcome:
    """Edit a DRAFT or RETURNED application: what is given replaces what was there. A
    RETURNED deal that changes its collateral releases its claims on what it no longer names
    (submission claims the new collateral)."""
    require(actor, Scope.DEALS_APPLY)
    deal = await _load_for_applicant(session, actor, deal_id)
    policy.check_editable(deal.status)
    problems: list[DomainError] = []
    changes: dict[str, Any] = {}
    if amount is not None:
        try:
            policy.check_amount(amount)
            changes.update(currency=amount.currency, amount_minor=amount.amount_minor)
        except DomainError as exc:
            _gather(problems, exc)
    if term is not None:
        try:
            changes["term"] = policy.check_term(term)
        except DomainError as exc:
            _gather(problems, exc)
    if purpose is not None:
        try:
            changes["purpose"] = policy.clean_text(purpose, "purpose", policy.MAX_PURPOSE)
        except DomainError as exc:
            _gather(problems, exc)
    changes.update(_risk_changes(problems, deal, amount, monthly_income, liveness_session))
    now = await transaction_now(session)
    clean_consent = _consent(problems, consent, now)
    if clean_consent is not None:
        changes.update(
            consent_given_at=clean_consent.given_at,
            consent_text_version=clean_consent.text_version,
            consent_method=clean_consent.method,
        )
    receipts: tuple[uuid.UUID, ...] | None = None
    try:
        receipts = policy.check_collateral_for_line(
            deal.product_line, purchase_order_id, warehouse_receipt_ids or ()
        )
    except DomainError as exc:
        _gather(problems, exc)
    collect(problems)
    await _check_collateral_visible(session, purchase_order_id, receipts or ())
    if purchase_order_id is not None:
        changes["purchase_order_id"] = purchase_order_id
    if warehouse_receipt_ids is not None:
        changes["warehouse_receipt_ids"] = list(receipts or ())

    changed = {k: v for k, v in changes.items() if getattr(deal, k) != v}
    if not changed:
        return DealOutcome(deal)
    held = _held_collateral(deal)
    async with refusing(session, _write_refusals(deal.channel)):
        for name, value in changed.items():
            setattr(deal, name, value)
        deal.updated_at = now
    if policy.holds_collateral(deal.status):
        # After the edit: the database releases a claim only once the deal no longer names
        # what it holds.
        await _release_dropped(session, deal, held)
    await _record(session, actor, deal, "update", from_status=deal.status, changed=sorted(changed))
    return DealOutcome(deal)


def _risk_inputs(
    problems: list[DomainError],
    currency: str,
    monthly_income: Money | None,
    liveness_session: str | None,
) -> tuple[int | None, str | None]:
    """The declared income (minor units) and liveness reference as stored, or ``None`` for
    what is not given; refusals are gathered."""
    income_minor: int | None = None
    clean: str | None = None
    if monthly_income is not None:
        try:
            income_minor = policy.check_income(monthly_income, currency).amount_minor
        except DomainError as exc:
            _gather(problems, exc)
    if liveness_session is not None:
        try:
            clean = policy.clean_liveness_session(liveness_session)
        except DomainError as exc:
            _gather(problems, exc)
    return income_minor, clean


def _risk_changes(
    problems: list[DomainError],
    deal: Deal,
    amount: Money | None,
    monthly_income: Money | None,
    liveness_session: str | None,
) -> dict[str, Any]:
    """An edit's changes to the risk inputs. A declared income is in the request's currency:
    a request moved to another currency needs the income declared again."""
    currency = amount.currency if amount is not None else deal.currency
    income_minor, clean_liveness = _risk_inputs(
        problems, currency, monthly_income, liveness_session
    )
    changes: dict[str, Any] = {}
    if income_minor is not None:
        changes["monthly_income_minor"] = income_minor
    elif currency != deal.currency and deal.monthly_income_minor is not None:
        _gather(
            problems,
            DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"the declared monthly income is in {deal.currency}: declare it again in "
                f"{currency}",
                "monthlyIncome",
            ),
        )
    if clean_liveness is not None:
        changes["liveness_session"] = clean_liveness
    return changes


def _held_collateral(deal: Deal) -> tuple[uuid.UUID | None, frozenset[uuid.UUID]]:
    """What the deal names now: its order and its receipts."""
    return deal.purchase_order_id, frozenset(deal.warehouse_receipt_ids)


async def _release_dropped(
    session: AsyncSession, deal: Deal, before: tuple[uuid.UUID | None, frozenset[uuid.UUID]]
) -> None:
    """Release the claims of a deal on the collateral an edit dropped (``before`` is what it
    named before the edit)."""
    key = {"tenant_id": deal.tenant_id, "deal_id": deal.id}
    order, receipts = before
    if order is not None and order != deal.purchase_order_id:
        held = await collateral_repository.live_order_claim_of_deal(
            session, purchase_order_id=order, **key
        )
        if held is not None:
            await collateral.release_purchase_order(session, purchase_order_id=order, **key)
    kept = set(deal.warehouse_receipt_ids)
    for claim in await collateral_repository.claims_of_deal(session, **key):
        if claim.is_live and claim.receipt_id in receipts and claim.receipt_id not in kept:
            await collateral.release_receipt(session, receipt_id=claim.receipt_id, **key)


# -- submit ---------------------------------------------------------------------------------------


@_atomic
async def submit_deal(
    session: AsyncSession,
    actor: Actor,
    cipher: PersonalDataCipher,
    *,
    deal_id: uuid.UUID,
) -> DealOutcome:
    """DRAFT or RETURNED -> SUBMITTED: every rule of the deal's product version and line (see
    ``policy.check_submission``), then the claims on the collateral, then the integration
    calls the line needs (enqueued after commit). A refusal leaves the deal as it was and
    writes (and enqueues) nothing."""
    require(actor, Scope.DEALS_APPLY)
    deal = await _load_for_applicant(session, actor, deal_id)
    source = deal.status
    policy.check_transition(source, DealStatus.SUBMITTED)
    policy.check_submission(await _submission(session, cipher, deal))
    await _claim_collateral(session, deal)
    now = await transaction_now(session)
    async with refusing(session, _write_refusals(deal.channel)):
        deal.status = DealStatus.SUBMITTED
        deal.submitted_at = now
        deal.updated_at = now
    await _record(session, actor, deal, "submit", from_status=source)
    # The bureau, identity and valuation calls the funder's review needs: rows in this
    # transaction, attempted by the workers once it commits. A resubmission (after RETURNED)
    # keeps the calls of the first.
    if source is DealStatus.DRAFT:
        await integration_calls.request_for_deal(
            session, tenant_id=deal.tenant_id, deal_id=deal.id, line=deal.product_line
        )
    else:
        # The calls are final already (or finish later and trigger it themselves): the
        # resubmission is assessed on what they brought back.
        enqueue_after_commit(session, integration_calls.settled_job(deal.tenant_id, deal.id))
    return DealOutcome(deal)


async def _today(session: AsyncSession, deal: Deal) -> tuple[date, bool]:
    """Today in the funder's time zone, and whether the funder is active."""
    funder = await repository.funder(session, deal.tenant_id)
    today = policy.funder_day(
        funder.time_zone if funder is not None else None, await transaction_now(session)
    )
    return today, funder is not None and funder.active


async def _submission(
    session: AsyncSession, cipher: PersonalDataCipher, deal: Deal
) -> policy.Submission:
    """Everything the submission rules look at, as this scope sees it."""
    pinned = await repository.product_of(session, deal)
    if pinned is None:  # pragma: no cover - whoever sees a deal sees its product version
        raise _not_found("product", "productId")
    product, version = pinned
    today, funder_active = await _today(session, deal)
    applicant = policy.Applicant(
        person_id=deal.applicant_person_id, organization_id=deal.applicant_organization_id
    )
    order: policy.OrderFacts | None = None
    receipts: list[policy.ReceiptFacts] = []
    birth: date | None = None
    if deal.purchase_order_id is not None:
        po = await collateral.order_for_financing(session, purchase_order_id=deal.purchase_order_id)
        order = policy.OrderFacts(
            id=po.id,
            seller_organization_id=po.seller_organization_id,
            buyer_organization_id=po.buyer_organization_id,
            amount=po.amount,
            due_date=po.due_date,
            confirmed=po.status is PurchaseOrderStatus.CONFIRMED,
            status=po.status.value,
        )
    for n, receipt_id in enumerate(deal.warehouse_receipt_ids):
        try:
            wr = await collateral.receipt_valuation_inputs(session, receipt_id=receipt_id)
        except DomainError as exc:
            raise _not_found("warehouse receipt", f"warehouseReceiptIds.{n}") from exc
        receipts.append(
            policy.ReceiptFacts(
                id=wr.id,
                owner_organization_id=wr.owner_organization_id,
                warehouse_organization_id=wr.warehouse_organization_id,
                valuation=wr.declared_value,
                issued=wr.status is WarehouseReceiptStatus.ISSUED,
                status=wr.status.value,
            )
        )
    if deal.product_line is ProductLine.CONSUMER_CREDIT and deal.applicant_person_id:
        person = (await parties.persons_by_ids(session, [deal.applicant_person_id])).get(
            deal.applicant_person_id
        )
        if person is None:  # pragma: no cover - whoever sees a deal sees its applicant
            raise _not_found("person", "applicantId")
        birth = policy.birth_date_of(cipher.decrypt(person.resident_id_encrypted))
    return policy.Submission(
        line=deal.product_line,
        terms=products.terms_of(version),
        # A product the applicant's side may no longer read (retired, or its funder disabled)
        # takes no applications.
        product_status=product.status if product is not None else ProductStatus.RETIRED,
        funder_active=funder_active,
        amount=deal.amount,
        term=deal.term,
        has_consent=deal.has_consent,
        applicant=applicant,
        today=today,
        order=order,
        receipts=tuple(receipts),
        applicant_birth_date=birth,
    )


async def _claim_collateral(session: AsyncSession, deal: Deal) -> None:
    """Claim the deal's order or receipts; the database decides between concurrent claims
    (the loser is refused with the field of the receipt it lost)."""
    key = {"tenant_id": deal.tenant_id, "deal_id": deal.id}
    if deal.purchase_order_id is not None:
        await collateral.claim_purchase_order(
            session, purchase_order_id=deal.purchase_order_id, **key
        )
    # In a fixed order (by ID), so that two submissions naming the same receipts in another
    # order wait for each other instead of deadlocking.
    order = sorted(enumerate(deal.warehouse_receipt_ids), key=lambda item: item[1])
    for n, receipt_id in order:
        try:
            await collateral.claim_receipt(session, receipt_id=receipt_id, **key)
        except DomainError as exc:
            raise DomainError(exc.code, exc.message, f"warehouseReceiptIds.{n}") from exc


# -- withdraw -------------------------------------------------------------------------------------


@_atomic
async def withdraw_deal(
    session: AsyncSession, actor: Actor, *, deal_id: uuid.UUID, reason: str | None = None
) -> DealOutcome:
    """The applicant's side withdraws the application, from any state before SIGNED. Its
    claims on orders and receipts are released, so they may back another deal."""
    require(actor, Scope.DEALS_APPLY)
    clean_reason = None
    if reason is not None and reason.strip():
        clean_reason = policy.clean_text(reason, "reason", policy.MAX_WITHDRAWAL_REASON)
    deal = await _load_for_applicant(session, actor, deal_id)
    source = deal.status
    policy.check_transition(source, DealStatus.WITHDRAWN)
    now = await transaction_now(session)
    async with refusing(session, _write_refusals(deal.channel)):
        deal.status = DealStatus.WITHDRAWN
        deal.withdrawn_at = now
        deal.withdrawal_reason = clean_reason
        deal.updated_at = now
    # After the transition: the database releases a claim only together with the end of the
    # deal's hold, and refuses to commit an ended deal that still holds one.
    released = await _release_all(session, deal)
    await _record(
        session,
        actor,
        deal,
        "withdraw",
        from_status=source,
        note=clean_reason,
        released=released or None,
    )
    return DealOutcome(deal)


async def _release_all(session: AsyncSession, deal: Deal) -> list[str]:
    """Release every live claim of the deal; the IDs of the released collateral."""
    key = {"tenant_id": deal.tenant_id, "deal_id": deal.id}
    released: list[str] = []
    for order_claim in await collateral_repository.order_claims_of_deal(session, **key):
        if order_claim.is_live:
            await collateral.release_purchase_order(
                session, purchase_order_id=order_claim.purchase_order_id, **key
            )
            released.append(str(order_claim.purchase_order_id))
    for claim in await collateral_repository.claims_of_deal(session, **key):
        if claim.is_live:
            await collateral.release_receipt(session, receipt_id=claim.receipt_id, **key)
            released.append(str(claim.receipt_id))
    return released


# -- schedule -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DealSchedule:
    """The schedule a deal's request would repay on, and whether its calendar knows each due
    date (see ``products.policy.calendar_check``)."""

    schedule: Schedule
    calendar_known: tuple[bool, ...]
    calendar_warnings: tuple[product_policy.CalendarWarning, ...]


async def repayment_schedule(
    session: AsyncSession, actor: Actor, *, deal: Deal, start_date: date | None = None
) -> DealSchedule | None:
    """The repayment schedule of ``deal``'s amount and term under the product version it was
    applied under (its business-day convention and holiday calendar, with the operator's
    entries), from ``start_date`` (today in the funder's time zone when omitted). None when
    the request makes no schedule (a draft's term the version does not shape)."""
    require(actor, Scope.DEALS_READ)
    pinned = await repository.product_of(session, deal)
    if pinned is None:  # pragma: no cover - whoever sees a deal sees its product version
        return None
    terms = products.terms_of(pinned[1])
    start = start_date or (await _today(session, deal))[0]
    calendar = await calendars.calendar_from(session, terms.holiday_calendar, start)
    try:
        schedule = build_schedule(
            product_policy.schedule_terms(terms, deal.amount, deal.term, start, calendar)
        )
    except ScheduleError:
        return None
    known, warnings = product_policy.calendar_check(
        schedule, terms.business_day_convention, calendar
    )
    return DealSchedule(schedule=schedule, calendar_known=known, calendar_warnings=warnings)


__all__ = [
    "ConsentInput",
    "DealOutcome",
    "DealSchedule",
    "create_deal",
    "repayment_schedule",
    "submit_deal",
    "update_deal",
    "withdraw_deal",
]


# -- for the review use cases (domain.reviews) ----------------------------------------------------


async def record_transition(
    session: AsyncSession,
    actor: Actor,
    deal: Deal,
    action: str,
    *,
    from_status: DealStatus | None,
    note: str | None = None,
    **details: object,
) -> None:
    """The timeline entry, the audit row and the outbox event of a transition another
    context makes (``action`` is one of the review transitions above)."""
    await _record(session, actor, deal, action, from_status=from_status, note=note, **details)


async def release_collateral(session: AsyncSession, deal: Deal) -> list[str]:
    """Release every live claim of a deal that has just ended (rejected, expired); the IDs of
    the released collateral."""
    return await _release_all(session, deal)


def deal_refusals(channel: DealChannel) -> dict[str, DomainError]:
    """The refusals of a write to a deal, by the constraint the database names."""
    return _write_refusals(channel)


async def platform_deals_page(
    session: AsyncSession,
    actor: Actor,
    *,
    limit: int,
    after: repository.Keyset | None = None,
    tenant_id: uuid.UUID | None = None,
    product_line: ProductLine | None = None,
    statuses: Sequence[DealStatus] | None = None,
    created_before: datetime | None = None,
    submitted_before: datetime | None = None,
) -> list[Any]:
    """The operator's page of deals across funders (:func:`repository.platform_deals_page`).
    Only the platform operator follows every funder's deals: the API declares the same scopes
    on the field; this keeps the rule when the use case is called from elsewhere."""
    require(actor, Scope.DEALS_READ)
    if not actor.is_platform:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "requires the platform:admin scope: deals across funders are the operator's view",
        )
    return await repository.platform_deals_page(
        session,
        limit=limit,
        after=after,
        tenant_id=tenant_id,
        product_line=product_line,
        statuses=statuses,
        created_before=created_before,
        submitted_before=submitted_before,
    )


def status_event_types() -> frozenset[str]:
    """The outbox event types that record a change of a deal's status (every transition;
    not the creation or an edit)."""
    return frozenset(t for a, t in _EVENTS.items() if a not in ("create", "update"))
