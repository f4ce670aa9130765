"""GraphQL types of products, the marketplace and quotes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.calendars.types import BusinessDayConvention, HolidayCalendar
from api.errors import UserError
from api.pagination import MAX_PAGE, check_first, decode_keyset, encode_keyset
from api.parties.types import OrganizationNode
from api.prefetch import Prefetched, kept, node_fields, related
from api.relay import load_node, load_node_list, parse_uuid
from api.scalars import MoneyType, Rate
from api.tenancy.types import TenantNode
from domain.kernel import daycount
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope
from domain.loans import policy as loans_policy
from domain.products import models
from domain.products.policy import CalendarWarning as CalendarWarningRow
from domain.products.policy import ProductTerms, product_visible
from domain.products.repository import Keyset, ProductWithTerms, terms_of
from domain.products.service import ProductQuote

ProductLine = strawberry.enum(
    models.ProductLine, description="The three product lines of the marketplace."
)
ProductStatus = strawberry.enum(
    models.ProductStatus, description="Lifecycle of a product: DRAFT, PUBLISHED, RETIRED (final)."
)
TermUnit = strawberry.enum(
    models.TermUnit,
    description="What allowed terms count: months (instalments) or days (one bullet period).",
)
FeeKind = strawberry.enum(
    models.FeeKind, description="How the origination fee is set: none, flat or a percentage."
)
PenaltyBasis = strawberry.enum(
    models.PenaltyBasis, description="What late-payment penalty interest accrues on."
)
RepaymentMethod = strawberry.enum(
    loans_policy.RepaymentMethod,
    description="How principal and interest are spread over the periods.",
)
DayCountConvention = strawberry.enum(
    daycount.DayCountConvention,
    description="Day-count convention for interest by the day (ACT/365 Fixed, ACT/360, 30/360).",
)

#: Largest page a connection serves.


# -- terms ----------------------------------------------------------------------------------------


@strawberry.type(name="OriginationFee", description="Upfront fee, deducted from the payout.")
class OriginationFeeType:
    kind: FeeKind = strawberry.field(description="None, flat or a percentage.")  # type: ignore[valid-type]
    flat: MoneyType | None = strawberry.field(description="The flat fee, for FLAT.")
    rate: Rate | None = strawberry.field(description="Fraction of the amount, for PERCENT.")


@strawberry.type(name="LatePenalty", description="Penalty interest on overdue amounts.")
class LatePenaltyType:
    daily_rate: Rate = strawberry.field(description="Rate a day, e.g. 0.0005.")
    basis: PenaltyBasis = strawberry.field(description="What the penalty accrues on.")  # type: ignore[valid-type]
    grace_days: int = strawberry.field(description="Days past due before it starts.")


@strawberry.type(
    name="PrepaymentPenalty",
    description="Charge on principal repaid early beyond a free allowance.",
)
class PrepaymentPenaltyType:
    rate: Rate = strawberry.field(description="Fraction of the prepaid principal charged.")
    free_allowance: Rate = strawberry.field(
        description="Fraction of the original principal that may be prepaid free of charge."
    )


@strawberry.type(name="OrderFinancingTerms", description="Terms of an ORDER_FINANCING product.")
class OrderFinancingTermsType:
    max_advance_rate: Rate = strawberry.field(
        description="Largest fraction of a confirmed order's amount that is lent."
    )
    core_enterprise_pks: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="Core enterprises whose confirmed orders are financed.")
    async def eligible_core_enterprises(self, info: Info) -> list[OrganizationNode]:
        return await _organizations(info, self.core_enterprise_pks)


@strawberry.type(
    name="WarehousePledgeTerms", description="Terms of a WAREHOUSE_RECEIPT_PLEDGE product."
)
class WarehousePledgeTermsType:
    max_ltv: Rate = strawberry.field(
        description="Largest loan-to-value against the goods' value after the haircut."
    )
    haircut: Rate = strawberry.field(
        description="Fraction taken off the goods' valuation before the LTV applies."
    )
    warehouse_pks: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="Supervised warehouses whose receipts are accepted.")
    async def accepted_warehouses(self, info: Info) -> list[OrganizationNode]:
        return await _organizations(info, self.warehouse_pks)


@strawberry.type(name="ConsumerEligibility", description="Who may apply for CONSUMER_CREDIT.")
class ConsumerEligibilityType:
    min_age: int = strawberry.field(description="Youngest applicant, in years.")
    max_age: int = strawberry.field(description="Oldest applicant, in years.")
    min_credit_score: int = strawberry.field(description="Lowest credit score accepted (0-1000).")


@strawberry.type(
    name="Scorecard",
    description="The risk scorecard of a product version: each rule applies when set.",
)
class ScorecardType:
    min_bureau_score: int | None = strawberry.field(
        description="Lowest credit bureau score accepted (0-1000)."
    )
    max_current_delinquencies: int | None = strawberry.field(
        description="Most delinquencies currently open on the bureau report."
    )
    max_debt_to_income: Rate | None = strawberry.field(
        description="Highest debt-to-income ratio (CONSUMER_CREDIT)."
    )
    max_core_enterprise_exposure: MoneyType | None = strawberry.field(
        description="Most lent against one core enterprise's orders (ORDER_FINANCING)."
    )
    auto_approve_below: MoneyType | None = strawberry.field(
        description="Amounts up to this are approved without review (CONSUMER_CREDIT)."
    )
    approval_validity_days: int = strawberry.field(
        description="Days an approval waits for signing."
    )


async def _organizations(info: Info, ids: list[uuid.UUID]) -> list[OrganizationNode]:
    return await load_node_list(info, OrganizationNode, ids)


@strawberry.type(
    name="ProductVersion",
    description="The terms of one version of a product; frozen once the product is published.",
)
class ProductVersionType:
    version: int = strawberry.field(description="Version number, from 1.")
    created_at: datetime = strawberry.field(description="When this version was written.")
    currency: str = strawberry.field(description="ISO 4217 currency the product lends in.")
    min_amount: MoneyType = strawberry.field(description="Smallest amount lent.")
    max_amount: MoneyType = strawberry.field(description="Largest amount lent.")
    term_unit: TermUnit = strawberry.field(description="What the allowed terms count.")  # type: ignore[valid-type]
    allowed_terms: list[int] = strawberry.field(description="Terms offered, ascending.")
    annual_rate: Rate = strawberry.field(description="Nominal annual interest rate.")
    repayment_method: RepaymentMethod = strawberry.field(  # type: ignore[valid-type]
        description="How principal and interest are repaid."
    )
    day_count: DayCountConvention = strawberry.field(  # type: ignore[valid-type]
        description="Day count for interest by the day."
    )
    business_day_convention: BusinessDayConvention = strawberry.field(  # type: ignore[valid-type]
        description="How a due date on a non-working day of holidayCalendar moves. Interest "
        "of a shifted period accrues to the unadjusted scheduled date: it is the same as if "
        "the date had not moved, and the next period starts on the scheduled date."
    )
    holiday_calendar: HolidayCalendar = strawberry.field(  # type: ignore[valid-type]
        description="Whose working days the due dates follow."
    )
    origination_fee: OriginationFeeType = strawberry.field(description="Upfront fee.")
    late_penalty: LatePenaltyType = strawberry.field(description="Late-payment penalty.")
    prepayment_penalty: PrepaymentPenaltyType = strawberry.field(
        description="Early-repayment penalty."
    )
    order_financing: OrderFinancingTermsType | None = strawberry.field(
        description="Terms of the ORDER_FINANCING line; null for other lines."
    )
    warehouse_pledge: WarehousePledgeTermsType | None = strawberry.field(
        description="Terms of the WAREHOUSE_RECEIPT_PLEDGE line; null for other lines."
    )
    consumer_eligibility: ConsumerEligibilityType | None = strawberry.field(
        description="Eligibility of the CONSUMER_CREDIT line; null for other lines."
    )
    scorecard: ScorecardType = strawberry.field(
        description="The risk scorecard and how long an approval waits for signing."
    )

    @classmethod
    def from_row(cls, row: models.ProductVersion) -> ProductVersionType:
        terms: ProductTerms = terms_of(row)
        sc = terms.scorecard
        fee, of, wp, ce = (
            terms.origination_fee,
            terms.order_financing,
            terms.warehouse_pledge,
            terms.consumer_eligibility,
        )
        return cls(
            version=row.version,
            created_at=row.created_at,
            currency=terms.currency,
            min_amount=MoneyType.of(terms.min_amount),
            max_amount=MoneyType.of(terms.max_amount),
            term_unit=terms.term_unit,
            allowed_terms=list(terms.allowed_terms),
            annual_rate=Rate(terms.annual_rate),
            repayment_method=terms.repayment_method,
            day_count=terms.day_count,
            business_day_convention=terms.business_day_convention,
            holiday_calendar=terms.holiday_calendar,
            origination_fee=OriginationFeeType(
                kind=fee.kind,
                flat=None if fee.flat is None else MoneyType.of(fee.flat),
                rate=None if fee.rate is None else Rate(fee.rate),
            ),
            late_penalty=LatePenaltyType(
                daily_rate=Rate(terms.late_penalty.daily_rate),
                basis=terms.late_penalty.basis,
                grace_days=terms.late_penalty.grace_days,
            ),
            prepayment_penalty=PrepaymentPenaltyType(
                rate=Rate(terms.prepayment_penalty.rate),
                free_allowance=Rate(terms.prepayment_penalty.free_allowance),
            ),
            order_financing=None
            if of is None
            else OrderFinancingTermsType(
                max_advance_rate=Rate(of.max_advance_rate),
                core_enterprise_pks=list(of.eligible_core_enterprise_ids),
            ),
            warehouse_pledge=None
            if wp is None
            else WarehousePledgeTermsType(
                max_ltv=Rate(wp.max_ltv),
                haircut=Rate(wp.haircut),
                warehouse_pks=list(wp.accepted_warehouse_ids),
            ),
            consumer_eligibility=None
            if ce is None
            else ConsumerEligibilityType(
                min_age=ce.min_age, max_age=ce.max_age, min_credit_score=ce.min_credit_score
            ),
            scorecard=ScorecardType(
                min_bureau_score=sc.min_bureau_score,
                max_current_delinquencies=sc.max_current_delinquencies,
                max_debt_to_income=None
                if sc.max_debt_to_income is None
                else Rate(sc.max_debt_to_income),
                max_core_enterprise_exposure=None
                if sc.max_core_enterprise_exposure is None
                else MoneyType.of(sc.max_core_enterprise_exposure),
                auto_approve_below=None
                if sc.auto_approve_below is None
                else MoneyType.of(sc.auto_approve_below),
                approval_validity_days=sc.approval_validity_days,
            ),
        )


# -- product --------------------------------------------------------------------------------------


def _sees_every_version(actor: Actor, product: models.Product) -> bool:
    """The operator and the funder's own staff see every version; marketplace readers only
    the current one (as row-level security also says)."""
    return actor.is_platform or (
        actor.tenant_id == product.tenant_id and actor.has(Scope.PRODUCTS_READ)
    )


@strawberry.type(name="Product", description="A funder's loan product and its versions of terms.")
class ProductNode(relay.Node, Prefetched):
    id: relay.NodeID[str]
    product_line: ProductLine = strawberry.field(description="The product line.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="Display name.")
    status: ProductStatus = strawberry.field(description="DRAFT, PUBLISHED or RETIRED.")  # type: ignore[valid-type]
    version: int = strawberry.field(description="Number of the current version.")
    created_at: datetime = strawberry.field(description="When the product was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    published_at: datetime | None = strawberry.field(description="When it was published.")
    retired_at: datetime | None = strawberry.field(description="When it was retired.")
    row: strawberry.Private[ProductWithTerms]

    # Built when selected: a page that shows no terms does not decode them.
    @strawberry.field(
        description="The terms of the current version: what a new application applies under."
    )
    def current_terms(self) -> ProductVersionType:
        return ProductVersionType.from_row(self.row.version)

    @classmethod
    def from_row(cls, found: ProductWithTerms) -> ProductNode:
        product = found.product
        return cls(
            id=str(product.id),
            product_line=product.product_line,
            name=product.name,
            status=product.status,
            version=product.current_version,
            created_at=product.created_at,
            updated_at=product.updated_at,
            published_at=product.published_at,
            retired_at=product.retired_at,
            row=found,
        )

    @strawberry.field(description="The funder offering the product.")
    def funder(self, info: Info) -> TenantNode | None:
        # Loaded with the page (api.prefetch), or on its own for a product reached otherwise.
        return kept(  # type: ignore[return-value]
            self, "funder", lambda: load_node(info, TenantNode, self.row.product.tenant_id)
        )

    @strawberry.field(
        description="Every version, newest first, for the funder's staff and the operator; "
        "only the current version for marketplace readers."
    )
    async def versions(self, info: Info) -> list[ProductVersionType]:
        if not _sees_every_version(info.context.actor, self.row.product):
            return [self.current_terms()]
        rows = await info.context.loaders.product_versions.load(self.row.product.id)
        return [ProductVersionType.from_row(v) for v in rows]

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ProductNode | None]:
        # The same checks as the typed fields: own products with products:read, published
        # ones with marketplace:read, everything for the operator.
        ids = [parse_uuid(i) for i in node_ids]
        actor: Actor = info.context.actor
        if not (actor.has(Scope.PRODUCTS_READ) or actor.has(Scope.MARKETPLACE_READ)):
            return [None] * len(ids)
        wanted = [i for i in ids if i is not None]
        rows = await info.context.loaders.products.load_many(wanted)
        by_id = dict(zip(wanted, rows, strict=True))
        out: list[ProductNode | None] = []
        for i in ids:
            row = by_id.get(i) if i is not None else None
            if row is not None and product_visible(actor, row.product):
                out.append(cls.from_row(row))
            else:
                out.append(None)
        return out


# -- connections ----------------------------------------------------------------------------------


@strawberry.type(description="A product and its cursor in a connection.")
class ProductEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this product.")
    node: ProductNode = strawberry.field(description="The product.")


@strawberry.type(description="A page of products, in keyset order.")
class ProductConnection:
    edges: list[ProductEdge] = strawberry.field(description="The products of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


def encode_cursor(prefix: str, at: datetime | None, tenant_id: uuid.UUID, id: uuid.UUID) -> str:
    """An opaque cursor for the keyset position ``(at, tenant_id, id)``."""
    assert at is not None  # the sort column is set for every row in the connection
    return encode_keyset(prefix, at, tenant_id, id)


def decode_cursor(prefix: str, cursor: str | None) -> Keyset | None:
    """The keyset position in ``cursor``; a GraphQL error when it is not one of ours."""
    found = decode_keyset(prefix, cursor, 2)
    return None if found is None else (found[0], found[1][0], found[1][1])


async def with_related(info: Info, page: ProductConnection) -> ProductConnection:
    """``page`` with the funders its nodes show loaded for the whole page (:mod:`api.prefetch`):
    one batch, through the field's own loader and read rule."""
    nodes = [edge.node for edge in page.edges]
    if nodes and "funder" in node_fields(info):
        funders = await related(info, TenantNode, (n.row.product.tenant_id for n in nodes))
        for n in nodes:
            n.keep("funder", funders.get(n.row.product.tenant_id))
    return page


