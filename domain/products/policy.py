"""Pure rules for products: what a valid set of terms is, the lifecycle, who sees a product,
and how a product turns an amount and a term into a schedule and a cost quote.

No I/O and no await: the service checks what needs the database (that eligible core
enterprises and accepted warehouses are organizations of the right kind).

Bounds (the reviewer's checklist):

* amounts: ``0 < min_amount <= max_amount``, both in the product currency;
* annual rate: ``0 <= rate <= 36 %`` (the ceiling on comprehensive financing cost);
* allowed terms: non-empty, 1..60 for monthly products, 1..366 for daily (bullet) ones; a
  daily product repays BULLET;
* origination fee: a percentage in ``[0, 10 %]`` or a flat amount in ``[0, min_amount)``;
* late penalty: ``daily_rate >= 0`` and ``daily_rate x 365 <= 36 %``, grace ``0..30`` days;
* prepayment penalty: ``0..5 %`` of prepaid principal, free allowance ``0..100 %`` of the
  original principal (prepaid within the allowance costs nothing);
* ORDER_FINANCING: advance rate in ``(0, 1]``, at least one eligible core enterprise;
* WAREHOUSE_RECEIPT_PLEDGE: LTV in ``(0, 1]``, haircut in ``[0, 1)``, at least one accepted
  warehouse;
* CONSUMER_CREDIT: ``18 <= min_age <= max_age <= 100``, credit score floor ``0..1000``;
* scorecard (each rule applies when set): bureau score floor ``0..1000``, current
  delinquencies ``>= 0``, debt-to-income ``(0, 5]`` with at most 4 places (CONSUMER_CREDIT),
  core-enterprise exposure ``> 0`` (ORDER_FINANCING), auto-approval ceiling in
  ``(0, max_amount]`` (CONSUMER_CREDIT), approval validity ``1..365`` days;
* each line's block is required for its line and refused for the others;
* every rate is a finite Decimal with at most 8 decimal places (``NUMERIC(10, 8)``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Final

from domain.kernel.actor import Actor
from domain.kernel.calendar import BusinessDayRule, HolidayCalendar, KnownCalendar, calendar_of
from domain.kernel.daycount import DayCountConvention
from domain.kernel.errors import DomainError, ErrorCode, collect
from domain.kernel.money import MINOR_UNIT_EXPONENTS, Money
from domain.kernel.scopes import Scope
from domain.loans.policy import (
    CostQuote,
    PeriodUnit,
    RepaymentMethod,
    Schedule,
    ScheduleError,
    ScheduleTerms,
    build_schedule,
    quote_costs,
)
from domain.parties.models import OrganizationKind
from domain.products.models import (
    FeeKind,
    PenaltyBasis,
    Product,
    ProductLine,
    ProductStatus,
    TermUnit,
)

MAX_ANNUAL_RATE: Final = Decimal("0.36")
MAX_MONTH_TERM: Final = 60
MAX_DAY_TERM: Final = 366
MAX_ORIGINATION_FEE_RATE: Final = Decimal("0.10")
MAX_GRACE_DAYS: Final = 30
MAX_PREPAYMENT_PENALTY_RATE: Final = Decimal("0.05")
MIN_BORROWER_AGE: Final = 18
MAX_BORROWER_AGE: Final = 100
MAX_CREDIT_SCORE: Final = 1000
#: Decimal places a stored rate keeps (``NUMERIC(10, 8)``); more would be silently rounded.
RATE_PLACES: Final = 8
MAX_DEBT_TO_INCOME: Final = Decimal(5)
#: A debt-to-income ceiling is set in basis points.
DEBT_TO_INCOME_PLACES: Final = 4
DEFAULT_APPROVAL_VALIDITY_DAYS: Final = 30
MAX_APPROVAL_VALIDITY_DAYS: Final = 365

# The fee is computed exactly (a 19-digit amount times an 8-place rate), whatever the caller's
# decimal context; the one rounding is the explicit half-up to the minor unit.
_FEE_CONTEXT: Final = Context(prec=60)

_ONE: Final = Decimal(1)
_ZERO: Final = Decimal(0)


# -- terms --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OriginationFee:
    """An upfront fee, deducted from the amount paid out: ``flat`` or ``rate`` x amount."""

    kind: FeeKind
    flat: Money | None = None
    rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LatePenalty:
    """Penalty interest on overdue amounts: ``daily_rate`` a day on ``basis`` after
    ``grace_days`` days past the due date."""

    daily_rate: Decimal
    basis: PenaltyBasis
    grace_days: int


@dataclass(frozen=True, slots=True)
class PrepaymentPenalty:
    """``rate`` of the principal prepaid beyond ``free_allowance`` x the original principal."""

    rate: Decimal
    free_allowance: Decimal


@dataclass(frozen=True, slots=True)
class OrderFinancingTerms:
    """ORDER_FINANCING: advance at most ``max_advance_rate`` of a confirmed order owed by one
    of the eligible core enterprises."""

    max_advance_rate: Decimal
    eligible_core_enterprise_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class WarehousePledgeTerms:
    """WAREHOUSE_RECEIPT_PLEDGE: lend at most ``max_ltv`` of the goods' value after a
    ``haircut``, on receipts of an accepted warehouse."""

    max_ltv: Decimal
    haircut: Decimal
    accepted_warehouse_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class ConsumerEligibility:
    """CONSUMER_CREDIT: who may apply."""

    min_age: int
    max_age: int
    min_credit_score: int


@dataclass(frozen=True, slots=True)
class ScorecardTerms:
    """The risk scorecard of a product version: each rule applies when set."""

    min_bureau_score: int | None = None  # 0-1000
    max_current_delinquencies: int | None = None  # >= 0
    max_debt_to_income: Decimal | None = None  # (0, 5], 4 places; CONSUMER_CREDIT only
    max_core_enterprise_exposure: Money | None = None  # > 0; ORDER_FINANCING only
    auto_approve_below: Money | None = None  # (0, max_amount]; CONSUMER_CREDIT only
    approval_validity_days: int = DEFAULT_APPROVAL_VALIDITY_DAYS  # 1-365: wait for signing


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """Everything one version of a product says. Validated by :func:`validate_terms`."""

    currency: str
    min_amount: Money
    max_amount: Money
    term_unit: TermUnit
    allowed_terms: tuple[int, ...]
    annual_rate: Decimal
    repayment_method: RepaymentMethod
    day_count: DayCountConvention
    late_penalty: LatePenalty
    prepayment_penalty: PrepaymentPenalty
    origination_fee: OriginationFee = field(
        default_factory=lambda: OriginationFee(kind=FeeKind.NONE)
    )
    order_financing: OrderFinancingTerms | None = None
    warehouse_pledge: WarehousePledgeTerms | None = None
    consumer_eligibility: ConsumerEligibility | None = None
    #: How a due date on a non-working day of ``holiday_calendar`` moves. Interest accrues to
    #: the unadjusted (scheduled) date either way; only the due date moves.
    business_day_convention: BusinessDayRule = BusinessDayRule.NONE
    holiday_calendar: HolidayCalendar = HolidayCalendar.NONE
    scorecard: ScorecardTerms = field(default_factory=ScorecardTerms)


def _rate(
    problems: list[DomainError],
    value: Decimal,
    field_name: str,
    *,
    ok: Callable[[Decimal], bool],
    code: ErrorCode,
    bounds: str,
    places: int = RATE_PLACES,
) -> None:
    """Check a rate: a finite Decimal with at most ``places`` places (8 unless told), then
    within its bounds."""
    if not isinstance(value, Decimal) or not value.is_finite():
        problems.append(DomainError(ErrorCode.INVALID_RATE, "must be a finite decimal", field_name))
        return
    if _decimal_places(value) > places:
        problems.append(
            DomainError(ErrorCode.INVALID_RATE, f"at most {places} decimal places", field_name)
        )
        return
    if not ok(value):
        problems.append(DomainError(code, bounds, field_name))


def _decimal_places(value: Decimal) -> int:
    """Decimal places of a finite ``value`` once trailing zeros are dropped ("0.120" has 2).
    Read from the digits, not by arithmetic, so a huge input cannot overflow a context."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    places = -exponent
    for digit in reversed(digits):
        if places <= 0 or digit != 0:
            break
        places -= 1
    return max(places, 0)


