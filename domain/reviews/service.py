"""Use cases of the reviews of deals: open a first review, claim and release a review, decide
the first and the second review, the scorecard's approval of a first review, the queues, and
the expiry of approvals that were not signed in time.

Four eyes (DESIGN.md section 5): the two reviews of one round of a deal are held and decided by
two different people. The use cases refuse it first (FOUR_EYES) and the database refuses it
too (``ck_deal_reviews_four_eyes``), which the use cases map to the same refusal. A decision
is a person's: a token without a user takes and decides no review.

Every transition a decision makes goes through the deals' timeline writer
(``domain.deals.service.record_transition``): a timeline entry, an audit row and an outbox
event in the same transaction. The deal is locked (``FOR UPDATE``) before its review is read,
so two decisions on one deal take turns and the later one sees the first's outcome. Use cases
flush and never commit; refusals raise :class:`DomainError`, and each use case runs in a
savepoint of its own, so a refusal part-way writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from domain.deals import policy as deal_policy
from domain.deals import repository as deals_repository
from domain.deals import service as deals
from domain.deals.models import Deal, DealStatus
from domain.kernel.actor import SYSTEM, Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.persistence.atomic import atomic as _atomic
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.products.models import ProductLine
from domain.reviews import policy, repository
from domain.reviews.models import DealReview, ReviewDecision, ReviewStage


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """A review as a use case left it, its deal, and the review the decision opened (the
    second review, when a first review approves)."""

    deal: Deal
    review: DealReview
    opened: DealReview | None = None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One open review in a queue, with what a reviewer sorts by."""

    review_id: uuid.UUID
    deal_id: uuid.UUID
    stage: ReviewStage
    round: int
    assignee_id: uuid.UUID | None
    claimed_at: datetime | None
    created_at: datetime
    product_line: ProductLine
    amount: Money
    deal_status: DealStatus

    @property
    def keyset(self) -> repository.Keyset:
        """The position after this entry, for the next page."""
        return (self.created_at, self.review_id)


@dataclass(frozen=True, slots=True)
class ReviewPage:
    """A page of a queue and whether more follow."""

    entries: list[QueueEntry]
    has_next: bool


@dataclass(frozen=True, slots=True)
class ExpiryOutcome:
    """The deal after :func:`expire_approval`; ``expired`` is False when it had already
    expired (nothing was written)."""

    deal: Deal
    expired: bool


def _not_found(what: str, field: str = "dealId") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"no such {what}", field)


def _four_eyes() -> DomainError:
    return DomainError(
        ErrorCode.FOUR_EYES,
        "the other review of this deal is yours: a different person reviews this one",
        "dealId",
    )


def _refusals(deal: Deal) -> dict[str, DomainError]:
    # Built per call: a raised refusal carries its cause, so instances are never shared.
    return {
        **deals.deal_refusals(deal.channel),
        "ck_deal_reviews_four_eyes": _four_eyes(),
        "ck_deal_reviews_decided_once": DomainError(
            ErrorCode.INVALID_TRANSITION, "the review is already decided", "dealId"
        ),
        "uq_deal_reviews_round": DomainError(
            ErrorCode.DUPLICATE, "the review of this round is already open", "dealId"
        ),
    }


def _reviewer(actor: Actor, stage: ReviewStage) -> uuid.UUID:
    """The person behind a reviewer's token: the stage's scope and a user."""
    require(actor, policy.STAGE_SCOPE[stage])
    if actor.user_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "a review is taken and decided by a person")
    return actor.user_id


async def _load_deal(session: AsyncSession, actor: Actor, deal_id: uuid.UUID) -> Deal:
    """The deal, locked, if it is the actor's funder's: NOT_FOUND otherwise (another
    funder's deal does not exist to its reviewers, whatever scope the session has)."""
    found = await deals_repository.deal(session, deal_id)
    if found is None or actor.tenant_id is None or found.tenant_id != actor.tenant_id:
        raise _not_found("deal")
    locked = await deals_repository.deal(session, deal_id, for_update=True)
    if locked is None:  # pragma: no cover - the funder may lock what it sees
        raise _not_found("deal")
    return locked