def connection(
    rows: list[ProductWithTerms], first: int, prefix: str, *, marketplace: bool
) -> ProductConnection:
    """A connection from up to ``first + 1`` rows (the extra one only says there is more)."""
    page = rows[:first]
    edges = [
        ProductEdge(
            cursor=encode_cursor(
                prefix,
                r.product.published_at if marketplace else r.product.created_at,
                r.product.tenant_id,
                r.product.id,
            ),
            node=ProductNode.from_row(r),
        )
        for r in page
    ]
    return ProductConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > first,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


# -- quotes ---------------------------------------------------------------------------------------


@strawberry.type(description="One line of a quoted repayment schedule.")
class QuoteInstallment:
    number: int = strawberry.field(description="Instalment number, from 1.")
    scheduled_date: date = strawberry.field(
        description="The unadjusted end of the period: interest accrues to this date, and the "
        "next period starts on it."
    )
    due_date: date = strawberry.field(
        description="When it is due: scheduledDate moved to a working day by the product's "
        "business-day convention (the same date under NONE)."
    )
    calendar_known: bool = strawberry.field(
        description="False when the due date's year is in neither the packaged calendar nor "
        "the operator's entries, so it was placed on a Monday-to-Friday guess and may move "
        "(see Quote.calendarWarnings). Always true under the NONE convention."
    )
    principal: MoneyType = strawberry.field(description="Principal repaid.")
    interest: MoneyType = strawberry.field(description="Interest paid.")
    total: MoneyType = strawberry.field(description="Principal plus interest.")
    opening_balance: MoneyType = strawberry.field(description="Principal owed before it.")
    closing_balance: MoneyType = strawberry.field(description="Principal owed after it.")