def _money(problems: list[DomainError], value: Money, currency: str, field_name: str) -> bool:
    if value.currency != currency:
        problems.append(
            DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"in {value.currency}, the product lends in {currency}",
                field_name,
            )
        )
        return False
    return True


def _check_amounts(problems: list[DomainError], terms: ProductTerms) -> bool:
    """Amount range rules; True when the range is usable for the fee check."""
    if terms.currency not in MINOR_UNIT_EXPONENTS:
        problems.append(
            DomainError(
                ErrorCode.INVALID_CURRENCY,
                f"one of {', '.join(sorted(MINOR_UNIT_EXPONENTS))}",
                "terms.currency",
            )
        )
        return False
    same = _money(problems, terms.min_amount, terms.currency, "terms.minAmount")
    same = _money(problems, terms.max_amount, terms.currency, "terms.maxAmount") and same
    if not same:
        return False
    if not terms.min_amount.is_positive():
        problems.append(
            DomainError(ErrorCode.AMOUNT_RANGE_INVALID, "must be above zero", "terms.minAmount")
        )
        return False
    if terms.min_amount > terms.max_amount:
        problems.append(
            DomainError(
                ErrorCode.AMOUNT_RANGE_INVALID,
                "the maximum amount is below the minimum",
                "terms.maxAmount",
            )
        )
        return False
    return True