async def _current(
    session: AsyncSession, deal: Deal, stage: ReviewStage
) -> tuple[DealReview, policy.Eyes | None]:
    """The open review of ``stage`` of the deal's latest round, locked, and who holds or
    decided the other stage of that round."""
    t, d = deal.tenant_id, deal.id
    latest = await repository.latest_round(session, tenant_id=t, deal_id=d)
    found = (
        await repository.review(
            session, tenant_id=t, deal_id=d, stage=stage, round=latest, for_update=True
        )
        if latest
        else None
    )
    if found is None or not found.is_open:
        raise _not_found(f"open {stage.value.lower()} review")
    other = await repository.review(
        session, tenant_id=t, deal_id=d, stage=policy.other_stage(stage), round=found.round
    )
    eyes = None if other is None else policy.Eyes(other.assignee_id, other.decided_by)
    return found, eyes


# -- opening --------------------------------------------------------------------------------------


@_atomic
async def open_first_review(session: AsyncSession, deal: Deal) -> DealReview:
    """The open first review of a deal that has just entered FIRST_REVIEW, for its current
    round: the one already open, else a new one (round 1, or the next round after a RETURNED
    deal was resubmitted). Called in the transaction that moves the deal to FIRST_REVIEW, by
    whoever moves it; INVALID_TRANSITION for a deal in any other status."""
    policy.check_in_review(deal.status, ReviewStage.FIRST)
    t, d = deal.tenant_id, deal.id
    latest = await repository.latest_round(session, tenant_id=t, deal_id=d)
    if latest:
        found = await repository.review(
            session, tenant_id=t, deal_id=d, stage=ReviewStage.FIRST, round=latest
        )
        if found is not None and found.is_open:
            return found
    now = await transaction_now(session)
    review = DealReview(
        tenant_id=deal.tenant_id,
        id=new_id(),
        deal_id=deal.id,
        stage=ReviewStage.FIRST,
        round=latest + 1,
        system_decision=False,
        created_at=now,
    )
    async with refusing(session, _refusals(deal)):
        repository.add(session, review)
    return review


# -- claiming -------------------------------------------------------------------------------------


@_atomic
async def claim_review(
    session: AsyncSession, actor: Actor, *, deal_id: uuid.UUID, stage: ReviewStage
) -> ReviewOutcome:
    """Take the open review of ``stage`` of a deal: the actor becomes its assignee. Claiming
    one's own review again changes nothing; REVIEW_TAKEN when another reviewer holds it,
    FOUR_EYES when the actor holds or decided the other stage of the same round."""
    user_id = _reviewer(actor, stage)
    deal = await _load_deal(session, actor, deal_id)
    policy.check_in_review(deal.status, stage)
    review, other = await _current(session, deal, stage)
    policy.check_claimable(review.assignee_id, user_id)
    policy.check_four_eyes(user_id, other)
    if review.assignee_id == user_id:
        return ReviewOutcome(deal=deal, review=review)
    now = await transaction_now(session)
    async with refusing(session, _refusals(deal)):
        review.assignee_id = user_id
        review.claimed_at = now
    return ReviewOutcome(deal=deal, review=review)


@_atomic
async def release_review(
    session: AsyncSession, actor: Actor, *, deal_id: uuid.UUID, stage: ReviewStage
) -> ReviewOutcome:
    """Give back an open review the actor holds, so another reviewer may take it (FORBIDDEN
    for anyone but its assignee)."""
    user_id = _reviewer(actor, stage)
    deal = await _load_deal(session, actor, deal_id)
    policy.check_in_review(deal.status, stage)
    review, _ = await _current(session, deal, stage)
    policy.check_assignee(review.assignee_id, user_id)
    async with refusing(session, _refusals(deal)):
        review.assignee_id = None
        review.claimed_at = None
    return ReviewOutcome(deal=deal, review=review)


# -- deciding -------------------------------------------------------------------------------------