@strawberry.type(description="A due date placed on a calendar that does not know its year yet.")
class CalendarWarning:
    installment: int = strawberry.field(description="The instalment number.")
    scheduled_date: date = strawberry.field(description="Its unadjusted date.")
    due_date: date = strawberry.field(description="Its due date, as guessed.")
    message: str = strawberry.field(description="What is not known.")


@strawberry.type(
    description="A priced offer: schedule, fees, total cost of credit and APR for an amount "
    "and a term under a product's current version."
)
class Quote:
    product: ProductNode = strawberry.field(description="The product quoted.")
    version: int = strawberry.field(description="The product version the quote is priced under.")
    amount: MoneyType = strawberry.field(description="The amount borrowed (principal).")
    term: int = strawberry.field(description="The term, in term units.")
    term_unit: TermUnit = strawberry.field(description="Months or days.")  # type: ignore[valid-type]
    start_date: date = strawberry.field(description="Value date interest runs from.")
    maturity_date: date = strawberry.field(description="Due date of the last instalment.")
    annual_rate: Rate = strawberry.field(description="Nominal annual interest rate.")
    repayment_method: RepaymentMethod = strawberry.field(  # type: ignore[valid-type]
        description="How the schedule repays."
    )
    business_day_convention: BusinessDayConvention = strawberry.field(  # type: ignore[valid-type]
        description="How due dates were moved off non-working days; interest of a shifted "
        "period accrues to its unadjusted scheduled date, so only the due date (and hence "
        "the APR's timing) changes."
    )
    holiday_calendar: HolidayCalendar = strawberry.field(  # type: ignore[valid-type]
        description="Whose working days the due dates follow."
    )
    installments: list[QuoteInstallment] = strawberry.field(description="The schedule.")
    calendar_warnings: list[CalendarWarning] = strawberry.field(
        description="One entry per due date placed beyond the known calendar; empty when "
        "every due date is on an official working day."
    )
    origination_fee: MoneyType = strawberry.field(description="Upfront fee, deducted at payout.")
    net_disbursed: MoneyType = strawberry.field(description="Amount less the upfront fee.")
    total_interest: MoneyType = strawberry.field(description="Interest over the whole term.")
    total_cost_of_credit: MoneyType = strawberry.field(description="Total interest plus fees.")
    total_repayable: MoneyType = strawberry.field(description="Sum of all instalments.")
    apr: Rate = strawberry.field(
        description="Annual percentage rate: the effective annual internal rate of return of "
        "the borrower's cash flows (fees included), rounded to 4 decimals."
    )
    apr_nominal: Rate = strawberry.field(
        description="The same rate compounded monthly (internal rate x 12), as Chinese "
        "lenders disclose the annualised rate; 4 decimals."
    )

    @classmethod
    def of(cls, quoted: ProductQuote) -> Quote:
        q, schedule, cost = quoted.quote, quoted.quote.schedule, quoted.quote.cost
        return cls(
            product=ProductNode.from_row(quoted.product),
            version=quoted.product.version.version,
            amount=MoneyType.of(cost.principal),
            term=q.term,
            term_unit=q.term_unit,
            start_date=schedule.terms.start_date,
            maturity_date=schedule.maturity_date,
            annual_rate=Rate(schedule.terms.annual_rate),
            repayment_method=schedule.terms.method,
            business_day_convention=q.business_day_convention,
            holiday_calendar=q.holiday_calendar,
            installments=installments_of(schedule, q.calendar_known),
            calendar_warnings=warnings_of(q.calendar_warnings),
            origination_fee=MoneyType.of(cost.fees),
            net_disbursed=MoneyType.of(cost.net_disbursed),
            total_interest=MoneyType.of(cost.total_interest),
            total_cost_of_credit=MoneyType.of(cost.total_cost_of_credit),
            total_repayable=MoneyType.of(cost.total_repayable),
            apr=Rate(cost.apr),
            apr_nominal=Rate(q.apr_nominal),
        )