def _check_schedule_shape(problems: list[DomainError], terms: ProductTerms) -> None:
    _rate(
        problems,
        terms.annual_rate,
        "terms.annualRate",
        ok=lambda r: _ZERO <= r <= MAX_ANNUAL_RATE,
        code=ErrorCode.ANNUAL_RATE_OUT_OF_RANGE,
        bounds="from 0 to 0.36 (36 % a year)",
    )
    limit = MAX_MONTH_TERM if terms.term_unit is TermUnit.MONTH else MAX_DAY_TERM
    if not terms.allowed_terms:
        problems.append(
            DomainError(ErrorCode.ALLOWED_TERMS_INVALID, "at least one term", "terms.allowedTerms")
        )
    elif any(type(t) is not int or not 1 <= t <= limit for t in terms.allowed_terms):
        unit = "months" if terms.term_unit is TermUnit.MONTH else "days"
        problems.append(
            DomainError(
                ErrorCode.ALLOWED_TERMS_INVALID,
                f"each term from 1 to {limit} {unit}",
                "terms.allowedTerms",
            )
        )
    if terms.term_unit is TermUnit.DAY and terms.repayment_method is not RepaymentMethod.BULLET:
        problems.append(
            DomainError(
                ErrorCode.REPAYMENT_METHOD_NOT_ALLOWED,
                "terms counted in days are one period: repay BULLET",
                "terms.repaymentMethod",
            )
        )


def _check_fee(problems: list[DomainError], terms: ProductTerms, amounts_ok: bool) -> None:
    fee = terms.origination_fee
    where = "terms.originationFee"
    if fee.kind is FeeKind.NONE:
        if fee.flat is not None or fee.rate is not None:
            problems.append(DomainError(ErrorCode.INVALID, "no fee takes no amount", where))
    elif fee.kind is FeeKind.PERCENT:
        if fee.rate is None or fee.flat is not None:
            problems.append(DomainError(ErrorCode.INVALID, "a percentage fee takes a rate", where))
        else:
            _rate(
                problems,
                fee.rate,
                f"{where}.percent",
                ok=lambda r: _ZERO <= r <= MAX_ORIGINATION_FEE_RATE,
                code=ErrorCode.ORIGINATION_FEE_OUT_OF_RANGE,
                bounds="from 0 to 0.10 (10 %) of the amount",
            )
    elif fee.flat is None or fee.rate is not None:
        problems.append(DomainError(ErrorCode.INVALID, "a flat fee takes an amount", where))
    elif _money(problems, fee.flat, terms.currency, f"{where}.flat") and (
        fee.flat.is_negative() or (amounts_ok and fee.flat >= terms.min_amount)
    ):
        problems.append(
            DomainError(
                ErrorCode.ORIGINATION_FEE_OUT_OF_RANGE,
                "from 0 to less than the minimum amount",
                f"{where}.flat",
            )
        )