_ACTIONS = {
    (ReviewStage.FIRST, ReviewDecision.APPROVE): "pass_first_review",
    (ReviewStage.SECOND, ReviewDecision.APPROVE): "approve",
    (ReviewStage.FIRST, ReviewDecision.REJECT): "reject",
    (ReviewStage.SECOND, ReviewDecision.REJECT): "reject",
    (ReviewStage.FIRST, ReviewDecision.RETURN): "return",
    (ReviewStage.SECOND, ReviewDecision.RETURN): "return",
}


async def _decide(
    session: AsyncSession,
    actor: Actor,
    deal: Deal,
    review: DealReview,
    *,
    decision: ReviewDecision,
    notes: str,
    decided_by: uuid.UUID | None,
    terms: policy.ApprovedTerms | None = None,
    validity: timedelta = policy.APPROVAL_VALIDITY,
) -> ReviewOutcome:
    """Record ``decision`` on ``review``, move the deal, release its collateral when it has
    ended, open the second review after a first approval (an approval stands for
    ``validity``), and write the timeline."""
    stage = review.stage
    source = deal.status
    target = policy.outcome(stage, decision)
    deal_policy.check_transition(source, target, "dealId")
    now = await transaction_now(session)
    opened: DealReview | None = None
    details: dict[str, object] = {
        "stage": stage.value,
        "round": review.round,
        "review_id": str(review.id),
        "decision": decision.value,
    }
    async with refusing(session, _refusals(deal)):
        if decided_by is not None and review.assignee_id is None:
            # Deciding an unclaimed review claims it.
            review.assignee_id = decided_by
            review.claimed_at = now
        review.decision = decision
        review.notes = notes
        review.decided_by = decided_by
        review.decided_at = now
        review.system_decision = decided_by is None
        if terms is not None:
            review.approved_amount_minor = terms.amount.amount_minor
            review.approved_currency = terms.amount.currency
            review.approved_rate = terms.rate
            review.expires_at = now + validity
            details.update(
                approved_amount=terms.amount.to_decimal_string(),
                approved_rate=str(terms.rate),
                expires_at=review.expires_at.isoformat(),
            )
        deal.status = target
        deal.updated_at = now
    if decided_by is None:
        details["system"] = True
    if target is DealStatus.SECOND_REVIEW:
        opened = DealReview(
            tenant_id=deal.tenant_id,
            id=new_id(),
            deal_id=deal.id,
            stage=ReviewStage.SECOND,
            round=review.round,
            system_decision=False,
            created_at=now,
        )
        async with refusing(session, _refusals(deal)):
            repository.add(session, opened)
    if target is DealStatus.REJECTED:
        # After the transition: the database releases a claim only once the deal has ended.
        released = await deals.release_collateral(session, deal)
        details["released"] = released or None
    await deals.record_transition(
        session,
        actor,
        deal,
        _ACTIONS[(stage, decision)],
        from_status=source,
        # The timeline is read by the applicant's side too: a reviewer's notes are the
        # funder's (``Deal.reviews``), except a RETURN's, which tell the applicant what to
        # amend before resubmitting.
        note=notes if decision is ReviewDecision.RETURN else None,
        **details,
    )
    return ReviewOutcome(deal=deal, review=review, opened=opened)


async def _decision_by(
    session: AsyncSession,
    actor: Actor,
    stage: ReviewStage,
    deal_id: uuid.UUID,
    notes: str | None,
) -> tuple[uuid.UUID, str, Deal, DealReview]:
    """The checks every reviewer's decision makes, in the order the caller learns of them:
    scope and person, notes, the deal, its status, its open review, who holds it, four eyes."""
    user_id = _reviewer(actor, stage)
    clean = policy.clean_notes(notes)
    deal = await _load_deal(session, actor, deal_id)
    policy.check_in_review(deal.status, stage)
    review, other = await _current(session, deal, stage)
    policy.check_claimable(review.assignee_id, user_id)
    policy.check_four_eyes(user_id, other)
    return user_id, clean, deal, review


