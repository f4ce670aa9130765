"""Assessing a submitted deal: once every integration call of its submission is final, the
product version's scorecard judges what the calls brought back, the verdict is kept, and the
deal goes to its first review (approved there by the system for a small enough consumer loan
on which every rule passes).

:func:`assess_deal` is what the ``assess_deal`` job runs, in the funder's service scope. It is
idempotent: the deal is locked, and a deal no longer SUBMITTED, one with an unfinished call,
or a submission already assessed is left as it is; the database refuses a second assessment of
one submission too. The job is enqueued by the transaction that finishes a deal's last call
(:func:`domain.integration_calls.service.notify_if_settled`) and by a resubmission (whose
calls are those of the first submission), and a sweeper finds any deal whose job was lost."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.collateral import repository as collateral
from domain.deals import repository as deals_repository
from domain.deals import service as deals
from domain.deals.models import Deal, DealStatus
from domain.integration_calls import repository as calls_repository
from domain.integration_calls import service as calls_service
from domain.integration_calls.models import CallState, IntegrationCall, IntegrationKind
from domain.kernel.actor import SYSTEM
from domain.kernel.clock import transaction_now, utcnow
from domain.kernel.money import Money
from domain.persistence.after_commit import Job, enqueue_after_commit
from domain.persistence.base import new_id
from domain.products.models import ProductLine
from domain.products.policy import ProductTerms
from domain.products.repository import terms_of
from domain.reviews import service as reviews
from domain.risk import repository
from domain.risk.models import RiskAssessment
from domain.risk.results import report_from_json, verification_from_json
from domain.risk.scorecard import Assessment, DealFacts, ScorecardRules, evaluate, format_money
from domain.risk.valuation import valuation_from_json

__all__ = [
    "ASSESS_ACTOR",
    "AssessOutcome",
    "Assessed",
    "assess_deal",
    "assess_job",
    "resend",
    "rules_of",
    "unassessed_deals",
]

#: The actor that assesses one deal: the one told when a deal's calls are final.
ASSESS_ACTOR = calls_service.SETTLED_ACTOR


def assess_job(tenant_id: uuid.UUID, deal_id: uuid.UUID) -> Job:
    """The message that makes a worker assess a deal: IDs only."""
    return calls_service.settled_job(tenant_id, deal_id)


def _bps(rate: Decimal | None) -> int | None:
    """A rate as whole basis points, rounded down (a limit is never loosened by rounding)."""
    if rate is None:
        return None
    return int((rate * 10_000).to_integral_value(rounding=ROUND_FLOOR))


def rules_of(terms: ProductTerms) -> ScorecardRules:
    """The scorecard a product version configures: its scorecard block, the consumer
    credit-score minimum and the pledge's maximum LTV."""
    card = terms.scorecard
    eligibility, pledge = terms.consumer_eligibility, terms.warehouse_pledge
    return ScorecardRules(
        min_bureau_score=card.min_bureau_score,
        min_credit_score=None if eligibility is None else eligibility.min_credit_score,
        max_current_delinquencies=card.max_current_delinquencies,
        max_debt_to_income_bps=_bps(card.max_debt_to_income),
        max_ltv_bps=None if pledge is None else _bps(pledge.max_ltv),
        max_core_enterprise_exposure=card.max_core_enterprise_exposure,
        auto_approve_below=card.auto_approve_below,
    )


def _succeeded(found: list[IntegrationCall], kind: IntegrationKind) -> dict[str, Any] | None:
    for call in found:
        if call.kind is kind and call.state is CallState.SUCCEEDED:
            result: dict[str, Any] | None = call.result
            return result
    return None


def _valuation_total(stored: dict[str, Any] | None) -> Money | None:
    """The pledge's value, when every receipt was valued: a partial total would understate
    the LTV's denominator's uncertainty, so an incomplete valuation leaves LTV unjudged."""
    if stored is None:
        return None
    valuation = valuation_from_json(stored)
    return valuation.total if valuation.complete else None


async def _exposure(session: AsyncSession, deal: Deal) -> Money | None:
    if deal.product_line is not ProductLine.ORDER_FINANCING or deal.purchase_order_id is None:
        return None
    order = (await collateral.purchase_orders_by_ids(session, [deal.purchase_order_id])).get(
        deal.purchase_order_id
    )
    if order is None:
        return None
    minor = await repository.core_enterprise_exposure_minor(
        session,
        tenant_id=deal.tenant_id,
        core_enterprise_id=order.buyer_organization_id,
        currency=deal.currency,
    )
    return Money(minor, deal.currency)


async def _facts(session: AsyncSession, deal: Deal, found: list[IntegrationCall]) -> DealFacts:
    report = _succeeded(found, IntegrationKind.BUREAU)
    identity = _succeeded(found, IntegrationKind.IDENTITY)
    return DealFacts(
        line=deal.product_line,
        requested=deal.amount,
        report=None if report is None else report_from_json(report),
        identity=None if identity is None else verification_from_json(identity),
        identity_required=deal.applicant_person_id is not None,
        monthly_income=deal.monthly_income,
        collateral_value=_valuation_total(_succeeded(found, IntegrationKind.VALUATION)),
        core_enterprise_exposure=await _exposure(session, deal),
    )