def _check_penalties(problems: list[DomainError], terms: ProductTerms) -> None:
    late = terms.late_penalty
    _rate(
        problems,
        late.daily_rate,
        "terms.latePenalty.dailyRate",
        ok=lambda r: r >= _ZERO and r * 365 <= MAX_ANNUAL_RATE,
        code=ErrorCode.LATE_PENALTY_OUT_OF_RANGE,
        bounds="from 0 to 0.36 / 365 a day (36 % a year)",
    )
    if type(late.grace_days) is not int or not 0 <= late.grace_days <= MAX_GRACE_DAYS:
        problems.append(
            DomainError(
                ErrorCode.LATE_PENALTY_OUT_OF_RANGE,
                f"from 0 to {MAX_GRACE_DAYS} days",
                "terms.latePenalty.graceDays",
            )
        )
    prepay = terms.prepayment_penalty
    _rate(
        problems,
        prepay.rate,
        "terms.prepaymentPenalty.rate",
        ok=lambda r: _ZERO <= r <= MAX_PREPAYMENT_PENALTY_RATE,
        code=ErrorCode.PREPAYMENT_PENALTY_OUT_OF_RANGE,
        bounds="from 0 to 0.05 (5 %) of the prepaid principal",
    )
    _rate(
        problems,
        prepay.free_allowance,
        "terms.prepaymentPenalty.freeAllowance",
        ok=lambda r: _ZERO <= r <= _ONE,
        code=ErrorCode.PREPAYMENT_PENALTY_OUT_OF_RANGE,
        bounds="from 0 to 1 (100 %) of the original principal",
    )


def _line_blocks(terms: ProductTerms) -> dict[ProductLine, tuple[str, object | None]]:
    return {
        ProductLine.ORDER_FINANCING: ("terms.orderFinancing", terms.order_financing),
        ProductLine.WAREHOUSE_RECEIPT_PLEDGE: ("terms.warehousePledge", terms.warehouse_pledge),
        ProductLine.CONSUMER_CREDIT: ("terms.consumerEligibility", terms.consumer_eligibility),
    }