def installments_of(
    schedule: loans_policy.Schedule, known: tuple[bool, ...]
) -> list[QuoteInstallment]:
    """The GraphQL lines of ``schedule``; ``known[k]`` for line ``k + 1`` (all known if empty)."""
    return [
        QuoteInstallment(
            number=line.number,
            scheduled_date=line.period_end,
            due_date=line.due_date,
            calendar_known=known[line.number - 1] if known else True,
            principal=MoneyType.of(line.principal),
            interest=MoneyType.of(line.interest),
            total=MoneyType.of(line.total),
            opening_balance=MoneyType.of(line.opening_balance),
            closing_balance=MoneyType.of(line.closing_balance),
        )
        for line in schedule.installments
    ]


def warnings_of(warnings: Iterable[CalendarWarningRow]) -> list[CalendarWarning]:
    """The GraphQL calendar warnings."""
    return [
        CalendarWarning(
            installment=w.installment,
            scheduled_date=w.scheduled_date,
            due_date=w.due_date,
            message=w.message,
        )
        for w in warnings
    ]


@strawberry.type(description="Result of quote.")
class QuotePayload:
    quote: Quote | None = strawberry.field(description="The quote, unless refused.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


__all__ = [
    "MAX_PAGE",
    "ConsumerEligibilityType",
    "DayCountConvention",
    "FeeKind",
    "PenaltyBasis",
    "ProductConnection",
    "ProductLine",
    "ProductNode",
    "ProductStatus",
    "ProductVersionType",
    "Quote",
    "QuotePayload",
    "RepaymentMethod",
    "TermUnit",
    "check_first",
    "connection",
    "decode_cursor",
    "encode_cursor",
    "installments_of",
    "warnings_of",
]