def _money_json(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"minor": value.amount_minor, "currency": value.currency}


def _stored_facts(facts: DealFacts, found: list[IntegrationCall]) -> dict[str, Any]:
    """What was judged, as kept with the assessment (the reports themselves stay with their
    calls)."""
    report = facts.report
    return {
        "v": 1,
        "requested": _money_json(facts.requested),
        "monthly_income": _money_json(facts.monthly_income),
        "collateral_value": _money_json(facts.collateral_value),
        "core_enterprise_exposure": _money_json(facts.core_enterprise_exposure),
        "bureau_score": None if report is None else report.score,
        "calls": {call.kind.value: call.state.value for call in found},
    }


def _stored_results(verdict: Assessment) -> list[dict[str, Any]]:
    return [
        {
            "code": r.code.value,
            "outcome": r.outcome.value,
            "observed": r.observed,
            "limit": r.limit,
            "detail": r.detail,
        }
        for r in verdict.results
    ]


def _approval_note(verdict: Assessment, requested: Money) -> str:
    return (
        f"Approved by the scorecard: every rule passed and {format_money(requested)} is below "
        "the product's automatic approval limit."
    )


class AssessOutcome(StrEnum):
    """What one run of the assessment did."""

    ASSESSED = "ASSESSED"
    #: Nothing: the deal is not SUBMITTED (withdrawn, or assessed and moved on).
    NOT_SUBMITTED = "NOT_SUBMITTED"
    #: Nothing yet: a call is unfinished (its finishing transaction enqueues the job again).
    CALLS_PENDING = "CALLS_PENDING"
    #: Nothing: this submission has its assessment.
    ALREADY_ASSESSED = "ALREADY_ASSESSED"
    #: Nothing: no such deal in this scope.
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class Assessed:
    """The outcome of one run, and the verdict when one was made."""

    outcome: AssessOutcome
    assessment: Assessment | None = None
    auto_approved: bool = False


async def assess_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> Assessed:
    """Judge a submitted deal whose calls are final, keep the verdict, and move the deal to
    its first review (the system approves that review when the scorecard allows it, and the
    deal goes on to its second). The funder's service scope."""
    await calls_repository.serialize_deal(session, tenant_id, deal_id)
    deal = await deals_repository.deal(session, deal_id, for_update=True)
    if deal is None or deal.tenant_id != tenant_id:
        return Assessed(AssessOutcome.NOT_FOUND)
    if deal.status is not DealStatus.SUBMITTED or deal.submitted_at is None:
        return Assessed(AssessOutcome.NOT_SUBMITTED)
    found = list(
        await calls_repository.calls_of_deal(session, tenant_id=tenant_id, deal_id=deal_id)
    )
    if any(c.state in (CallState.PENDING, CallState.RUNNING) for c in found):
        return Assessed(AssessOutcome.CALLS_PENDING)
    if await repository.assessment_of_submission(
        session, tenant_id=tenant_id, deal_id=deal_id, submitted_at=deal.submitted_at
    ):
        return Assessed(AssessOutcome.ALREADY_ASSESSED)
    pinned = await deals_repository.product_of(session, deal)
    if pinned is None:  # pragma: no cover - the funder sees its own product versions
        return Assessed(AssessOutcome.NOT_FOUND)
    _, version = pinned
    facts = await _facts(session, deal, found)
    verdict = evaluate(rules_of(terms_of(version)), facts)
    now = await transaction_now(session)
    repository.add(
        session,
        RiskAssessment(
            tenant_id=tenant_id,
            id=new_id(),
            deal_id=deal_id,
            submitted_at=deal.submitted_at,
            recommendation=verdict.recommendation.value,
            auto_approved=verdict.auto_approve,
            results=_stored_results(verdict),
            facts=_stored_facts(facts, found),
            created_at=now,
        ),
    )
    deal.status = DealStatus.FIRST_REVIEW
    deal.updated_at = now
    await deals.record_transition(
        session,
        SYSTEM,
        deal,
        "start_first_review",
        from_status=DealStatus.SUBMITTED,
        recommendation=verdict.recommendation.value,
    )
    await reviews.open_first_review(session, deal)
    if verdict.auto_approve:
        await reviews.record_system_first_approval(
            session, deal, _approval_note(verdict, facts.requested)
        )
    return Assessed(AssessOutcome.ASSESSED, verdict, verdict.auto_approve)


async def unassessed_deals(
    session: AsyncSession, *, grace: timedelta, limit: int = 200
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SUBMITTED deals whose calls were all final more than ``grace`` ago and whose submission
    has no assessment (their job was lost): ``(tenant_id, deal_id)``. Platform scope."""
    return await repository.deals_awaiting_assessment(
        session, settled_before=utcnow() - grace, limit=limit
    )


def resend(session: AsyncSession, found: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``found`` assessed once the session commits."""
    for tenant_id, deal_id in found:
        enqueue_after_commit(session, assess_job(tenant_id, deal_id))
