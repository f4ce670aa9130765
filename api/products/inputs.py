"""Inputs of the product mutations, and their conversion to the domain's terms. Malformed
amounts and IDs become typed refusals here; every business rule is the domain's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import strawberry
from strawberry import relay

from api.calendars.types import BusinessDayConvention, HolidayCalendar
from api.ids import OrganizationID, ProductID, TenantID
from api.products.types import (
    DayCountConvention,
    PenaltyBasis,
    ProductLine,
    RepaymentMethod,
    TermUnit,
)
from api.relay import id_of
from api.scalars import MoneyInput, Rate
from domain.kernel.calendar import BusinessDayRule
from domain.kernel.calendar import HolidayCalendar as DomainHolidayCalendar
from domain.kernel.daycount import DayCountConvention as DomainDayCount
from domain.kernel.errors import DomainError, collect
from domain.kernel.money import Money
from domain.products import models
from domain.products.policy import (
    ConsumerEligibility,
    LatePenalty,
    OrderFinancingTerms,
    OriginationFee,
    PrepaymentPenalty,
    ProductTerms,
    ScorecardTerms,
    WarehousePledgeTerms,
)


@strawberry.input(one_of=True, description="The origination fee: exactly one of flat or percent.")
class OriginationFeeInput:
    flat: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="A flat fee per loan."
    )
    percent: Rate | None = strawberry.field(
        default=strawberry.UNSET, description='A fraction of the amount, e.g. "0.01" for 1 %.'
    )


@strawberry.input(description="Penalty interest on overdue amounts.")
class LatePenaltyInput:
    daily_rate: Rate = strawberry.field(
        description='Rate a day, e.g. "0.0005"; at most 0.36 / 365.'
    )
    basis: PenaltyBasis = strawberry.field(description="What the penalty accrues on.")  # type: ignore[valid-type]
    grace_days: int = strawberry.field(description="Days past due before it starts (0-30).")


@strawberry.input(description="Charge on principal repaid early.")
class PrepaymentPenaltyInput:
    rate: Rate = strawberry.field(
        description="Fraction of the prepaid principal charged (at most 0.05)."
    )
    free_allowance: Rate = strawberry.field(
        description="Fraction of the original principal that may be prepaid free (0-1)."
    )


@strawberry.input(description="Terms of an ORDER_FINANCING product.")
class OrderFinancingTermsInput:
    max_advance_rate: Rate = strawberry.field(
        description="Largest fraction of a confirmed order that is lent, in (0, 1]."
    )
    eligible_core_enterprise_ids: list[OrganizationID] = strawberry.field(
        description="Core enterprises (organizations of kind CORE_ENTERPRISE)."
    )


@strawberry.input(description="Terms of a WAREHOUSE_RECEIPT_PLEDGE product.")
class WarehousePledgeTermsInput:
    max_ltv: Rate = strawberry.field(description="Largest loan-to-value, in (0, 1].")
    haircut: Rate = strawberry.field(description="Fraction taken off the valuation, in [0, 1).")
    accepted_warehouse_ids: list[OrganizationID] = strawberry.field(
        description="Supervised warehouses (organizations of kind WAREHOUSE)."
    )


@strawberry.input(description="Who may apply for a CONSUMER_CREDIT product.")
class ConsumerEligibilityInput:
    min_age: int = strawberry.field(description="Youngest applicant, at least 18.")
    max_age: int = strawberry.field(description="Oldest applicant, at most 100.")
    min_credit_score: int = strawberry.field(description="Lowest credit score (0-1000).")


@strawberry.input(
    description="The risk scorecard of a product version: each rule applies when given."
)
class ScorecardInput:
    min_bureau_score: int | None = strawberry.field(
        default=None, description="Lowest credit bureau score accepted (0-1000)."
    )
    max_current_delinquencies: int | None = strawberry.field(
        default=None, description="Most delinquencies currently open on the bureau report."
    )
    max_debt_to_income: Rate | None = strawberry.field(
        default=None,
        description='Highest debt-to-income ratio, e.g. "0.45"; above 0, at most 5, at most 4 '
        "decimal places. CONSUMER_CREDIT only.",
    )
    max_core_enterprise_exposure: MoneyInput | None = strawberry.field(
        default=None,
        description="Most lent against one core enterprise's orders. ORDER_FINANCING only.",
    )
    auto_approve_below: MoneyInput | None = strawberry.field(
        default=None,
        description="Amounts up to this are approved without review; at most the maximum "
        "amount. CONSUMER_CREDIT only.",
    )
    approval_validity_days: int = strawberry.field(
        default=30, description="Days an approval waits for signing (1-365)."
    )


@strawberry.input(
    description="The terms of a product version. Give exactly the block of the product's "
    "line (orderFinancing, warehousePledge or consumerEligibility) and no other."
)
class ProductTermsInput:
    currency: str = strawberry.field(description="ISO 4217 currency the product lends in.")
    min_amount: MoneyInput = strawberry.field(description="Smallest amount lent.")
    max_amount: MoneyInput = strawberry.field(description="Largest amount lent.")
    allowed_terms: list[int] = strawberry.field(
        description="Terms offered: 1-60 months, or 1-366 days for a DAY product."
    )
    annual_rate: Rate = strawberry.field(description='Nominal annual rate, "0" to "0.36".')
    repayment_method: RepaymentMethod = strawberry.field(  # type: ignore[valid-type]
        description="How principal and interest are repaid (BULLET for DAY products)."
    )
    late_penalty: LatePenaltyInput = strawberry.field(description="Late-payment penalty.")
    prepayment_penalty: PrepaymentPenaltyInput = strawberry.field(
        description="Early-repayment penalty."
    )
    term_unit: TermUnit = strawberry.field(  # type: ignore[valid-type]
        default=models.TermUnit.MONTH, description="What allowed terms count."
    )
    day_count: DayCountConvention = strawberry.field(  # type: ignore[valid-type]
        default=DomainDayCount.ACT_365, description="Day count for interest by the day."
    )
    business_day_convention: BusinessDayConvention = strawberry.field(  # type: ignore[valid-type]
        default=BusinessDayRule.NONE,
        description="How a due date on a non-working day moves (interest still accrues to "
        "the unadjusted scheduled date).",
    )
    holiday_calendar: HolidayCalendar = strawberry.field(  # type: ignore[valid-type]
        default=DomainHolidayCalendar.NONE, description="Whose working days due dates follow."
    )
    origination_fee: OriginationFeeInput | None = strawberry.field(
        default=None, description="Upfront fee; none when omitted."
    )
    order_financing: OrderFinancingTermsInput | None = strawberry.field(
        default=None, description="For ORDER_FINANCING products only."
    )
    warehouse_pledge: WarehousePledgeTermsInput | None = strawberry.field(
        default=None, description="For WAREHOUSE_RECEIPT_PLEDGE products only."
    )
    consumer_eligibility: ConsumerEligibilityInput | None = strawberry.field(
        default=None, description="For CONSUMER_CREDIT products only."
    )
    scorecard: ScorecardInput | None = strawberry.field(
        default=None, description="The risk scorecard; no rules and 30 days when omitted."
    )


@strawberry.input(description="A product to create, as a DRAFT at version 1.")
class CreateProductInput:
    product_line: ProductLine = strawberry.field(description="The product line.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="Display name.")
    terms: ProductTermsInput = strawberry.field(description="The terms of version 1.")
    tenant_id: TenantID | None = strawberry.field(
        default=None, description="The funder, for the platform operator only."
    )


@strawberry.input(
    description="Changes to a product. New terms replace all terms: in place on a DRAFT, as "
    "a new current version on a PUBLISHED product."
)
class UpdateProductInput:
    id: ProductID = strawberry.field(description="The product.")
    name: str | None = strawberry.field(default=None, description="A new display name.")
    terms: ProductTermsInput | None = strawberry.field(
        default=None, description="The complete new terms."
    )


@strawberry.input(description="Which product.")
class ProductIdInput:
    id: ProductID = strawberry.field(description="The product.")


# -- conversion -----------------------------------------------------------------------------------


class _Problems:
    """Refusals gathered while converting, raised together."""

    def __init__(self) -> None:
        self.items: list[DomainError] = []

    def money(self, value: MoneyInput, field: str) -> Money | None:
        try:
            return value.to_money(field)
        except DomainError as exc:
            self.items.append(exc)
            return None

    def ids(self, values: Sequence[relay.GlobalID], field: str) -> tuple[uuid.UUID, ...]:
        out: list[uuid.UUID] = []
        for gid in values:
            try:
                value = id_of(gid, "Organization", field)
            except DomainError as exc:
                self.items.append(exc)
                continue
            if value is not None:
                out.append(value)
        return tuple(out)


def to_terms(data: ProductTermsInput) -> ProductTerms:
    """The domain's terms; malformed amounts or IDs are refused all together."""
    problems = _Problems()
    min_amount = problems.money(data.min_amount, "terms.minAmount")
    max_amount = problems.money(data.max_amount, "terms.maxAmount")
    fee = OriginationFee(kind=models.FeeKind.NONE)
    if data.origination_fee is not None:
        flat = data.origination_fee.flat
        percent = data.origination_fee.percent
        if flat is not None and flat is not strawberry.UNSET:
            fee = OriginationFee(
                kind=models.FeeKind.FLAT,
                flat=problems.money(flat, "terms.originationFee.flat"),
            )
        elif percent is not None and percent is not strawberry.UNSET:
            fee = OriginationFee(kind=models.FeeKind.PERCENT, rate=percent)
    of = data.order_financing
    wp = data.warehouse_pledge
    ce = data.consumer_eligibility
    order_financing = (
        None
        if of is None
        else OrderFinancingTerms(
            max_advance_rate=of.max_advance_rate,
            eligible_core_enterprise_ids=problems.ids(
                of.eligible_core_enterprise_ids, "terms.orderFinancing.eligibleCoreEnterpriseIds"
            ),
        )
    )
    warehouse_pledge = (
        None
        if wp is None
        else WarehousePledgeTerms(
            max_ltv=wp.max_ltv,
            haircut=wp.haircut,
            accepted_warehouse_ids=problems.ids(
                wp.accepted_warehouse_ids, "terms.warehousePledge.acceptedWarehouseIds"
            ),
        )
    )
    scorecard = ScorecardTerms()
    sc = data.scorecard
    if sc is not None:
        exposure = sc.max_core_enterprise_exposure
        auto = sc.auto_approve_below
        scorecard = ScorecardTerms(
            min_bureau_score=sc.min_bureau_score,
            max_current_delinquencies=sc.max_current_delinquencies,
            max_debt_to_income=sc.max_debt_to_income,
            max_core_enterprise_exposure=None
            if exposure is None
            else problems.money(exposure, "terms.scorecard.maxCoreEnterpriseExposure"),
            auto_approve_below=None
            if auto is None
            else problems.money(auto, "terms.scorecard.autoApproveBelow"),
            approval_validity_days=sc.approval_validity_days,
        )
    collect(problems.items)
    assert min_amount is not None and max_amount is not None
    return ProductTerms(
        currency=data.currency,
        min_amount=min_amount,
        max_amount=max_amount,
        term_unit=data.term_unit,
        allowed_terms=tuple(data.allowed_terms),
        annual_rate=data.annual_rate,
        repayment_method=data.repayment_method,
        day_count=data.day_count,
        business_day_convention=data.business_day_convention,
        holiday_calendar=data.holiday_calendar,
        late_penalty=LatePenalty(
            daily_rate=data.late_penalty.daily_rate,
            basis=data.late_penalty.basis,
            grace_days=data.late_penalty.grace_days,
        ),
        prepayment_penalty=PrepaymentPenalty(
            rate=data.prepayment_penalty.rate,
            free_allowance=data.prepayment_penalty.free_allowance,
        ),
        origination_fee=fee,
        order_financing=order_financing,
        warehouse_pledge=warehouse_pledge,
        consumer_eligibility=None
        if ce is None
        else ConsumerEligibility(
            min_age=ce.min_age, max_age=ce.max_age, min_credit_score=ce.min_credit_score
        ),
        scorecard=scorecard,
    )