def _check_line(problems: list[DomainError], line: ProductLine, terms: ProductTerms) -> None:
    for block_line, (where, block) in _line_blocks(terms).items():
        if block_line is line and block is None:
            problems.append(
                DomainError(
                    ErrorCode.PRODUCT_LINE_TERMS_REQUIRED, f"required for {line.value}", where
                )
            )
        elif block_line is not line and block is not None:
            problems.append(
                DomainError(
                    ErrorCode.PRODUCT_LINE_TERMS_NOT_ALLOWED,
                    f"only for {block_line.value} products",
                    where,
                )
            )
    if line is ProductLine.ORDER_FINANCING and terms.order_financing is not None:
        of = terms.order_financing
        _rate(
            problems,
            of.max_advance_rate,
            "terms.orderFinancing.maxAdvanceRate",
            ok=lambda r: _ZERO < r <= _ONE,
            code=ErrorCode.ADVANCE_RATE_OUT_OF_RANGE,
            bounds="above 0 and at most 1 (100 %) of the order",
        )
        if not of.eligible_core_enterprise_ids:
            problems.append(
                DomainError(
                    ErrorCode.COUNTERPARTIES_REQUIRED,
                    "at least one eligible core enterprise",
                    "terms.orderFinancing.eligibleCoreEnterpriseIds",
                )
            )
    if line is ProductLine.WAREHOUSE_RECEIPT_PLEDGE and terms.warehouse_pledge is not None:
        wp = terms.warehouse_pledge
        _rate(
            problems,
            wp.max_ltv,
            "terms.warehousePledge.maxLtv",
            ok=lambda r: _ZERO < r <= _ONE,
            code=ErrorCode.LTV_OUT_OF_RANGE,
            bounds="above 0 and at most 1 (100 %) of the valuation",
        )
        _rate(
            problems,
            wp.haircut,
            "terms.warehousePledge.haircut",
            ok=lambda r: _ZERO <= r < _ONE,
            code=ErrorCode.HAIRCUT_OUT_OF_RANGE,
            bounds="at least 0 and below 1 (100 %)",
        )
        if not wp.accepted_warehouse_ids:
            problems.append(
                DomainError(
                    ErrorCode.COUNTERPARTIES_REQUIRED,
                    "at least one accepted warehouse",
                    "terms.warehousePledge.acceptedWarehouseIds",
                )
            )
    if line is ProductLine.CONSUMER_CREDIT and terms.consumer_eligibility is not None:
        ce = terms.consumer_eligibility
        if not MIN_BORROWER_AGE <= ce.min_age <= ce.max_age <= MAX_BORROWER_AGE:
            problems.append(
                DomainError(
                    ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
                    f"ages with {MIN_BORROWER_AGE} <= minimum <= maximum <= {MAX_BORROWER_AGE}",
                    "terms.consumerEligibility.minAge",
                )
            )
        if not 0 <= ce.min_credit_score <= MAX_CREDIT_SCORE:
            problems.append(
                DomainError(
                    ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
                    f"from 0 to {MAX_CREDIT_SCORE}",
                    "terms.consumerEligibility.minCreditScore",
                )
            )


def _count(
    problems: list[DomainError], value: int | None, field_name: str, low: int, high: int | None
) -> None:
    """An optional whole number within ``low..high`` (no upper bound when ``high`` is None)."""
    if value is None:
        return
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        problems.append(DomainError(ErrorCode.ELIGIBILITY_OUT_OF_RANGE, bounds, field_name))


def _check_scorecard(
    problems: list[DomainError], line: ProductLine, terms: ProductTerms, amounts_ok: bool
) -> None:
    sc = terms.scorecard
    where = "terms.scorecard"
    _count(problems, sc.min_bureau_score, f"{where}.minBureauScore", 0, MAX_CREDIT_SCORE)
    _count(problems, sc.max_current_delinquencies, f"{where}.maxCurrentDelinquencies", 0, None)
    days = sc.approval_validity_days
    if type(days) is not int or not 1 <= days <= MAX_APPROVAL_VALIDITY_DAYS:
        problems.append(
            DomainError(
                ErrorCode.INVALID,
                f"from 1 to {MAX_APPROVAL_VALIDITY_DAYS} days",
                f"{where}.approvalValidityDays",
            )
        )
    # A rule of one line on another line's product would never be applied: refused, as a
    # block of another line is.
    only: tuple[tuple[str, object, ProductLine], ...] = (
        ("maxDebtToIncome", sc.max_debt_to_income, ProductLine.CONSUMER_CREDIT),
        ("maxCoreEnterpriseExposure", sc.max_core_enterprise_exposure, ProductLine.ORDER_FINANCING),
        ("autoApproveBelow", sc.auto_approve_below, ProductLine.CONSUMER_CREDIT),
    )
    for name, value, rule_line in only:
        if value is not None and line is not rule_line:
            problems.append(
                DomainError(
                    ErrorCode.PRODUCT_LINE_TERMS_NOT_ALLOWED,
                    f"only for {rule_line.value} products",
                    f"{where}.{name}",
                )
            )
    if sc.max_debt_to_income is not None and line is ProductLine.CONSUMER_CREDIT:
        _rate(
            problems,
            sc.max_debt_to_income,
            f"{where}.maxDebtToIncome",
            ok=lambda r: _ZERO < r <= MAX_DEBT_TO_INCOME,
            code=ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
            bounds="above 0 and at most 5 (500 % of income)",
            places=DEBT_TO_INCOME_PLACES,
        )
    exposure = sc.max_core_enterprise_exposure
    if exposure is not None and line is ProductLine.ORDER_FINANCING:
        field_name = f"{where}.maxCoreEnterpriseExposure"
        if _money(problems, exposure, terms.currency, field_name) and not exposure.is_positive():
            problems.append(
                DomainError(ErrorCode.ELIGIBILITY_OUT_OF_RANGE, "must be above zero", field_name)
            )
    auto = sc.auto_approve_below
    if auto is not None and line is ProductLine.CONSUMER_CREDIT:
        field_name = f"{where}.autoApproveBelow"
        if _money(problems, auto, terms.currency, field_name):
            if not auto.is_positive():
                problems.append(
                    DomainError(
                        ErrorCode.ELIGIBILITY_OUT_OF_RANGE, "must be above zero", field_name
                    )
                )
            elif amounts_ok and auto > terms.max_amount:
                problems.append(
                    DomainError(
                        ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
                        "at most the maximum amount",
                        field_name,
                    )
                )