@_atomic
async def decide_first_review(
    session: AsyncSession,
    actor: Actor,
    *,
    deal_id: uuid.UUID,
    decision: ReviewDecision,
    notes: str | None,
) -> ReviewOutcome:
    """Decide a deal's first review (scope reviews:first; the reviewer holds it or, when
    nobody does, takes it by deciding; notes are required). APPROVE moves the deal to
    SECOND_REVIEW and opens its second review; REJECT ends it as REJECTED and releases its
    collateral; RETURN sends it back to the applicant (RETURNED, collateral kept)."""
    user_id, clean, deal, review = await _decision_by(
        session, actor, ReviewStage.FIRST, deal_id, notes
    )
    return await _decide(
        session, actor, deal, review, decision=decision, notes=clean, decided_by=user_id
    )


@_atomic
async def decide_second_review(
    session: AsyncSession,
    actor: Actor,
    *,
    deal_id: uuid.UUID,
    decision: ReviewDecision,
    notes: str | None,
    amount: Money | None = None,
    rate: Decimal | None = None,
) -> ReviewOutcome:
    """Decide a deal's second review (scope reviews:second; not by whoever held or decided its
    first review: FOUR_EYES). APPROVE makes it APPROVED on the approved terms (see
    ``policy.approved_terms``: by default the amount requested and the product version's
    rate), which stand for the product version's approval window (its
    ``approval_validity_days``); REJECT ends it as REJECTED and
    releases its collateral; RETURN sends it back to the applicant. ``amount`` and ``rate``
    are for an approval only (INVALID otherwise)."""
    user_id, clean, deal, review = await _decision_by(
        session, actor, ReviewStage.SECOND, deal_id, notes
    )
    terms: policy.ApprovedTerms | None = None
    validity = policy.APPROVAL_VALIDITY
    if decision is ReviewDecision.APPROVE:
        pinned = await deals_repository.product_of(session, deal)
        if pinned is None:  # pragma: no cover - the funder sees its product versions
            raise _not_found("product", "productId")
        version = pinned[1]
        validity = timedelta(days=version.approval_validity_days)
        terms = policy.approved_terms(
            requested=deal.amount,
            min_amount=Money(version.min_amount_minor, version.currency),
            product_rate=version.annual_rate,
            amount=amount,
            rate=rate,
        )
    elif amount is not None or rate is not None:
        raise DomainError(ErrorCode.INVALID, "terms are given with an approval only", "amount")
    return await _decide(
        session,
        actor,
        deal,
        review,
        decision=decision,
        notes=clean,
        decided_by=user_id,
        terms=terms,
        validity=validity,
    )


@_atomic
async def record_system_first_approval(
    session: AsyncSession, deal: Deal, reasons_note: str
) -> ReviewOutcome:
    """The scorecard approves a deal's first review by itself: a system decision (no person
    decides it, so the four-eyes rule holds for the second review, which any second reviewer
    may take). The deal moves to SECOND_REVIEW and its second review opens. Refused
    (REVIEW_TAKEN) when a reviewer already holds the first review: a person is on it."""
    clean = policy.clean_notes(reasons_note)
    locked = await deals_repository.deal(session, deal.id, for_update=True)
    if locked is None:
        raise _not_found("deal")
    policy.check_in_review(locked.status, ReviewStage.FIRST)
    review, _ = await _current(session, locked, ReviewStage.FIRST)
    if review.assignee_id is not None:
        raise DomainError(ErrorCode.REVIEW_TAKEN, "a reviewer holds this review", "dealId")
    return await _decide(
        session,
        SYSTEM,
        locked,
        review,
        decision=ReviewDecision.APPROVE,
        notes=clean,
        decided_by=None,
    )


# -- reads ----------------------------------------------------------------------------------------


async def reviews_of_deal(
    session: AsyncSession, actor: Actor, *, deal_id: uuid.UUID
) -> list[DealReview]:
    """Every review of a deal of the actor's funder, by round and stage (scope deals:read).
    The reviews, their notes and reviewers are the funder's: to anyone else the deal's
    reviews are NOT_FOUND."""
    require(actor, Scope.DEALS_READ)
    found = await deals_repository.deal(session, deal_id)
    if found is None or actor.tenant_id is None or found.tenant_id != actor.tenant_id:
        raise _not_found("deal")
    return await repository.reviews_of_deal(session, tenant_id=found.tenant_id, deal_id=found.id)


# -- queues ---------------------------------------------------------------------------------------