def validate_terms(line: ProductLine, terms: ProductTerms) -> ProductTerms:
    """``terms`` normalised (allowed terms sorted, without duplicates; counterparty lists
    without duplicates), or every refusal at once as a ``ValidationErrors``."""
    problems: list[DomainError] = []
    amounts_ok = _check_amounts(problems, terms)
    _check_schedule_shape(problems, terms)
    _check_fee(problems, terms, amounts_ok)
    _check_penalties(problems, terms)
    _check_line(problems, line, terms)
    _check_scorecard(problems, line, terms, amounts_ok)
    collect(problems)
    return normalize(terms)


def normalize(terms: ProductTerms) -> ProductTerms:
    """Canonical form of valid terms, so that equal terms compare equal: allowed terms sorted
    without duplicates, counterparty lists without duplicates (in the order given)."""
    of, wp = terms.order_financing, terms.warehouse_pledge
    return replace(
        terms,
        allowed_terms=tuple(sorted(set(terms.allowed_terms))),
        order_financing=None
        if of is None
        else replace(of, eligible_core_enterprise_ids=_unique(of.eligible_core_enterprise_ids)),
        warehouse_pledge=None
        if wp is None
        else replace(wp, accepted_warehouse_ids=_unique(wp.accepted_warehouse_ids)),
    )


def _unique(ids: tuple[uuid.UUID, ...]) -> tuple[uuid.UUID, ...]:
    return tuple(dict.fromkeys(ids))


def counterparty_kinds(terms: ProductTerms) -> list[tuple[str, uuid.UUID, OrganizationKind]]:
    """Every organization the terms name, with the field and the kind it must have."""
    wanted: list[tuple[str, uuid.UUID, OrganizationKind]] = []
    if terms.order_financing is not None:
        wanted += [
            (
                "terms.orderFinancing.eligibleCoreEnterpriseIds",
                org,
                OrganizationKind.CORE_ENTERPRISE,
            )
            for org in terms.order_financing.eligible_core_enterprise_ids
        ]
    if terms.warehouse_pledge is not None:
        wanted += [
            ("terms.warehousePledge.acceptedWarehouseIds", org, OrganizationKind.WAREHOUSE)
            for org in terms.warehouse_pledge.accepted_warehouse_ids
        ]
    return wanted


# -- lifecycle and visibility -------------------------------------------------------------------


def check_publish(product: Product) -> None:
    """Only a DRAFT is published."""
    if product.status is not ProductStatus.DRAFT:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"a {product.status.value} product cannot be published"
        )


def check_retire(product: Product) -> None:
    """Only a PUBLISHED product is retired; RETIRED is final."""
    if product.status is not ProductStatus.PUBLISHED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"a {product.status.value} product cannot be retired"
        )


def check_editable(product: Product) -> None:
    """DRAFT and PUBLISHED products can be edited; a RETIRED one never again."""
    if product.status is ProductStatus.RETIRED:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "a RETIRED product cannot be edited")