async def review_queue(
    session: AsyncSession,
    actor: Actor,
    *,
    stage: ReviewStage,
    line: ProductLine | None = None,
    assignee: Literal["me", "unassigned"] | None = None,
    older_than: datetime | None = None,
    first: int = 50,
    after: repository.Keyset | None = None,
) -> ReviewPage:
    """The open reviews of ``stage`` of the actor's funder, oldest first (keyset
    ``(created_at, id)`` of the review): all of them, those the actor holds (``"me"``) or
    those nobody holds (``"unassigned"``); of one product line; created before
    ``older_than``. Scope of the stage; ``first`` from 1 to 100. Empty for a principal of no
    funder (the operator) and, for ``"me"``, for one that is not a person."""
    require(actor, policy.STAGE_SCOPE[stage])
    policy.check_page_size(first)
    if actor.tenant_id is None or (assignee == "me" and actor.user_id is None):
        # A queue is a funder's, and a review is held by a person: the operator has no
        # queue, and a service account holds no review.
        return ReviewPage(entries=[], has_next=False)
    where = repository.QueueFilter(
        tenant_id=actor.tenant_id,
        stage=stage,
        status=policy.STAGE_STATUS[stage],
        line=line,
        assignee_id=actor.user_id if assignee == "me" else None,
        unassigned=assignee == "unassigned",
        older_than=older_than,
    )
    rows = await repository.queue_page(session, where, limit=first + 1, after=after)
    entries = [
        QueueEntry(
            review_id=row.id,
            deal_id=row.deal_id,
            stage=ReviewStage(row.stage),
            round=row.round,
            assignee_id=row.assignee_id,
            claimed_at=row.claimed_at,
            created_at=row.created_at,
            product_line=ProductLine(row.product_line),
            amount=Money(row.deal_amount_minor, row.deal_currency),
            deal_status=DealStatus(row.deal_status),
        )
        for row in rows[:first]
    ]
    return ReviewPage(entries=entries, has_next=len(rows) > first)


# -- expiry ---------------------------------------------------------------------------------------


@_atomic
async def expire_approval(session: AsyncSession, deal_id: uuid.UUID) -> ExpiryOutcome:
    """APPROVED -> EXPIRED for a deal whose approval's ``expires_at`` has passed (see
    ``repository.expired_approvals``), releasing its collateral. Idempotent: an EXPIRED deal
    is answered as it is, with nothing written. INVALID_TRANSITION for a deal in another
    status or whose approval still stands; NOT_FOUND for a deal the session does not see."""
    deal = await deals_repository.deal(session, deal_id, for_update=True)
    if deal is None:
        raise _not_found("deal")
    if deal.status is DealStatus.EXPIRED:
        return ExpiryOutcome(deal=deal, expired=False)
    deal_policy.check_transition(deal.status, DealStatus.EXPIRED, "dealId")
    t, d = deal.tenant_id, deal.id
    latest = await repository.latest_round(session, tenant_id=t, deal_id=d)
    approval = await repository.review(
        session, tenant_id=t, deal_id=d, stage=ReviewStage.SECOND, round=latest
    )
    now = await transaction_now(session)
    if (
        deal.status is not DealStatus.APPROVED
        or approval is None
        or approval.expires_at is None
        or approval.expires_at > now
    ):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "the deal's approval has not expired", "dealId"
        )
    source = deal.status
    async with refusing(session, _refusals(deal)):
        deal.status = DealStatus.EXPIRED
        deal.updated_at = now
    released = await deals.release_collateral(session, deal)
    await deals.record_transition(
        session,
        SYSTEM,
        deal,
        "expire",
        from_status=source,
        review_id=str(approval.id),
        expires_at=approval.expires_at.isoformat(),
        released=released or None,
    )
    return ExpiryOutcome(deal=deal, expired=True)


__all__ = [
    "ExpiryOutcome",
    "QueueEntry",
    "ReviewOutcome",
    "ReviewPage",
    "claim_review",
    "decide_first_review",
    "decide_second_review",
    "expire_approval",
    "open_first_review",
    "record_system_first_approval",
    "release_review",
    "review_queue",
    "reviews_of_deal",
]