def edit_makes_new_version(product: Product) -> bool:
    """A DRAFT's terms are edited in place; a PUBLISHED product gets a new version, so every
    version anyone could have applied under stays as it was."""
    return product.status is ProductStatus.PUBLISHED


def product_visible(actor: Actor, product: Product) -> bool:
    """The one read rule of products, which row-level security enforces too, checked again on
    objects loaded by ID: the operator sees every product; a funder's staff its own (with
    products:read); anyone with marketplace:read the listed ones (PUBLISHED by an ACTIVE
    funder: a disabled funder's products are nobody's but its own and the operator's)."""
    if actor.is_platform:
        return True
    own = actor.tenant_id is not None and product.tenant_id == actor.tenant_id
    if own and actor.has(Scope.PRODUCTS_READ):
        return True
    return product.listed and actor.has(Scope.MARKETPLACE_READ)


# -- quote ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarWarning:
    """A due date the calendar does not know yet: its year's holidays are published neither
    in the package nor by the operator, so it was placed on a Monday-to-Friday guess and may
    move once they are."""

    installment: int
    scheduled_date: date
    due_date: date
    message: str


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced offer: the schedule, the upfront fee and the cost of credit.

    ``cost.apr`` is the effective annual rate (EU CCD); ``apr_nominal`` is the same internal
    rate of return compounded 12 times a year (the "IRR x 12" annualised rate Chinese lenders
    disclose). ``calendar_known[k]`` says whether instalment ``k + 1``'s due date was placed
    on a known calendar; each one that was not has a ``calendar_warnings`` entry.
    """

    term: int
    term_unit: TermUnit
    schedule: Schedule
    cost: CostQuote
    apr_nominal: Decimal
    business_day_convention: BusinessDayRule = BusinessDayRule.NONE
    holiday_calendar: HolidayCalendar = HolidayCalendar.NONE
    calendar_known: tuple[bool, ...] = ()
    calendar_warnings: tuple[CalendarWarning, ...] = ()


def check_offer(terms: ProductTerms, amount: Money, term: int) -> None:
    """Refuse an amount or a term the product does not offer. An amount not above zero is
    refused as such (INVALID_AMOUNT), as an application refuses it, before the range."""
    problems: list[DomainError] = []
    if not amount.is_positive():
        problems.append(DomainError(ErrorCode.INVALID_AMOUNT, "must be above zero", "amount"))
    elif amount.currency != terms.currency:
        problems.append(
            DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"the product lends in {terms.currency}",
                "amount",
            )
        )
    elif not terms.min_amount <= amount <= terms.max_amount:
        problems.append(
            DomainError(
                ErrorCode.AMOUNT_NOT_OFFERED,
                f"from {terms.min_amount} to {terms.max_amount}",
                "amount",
            )
        )
    if term not in terms.allowed_terms:
        unit = "months" if terms.term_unit is TermUnit.MONTH else "days"
        offered = ", ".join(str(t) for t in terms.allowed_terms)
        problems.append(
            DomainError(ErrorCode.TERM_NOT_OFFERED, f"one of {offered} ({unit})", "term")
        )
    collect(problems)


def origination_fee(terms: ProductTerms, amount: Money) -> Money:
    """The upfront fee on ``amount``: flat, or the rate x amount rounded half-up."""
    fee = terms.origination_fee
    if fee.kind is FeeKind.FLAT and fee.flat is not None:
        return fee.flat
    if fee.kind is FeeKind.PERCENT and fee.rate is not None:
        with localcontext(_FEE_CONTEXT):
            exact = amount.to_decimal() * fee.rate
        return Money.from_decimal(exact, amount.currency, rounding=ROUND_HALF_UP)
    return Money.zero(amount.currency)


def schedule_terms(
    terms: ProductTerms,
    amount: Money,
    term: int,
    start: date,
    calendar: KnownCalendar | None = None,
) -> ScheduleTerms:
    """The engine's input for ``amount`` over ``term`` from the value date ``start``: ``term``
    monthly periods, or one BULLET period of ``term`` days; due dates moved by the product's
    business-day convention on ``calendar`` (the product's holiday calendar without operator
    entries when omitted)."""
    rule = terms.business_day_convention
    # No convention, no calendar: the engine then never looks a date up (the quote hot path).
    days = None
    if rule is not BusinessDayRule.NONE:
        days = calendar if calendar is not None else calendar_of(terms.holiday_calendar)
    if terms.term_unit is TermUnit.DAY:
        return ScheduleTerms(
            principal=amount,
            annual_rate=terms.annual_rate,
            periods=1,
            method=terms.repayment_method,
            start_date=start,
            period_unit=PeriodUnit.DAY,
            period_days=term,
            day_count=terms.day_count,
            business_day_rule=rule,
            calendar=days,
        )
    return ScheduleTerms(
        principal=amount,
        annual_rate=terms.annual_rate,
        periods=term,
        method=terms.repayment_method,
        start_date=start,
        period_unit=PeriodUnit.MONTH,
        day_count=terms.day_count,
        business_day_rule=rule,
        calendar=days,
    )


def calendar_check(
    schedule: Schedule, rule: BusinessDayRule, calendar: KnownCalendar
) -> tuple[tuple[bool, ...], tuple[CalendarWarning, ...]]:
    """Whether each due date of ``schedule`` was placed on a known calendar, and a warning for
    each that was not. With no business-day convention no date depends on the calendar."""
    if rule is BusinessDayRule.NONE:
        return (True,) * len(schedule.installments), ()
    known: list[bool] = []
    warnings: list[CalendarWarning] = []
    for line in schedule.installments:
        # Both ends: a date rolled from 31 December into January needs the next year too.
        ok = calendar.covers(line.period_end) and calendar.covers(line.due_date)
        known.append(ok)
        if not ok:
            years = sorted({line.period_end.year, line.due_date.year})
            warnings.append(
                CalendarWarning(
                    installment=line.number,
                    scheduled_date=line.period_end,
                    due_date=line.due_date,
                    message=f"the holidays of {', '.join(str(y) for y in years)} are not "
                    "published yet: the due date assumes Monday to Friday and may move",
                )
            )
    return tuple(known), tuple(warnings)


def quote(
    terms: ProductTerms,
    amount: Money,
    term: int,
    start: date,
    calendar: KnownCalendar | None = None,
) -> Quote:
    """Price ``amount`` over ``term`` under ``terms``: schedule, fee, total cost and APR, due
    dates on working days of ``calendar`` (see :func:`schedule_terms`), flagged where the
    calendar does not know them."""
    check_offer(terms, amount, term)
    days = calendar if calendar is not None else calendar_of(terms.holiday_calendar)
    try:
        schedule = build_schedule(schedule_terms(terms, amount, term, start, days))
        fee = origination_fee(terms, amount)
        # One IRR for both disclosures: the effective APR and "IRR x 12" compounded monthly.
        cost, compounded = quote_costs(schedule, fee, compounding=(None, 12))
        nominal = compounded.apr
    except ScheduleError as exc:
        raise DomainError(ErrorCode.INVALID, str(exc), "amount") from exc
    known, warnings = calendar_check(schedule, terms.business_day_convention, days)
    return Quote(
        term=term,
        term_unit=terms.term_unit,
        schedule=schedule,
        cost=cost,
        apr_nominal=nominal,
        business_day_convention=terms.business_day_convention,
        holiday_calendar=terms.holiday_calendar,
        calendar_known=known,
        calendar_warnings=warnings,
    )


__all__ = [
    "CalendarWarning",
    "ConsumerEligibility",
    "LatePenalty",
    "OrderFinancingTerms",
    "OriginationFee",
    "PrepaymentPenalty",
    "ProductTerms",
    "Quote",
    "ScorecardTerms",
    "WarehousePledgeTerms",
    "calendar_check",
    "check_editable",
    "check_offer",
    "check_publish",
    "check_retire",
    "counterparty_kinds",
    "edit_makes_new_version",
    "normalize",
    "origination_fee",
    "product_visible",
    "quote",
    "schedule_terms",
    "validate_terms",
]
