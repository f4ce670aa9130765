"""Pure rules of deals: the lifecycle table, who applies and through which channel, who sees
and acts on a deal, and every check a submission must pass. No I/O, no await, no clock (the
service passes ``today`` and ``now``).

Submission checks (each refusal has its own code; all are reported at once):

* every line: the product is still PUBLISHED by an ACTIVE funder (PRODUCT_NOT_AVAILABLE); the
  amount is in the product's currency (CURRENCY_MISMATCH) and within its range
  (AMOUNT_NOT_OFFERED); the term is one it offers (TERM_NOT_OFFERED); credit consent is
  recorded (CONSENT_REQUIRED). The rules are those of the version the deal was created under
  (the version is kept: a newer version of the product does not change a deal's terms);
* ORDER_FINANCING: an order is named (COLLATERAL_REQUIRED); it is CONFIRMED by its buyer
  (PURCHASE_ORDER_NOT_CONFIRMED); its buyer is one of the product's eligible core enterprises
  (CORE_ENTERPRISE_NOT_ELIGIBLE); its seller is the applicant (PURCHASE_ORDER_SELLER_MISMATCH);
  it is due after today (PURCHASE_ORDER_MATURED); it is in the product's currency
  (CURRENCY_MISMATCH); and ::

      amount <= floor_to_minor_unit(order amount x max advance rate)    (ADVANCE_RATE_EXCEEDED)

* WAREHOUSE_RECEIPT_PLEDGE: at least one receipt (COLLATERAL_REQUIRED); each ISSUED
  (RECEIPT_CANCELLED), owned by the applicant (RECEIPT_OWNER_MISMATCH), held by an accepted
  warehouse (WAREHOUSE_NOT_ACCEPTED), in the product's currency (CURRENCY_MISMATCH); and ::

      valuation_i = quantity_i x unit price_i, rounded half-up to the minor unit
      amount <= floor_to_minor_unit(sum(valuation_i) x (1 - haircut) x max LTV)  (LTV_EXCEEDED)

  (the same as ``sum(valuation_i x (1 - haircut)) x LTV``, rounded down once at the end);
* CONSUMER_CREDIT: the applicant's age in whole years today, from the birth date in the
  resident ID, is within the product's ``[min_age, max_age]`` (APPLICANT_AGE_NOT_ELIGIBLE).
  The credit-score floor needs a bureau report and is checked at first review, not here.

Claims on the collateral (one live deal per order or receipt) are the database's to decide,
after these checks: PURCHASE_ORDER_ALREADY_FINANCED and RECEIPT_ALREADY_PLEDGED.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Final
from zoneinfo import ZoneInfo

from domain.deals.models import ActorKind, ConsentMethod, Deal, DealChannel, DealStatus
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors, collect
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.parties.models import OrganizationKind
from domain.products import policy as product_policy
from domain.products.models import ProductLine, ProductStatus
from domain.products.policy import ProductTerms

S = DealStatus

# -- the lifecycle --------------------------------------------------------------------------------

#: Every allowed transition (DESIGN.md section 2). A deal is withdrawn from any state before
#: SIGNED; an approval that is not signed in time EXPIRES; a reviewer may return an application
#: for more information at intake or in either review; an OVERDUE loan that catches up is
#: ACTIVE again.
TRANSITIONS: Final[Mapping[DealStatus, frozenset[DealStatus]]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.FIRST_REVIEW, S.RETURNED, S.WITHDRAWN}),
    S.RETURNED: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.FIRST_REVIEW: frozenset({S.SECOND_REVIEW, S.REJECTED, S.RETURNED, S.WITHDRAWN}),
    S.SECOND_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.RETURNED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.SIGNING, S.EXPIRED, S.WITHDRAWN}),
    S.SIGNING: frozenset({S.SIGNED, S.EXPIRED, S.WITHDRAWN}),
    S.SIGNED: frozenset({S.DISBURSING}),
    # A payout the rail failed leaves the deal signed, to be disbursed again (migration 0020).
    S.DISBURSING: frozenset({S.ACTIVE, S.SIGNED}),
    S.ACTIVE: frozenset({S.OVERDUE, S.SETTLED}),
    S.OVERDUE: frozenset({S.ACTIVE, S.SETTLED, S.COLLECTIONS}),
    S.COLLECTIONS: frozenset({S.SETTLED, S.SOLD, S.WRITTEN_OFF}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.EXPIRED: frozenset(),
    S.SETTLED: frozenset(),
    S.SOLD: frozenset(),
    S.WRITTEN_OFF: frozenset(),
}

#: States a deal ends in; nothing changes it afterwards (the database agrees: ``deals_final``).
FINAL: Final[frozenset[DealStatus]] = frozenset(s for s, to in TRANSITIONS.items() if not to)
#: States in which the applicant edits its application.
EDITABLE: Final[frozenset[DealStatus]] = frozenset({S.DRAFT, S.RETURNED})


def can_transition(source: DealStatus, target: DealStatus) -> bool:
    """Whether the lifecycle allows ``source -> target``."""
    return target in TRANSITIONS[source]


def check_transition(source: DealStatus, target: DealStatus, field: str = "id") -> None:
    """Refuse a transition the lifecycle does not allow (INVALID_TRANSITION)."""
    if not can_transition(source, target):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {source.value} deal cannot become {target.value}",
            field,
        )


def check_editable(status: DealStatus) -> None:
    """Only a DRAFT or RETURNED application is edited (DEAL_NOT_EDITABLE)."""
    if status not in EDITABLE:
        raise DomainError(
            ErrorCode.DEAL_NOT_EDITABLE, f"a {status.value} deal cannot be edited", "id"
        )


def holds_collateral(status: DealStatus) -> bool:
    """Whether a deal in ``status`` holds claims on its collateral: from submission until it
    ends (a RETURNED application keeps them while it is being completed)."""
    return status is not S.DRAFT and status not in FINAL


# -- channel, applicant, visibility ---------------------------------------------------------------


def channel_of(actor: Actor, *, organization_is_partner: bool) -> DealChannel:
    """Through which channel ``actor`` applies: a partner app (a PARTNER organization's client,
    no user), the funder's own app (a principal of a tenant), or the applicant itself (a
    signed-in person or company user). The operator does not apply for anyone."""
    if actor.tenant_id is not None:
        return DealChannel.FUNDER_APP
    if actor.user_id is None and actor.organization_id is not None and organization_is_partner:
        return DealChannel.PARTNER_APP
    if actor.user_id is not None and (
        actor.person_id is not None or actor.organization_id is not None
    ):
        return DealChannel.DIRECT
    raise DomainError(
        ErrorCode.FORBIDDEN,
        "applications come from the applicant, a partner app or the funder's own app",
    )


#: The kind of organization each line lends to (CONSUMER_CREDIT lends to persons).
APPLICANT_KINDS: Final[Mapping[ProductLine, OrganizationKind]] = {
    ProductLine.ORDER_FINANCING: OrganizationKind.TRADE_ENTERPRISE,
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE: OrganizationKind.CARGO_OWNER,
}


def check_applicant_kind(line: ProductLine, kind: OrganizationKind) -> None:
    """A company applies for the line that lends to its kind (WRONG_ORGANIZATION_KIND)."""
    wanted = APPLICANT_KINDS.get(line)
    if wanted is not kind:
        raise DomainError(
            ErrorCode.WRONG_ORGANIZATION_KIND,
            f"{line.value} lends to a {wanted.value if wanted else 'person'}, not a {kind.value}",
            "applicantId",
        )


@dataclass(frozen=True, slots=True)
class Applicant:
    """Who applies: a person (CONSUMER_CREDIT) or an organization (the other lines)."""

    person_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None


def applicant_of(
    actor: Actor,
    channel: DealChannel,
    line: ProductLine,
    *,
    person_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    field: str = "applicantId",
) -> Applicant:
    """The applicant of a new deal. Applying directly, it is the actor itself (its person for
    CONSUMER_CREDIT, its organization otherwise); a partner app or the funder's app names it."""
    consumer = line is ProductLine.CONSUMER_CREDIT
    if consumer and organization_id is not None:
        raise DomainError(ErrorCode.INVALID, "consumer credit is applied for by a person", field)
    if not consumer and person_id is not None:
        raise DomainError(
            ErrorCode.INVALID, f"{line.value} is applied for by an organization", field
        )
    if channel is DealChannel.DIRECT:
        own = actor.person_id if consumer else actor.organization_id
        named = person_id if consumer else organization_id
        if own is None:
            what = "a person" if consumer else "an organization's user"
            raise DomainError(ErrorCode.FORBIDDEN, f"{line.value} is applied for as {what}", field)
        if named is not None and named != own:
            raise DomainError(
                ErrorCode.FORBIDDEN,
                "you apply for yourself; a partner app applies for others",
                field,
            )
        return Applicant(person_id=own) if consumer else Applicant(organization_id=own)
    named = person_id if consumer else organization_id
    if named is None:
        raise DomainError(ErrorCode.REQUIRED, "the applicant this application is for", field)
    return Applicant(person_id=named) if consumer else Applicant(organization_id=named)


def _is_applicant(actor: Actor, deal: Deal) -> bool:
    return (actor.person_id is not None and deal.applicant_person_id == actor.person_id) or (
        actor.organization_id is not None
        and deal.applicant_organization_id == actor.organization_id
    )


def _is_channel_partner(actor: Actor, deal: Deal) -> bool:
    return (
        deal.channel is DealChannel.PARTNER_APP
        and actor.user_id is None
        and actor.client_id is not None
        and actor.client_id == deal.channel_client_id
        and actor.organization_id is not None
        and actor.organization_id == deal.channel_organization_id
    )


def deal_visible(actor: Actor, deal: Deal) -> bool:
    """The rule row-level security enforces on deals, checked again on objects loaded by ID:
    the operator; the funder's principals; the applicant; the partner app of the channel."""
    return (
        actor.is_platform
        or (actor.tenant_id is not None and deal.tenant_id == actor.tenant_id)
        or _is_applicant(actor, deal)
        or _is_channel_partner(actor, deal)
    )


def acts_for_applicant(actor: Actor, deal: Deal) -> bool:
    """Who edits, submits and withdraws an application: the applicant itself, the partner app
    it came through, or (for the funder's own channel) the funder's principals."""
    return (
        _is_applicant(actor, deal)
        or _is_channel_partner(actor, deal)
        or (
            deal.channel is DealChannel.FUNDER_APP
            and actor.tenant_id is not None
            and actor.tenant_id == deal.tenant_id
        )
    )


def check_acts_for_applicant(actor: Actor, deal: Deal) -> None:
    """FORBIDDEN unless the actor may act for the applicant (see :func:`acts_for_applicant`)."""
    if not actor.has(Scope.DEALS_APPLY) or not acts_for_applicant(actor, deal):
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "only the applicant or the app the application came through acts on it",
            "id",
        )


def actor_kind(actor: Actor, deal: Deal) -> ActorKind:
    """How the timeline names the actor of a change to ``deal``."""
    if actor.tenant_id is not None and actor.tenant_id == deal.tenant_id:
        return ActorKind.FUNDER
    if _is_channel_partner(actor, deal):
        return ActorKind.PARTNER_APP
    if _is_applicant(actor, deal):
        return ActorKind.APPLICANT
    if actor.is_platform:
        return ActorKind.PLATFORM
    return ActorKind.SYSTEM


# -- the application ------------------------------------------------------------------------------

MAX_PURPOSE: Final[int] = 500
MAX_CONSENT_TEXT_VERSION: Final[int] = 32
MAX_WITHDRAWAL_REASON: Final[int] = 500
MAX_RECEIPTS: Final[int] = 20
MAX_LIVENESS_SESSION: Final[int] = 128
#: How far in the future a consent time may lie (clock skew of the channel's servers).
CONSENT_CLOCK_SKEW: Final[timedelta] = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Consent:
    """The applicant's credit consent: when, to which version of the consent text, and how."""

    given_at: datetime
    text_version: str
    method: ConsentMethod


def clean_text(value: str, field: str, max_length: int) -> str:
    """Trimmed, present, bounded text."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "must not be empty", field)
    if len(text) > max_length:
        raise DomainError(ErrorCode.TOO_LONG, f"at most {max_length} characters", field)
    return text


def check_amount(amount: Money, field: str = "amount") -> Money:
    """A loan request's amount: above zero."""
    if not amount.is_positive():
        raise DomainError(ErrorCode.INVALID_AMOUNT, "must be above zero", field)
    return amount


def check_income(income: Money, currency: str, field: str = "monthlyIncome") -> Money:
    """A declared monthly income: above zero, in the currency of the loan request (the
    debt-to-income rule divides one by the other)."""
    if not income.is_positive():
        raise DomainError(ErrorCode.INVALID_AMOUNT, "must be above zero", field)
    if income.currency != currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"must be in {currency}, the loan request's currency",
            field,
        )
    return income


def clean_liveness_session(value: str, field: str = "livenessSession") -> str:
    """The identity provider's reference of a face capture: printable ASCII without spaces,
    at most ``MAX_LIVENESS_SESSION`` characters (it is sent to the provider as it is)."""
    session = clean_text(value, field, MAX_LIVENESS_SESSION)
    if not all("!" <= ch <= "~" for ch in session):
        raise DomainError(ErrorCode.INVALID, "printable ASCII without spaces", field)
    return session


def check_term(term: int, field: str = "term") -> int:
    """A loan request's term: a whole number of the product's units, above zero."""
    if type(term) is not int or term <= 0:
        raise DomainError(ErrorCode.INVALID, "a whole number above zero", field)
    return term


def clean_consent(
    *, given_at: datetime, text_version: str, method: ConsentMethod, now: datetime
) -> Consent:
    """Consent as recorded: a time that is not in the future and a consent text version."""
    if given_at.tzinfo is None:
        raise DomainError(ErrorCode.INVALID, "a time with its UTC offset", "consent.givenAt")
    if given_at > now + CONSENT_CLOCK_SKEW:
        raise DomainError(
            ErrorCode.INVALID, "consent cannot be given in the future", "consent.givenAt"
        )
    version = clean_text(text_version, "consent.textVersion", MAX_CONSENT_TEXT_VERSION)
    return Consent(given_at=given_at, text_version=version, method=method)


def check_collateral_for_line(
    line: ProductLine, purchase_order_id: uuid.UUID | None, receipt_ids: Sequence[uuid.UUID]
) -> tuple[uuid.UUID, ...]:
    """The collateral a line takes: an order for ORDER_FINANCING, receipts for
    WAREHOUSE_RECEIPT_PLEDGE, none for CONSUMER_CREDIT (COLLATERAL_NOT_ALLOWED). Receipts are
    returned without duplicates, in the order given."""
    problems: list[DomainError] = []
    if purchase_order_id is not None and line is not ProductLine.ORDER_FINANCING:
        problems.append(
            DomainError(
                ErrorCode.COLLATERAL_NOT_ALLOWED,
                "a purchase order backs ORDER_FINANCING only",
                "purchaseOrderId",
            )
        )
    unique = tuple(dict.fromkeys(receipt_ids))
    if unique and line is not ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
        problems.append(
            DomainError(
                ErrorCode.COLLATERAL_NOT_ALLOWED,
                "warehouse receipts back WAREHOUSE_RECEIPT_PLEDGE only",
                "warehouseReceiptIds",
            )
        )
    if len(unique) > MAX_RECEIPTS:
        problems.append(
            DomainError(
                ErrorCode.INVALID, f"at most {MAX_RECEIPTS} receipts", "warehouseReceiptIds"
            )
        )
    collect(problems)
    return unique


# -- limits ---------------------------------------------------------------------------------------

_PRECISION: Final[int] = 60


def _floor(exact: Decimal, currency: str) -> Money:
    return Money.from_decimal(exact, currency, rounding=ROUND_DOWN)


def advance_limit(order_amount: Money, max_advance_rate: Decimal) -> Money:
    """The most an order finances: ``order amount x advance rate``, rounded down to the minor
    unit (never lend a fen more than the rate allows)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _floor(order_amount.to_decimal() * max_advance_rate, order_amount.currency)


def pledge_limit(valuations: Sequence[Money], haircut: Decimal, max_ltv: Decimal) -> Money:
    """The most a set of receipts secures: ``sum(valuation) x (1 - haircut) x LTV``, rounded
    down to the minor unit once, at the end."""
    if not valuations:
        raise ValueError("at least one valuation")
    currency = valuations[0].currency
    total = Money.sum(valuations, currency)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _floor(total.to_decimal() * (Decimal(1) - haircut) * max_ltv, currency)


def birth_date_of(resident_id: str) -> date:
    """The birth date a PRC resident ID carries in characters 7-14 (YYYYMMDD)."""
    digits = resident_id[6:14]
    if len(digits) != 8 or not digits.isdigit():
        raise ValueError("not an 18-character resident ID")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def age_on(birth: date, today: date) -> int:
    """Age in whole years on ``today`` (a birthday on 29 February counts on 1 March in a
    common year)."""
    had_birthday = (today.month, today.day) >= (birth.month, birth.day)
    return today.year - birth.year - (0 if had_birthday else 1)


# -- submission -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What a submission needs of the purchase order."""

    id: uuid.UUID
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    amount: Money
    due_date: date
    confirmed: bool
    status: str


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a submission needs of a warehouse receipt."""

    id: uuid.UUID
    owner_organization_id: uuid.UUID
    warehouse_organization_id: uuid.UUID
    valuation: Money
    issued: bool
    status: str


@dataclass(frozen=True, slots=True)
class Submission:
    """Everything the submission checks look at, gathered by the service."""

    line: ProductLine
    terms: ProductTerms
    product_status: ProductStatus
    funder_active: bool
    amount: Money
    term: int
    has_consent: bool
    applicant: Applicant
    today: date
    order: OrderFacts | None = None
    receipts: tuple[ReceiptFacts, ...] = ()
    applicant_birth_date: date | None = None


def _gather(problems: list[DomainError], check: Callable[[], None]) -> None:
    try:
        check()
    except ValidationErrors as errors:
        problems.extend(errors.errors)
    except DomainError as error:
        problems.append(error)


def _check_order(problems: list[DomainError], s: Submission) -> None:
    of, order = s.terms.order_financing, s.order
    if of is None:  # pragma: no cover - an ORDER_FINANCING product always has its terms
        raise ValueError("an ORDER_FINANCING product without order-financing terms")
    if order is None:
        problems.append(
            DomainError(ErrorCode.COLLATERAL_REQUIRED, "name the purchase order", "purchaseOrderId")
        )
        return
    field = "purchaseOrderId"
    if not order.confirmed:
        problems.append(
            DomainError(
                ErrorCode.PURCHASE_ORDER_NOT_CONFIRMED,
                f"the order is {order.status}, not CONFIRMED by its buyer",
                field,
            )
        )
    if order.buyer_organization_id not in of.eligible_core_enterprise_ids:
        problems.append(
            DomainError(
                ErrorCode.CORE_ENTERPRISE_NOT_ELIGIBLE,
                "the order's buyer is not a core enterprise this product finances",
                field,
            )
        )
    if order.seller_organization_id != s.applicant.organization_id:
        problems.append(
            DomainError(
                ErrorCode.PURCHASE_ORDER_SELLER_MISMATCH,
                "the order is owed to another company than the applicant",
                field,
            )
        )
    if order.due_date <= s.today:
        problems.append(
            DomainError(
                ErrorCode.PURCHASE_ORDER_MATURED,
                f"the order fell due on {order.due_date.isoformat()}",
                field,
            )
        )
    if order.amount.currency != s.terms.currency:
        problems.append(
            DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"the order is in {order.amount.currency}, the product lends in {s.terms.currency}",
                field,
            )
        )
        return
    limit = advance_limit(order.amount, of.max_advance_rate)
    if s.amount.currency == limit.currency and s.amount > limit:
        problems.append(
            DomainError(
                ErrorCode.ADVANCE_RATE_EXCEEDED,
                f"at most {limit} ({of.max_advance_rate} of the order's {order.amount})",
                "amount",
            )
        )


def _check_receipts(problems: list[DomainError], s: Submission) -> None:
    wp = s.terms.warehouse_pledge
    if wp is None:  # pragma: no cover - a pledge product always has its terms
        raise ValueError("a WAREHOUSE_RECEIPT_PLEDGE product without pledge terms")
    if not s.receipts:
        problems.append(
            DomainError(
                ErrorCode.COLLATERAL_REQUIRED,
                "name at least one warehouse receipt",
                "warehouseReceiptIds",
            )
        )
        return
    usable = True
    for n, receipt in enumerate(s.receipts):
        field = f"warehouseReceiptIds.{n}"
        if not receipt.issued:
            problems.append(
                DomainError(ErrorCode.RECEIPT_CANCELLED, f"the receipt is {receipt.status}", field)
            )
        if receipt.owner_organization_id != s.applicant.organization_id:
            problems.append(
                DomainError(
                    ErrorCode.RECEIPT_OWNER_MISMATCH,
                    "the goods belong to another company than the applicant",
                    field,
                )
            )
        if receipt.warehouse_organization_id not in wp.accepted_warehouse_ids:
            problems.append(
                DomainError(
                    ErrorCode.WAREHOUSE_NOT_ACCEPTED,
                    "the receipt's warehouse is not one this product accepts",
                    field,
                )
            )
        if receipt.valuation.currency != s.terms.currency:
            usable = False
            problems.append(
                DomainError(
                    ErrorCode.CURRENCY_MISMATCH,
                    f"the goods are valued in {receipt.valuation.currency}, the product lends "
                    f"in {s.terms.currency}",
                    field,
                )
            )
    if not usable:
        return
    limit = pledge_limit([r.valuation for r in s.receipts], wp.haircut, wp.max_ltv)
    if s.amount.currency == limit.currency and s.amount > limit:
        problems.append(
            DomainError(
                ErrorCode.LTV_EXCEEDED,
                f"at most {limit}: the goods' valuation after a {wp.haircut} haircut, "
                f"times an LTV of {wp.max_ltv}",
                "amount",
            )
        )


def _check_consumer(problems: list[DomainError], s: Submission) -> None:
    ce = s.terms.consumer_eligibility
    if ce is None:  # pragma: no cover - a consumer product always has its eligibility
        raise ValueError("a CONSUMER_CREDIT product without eligibility")
    if s.applicant_birth_date is None:
        raise ValueError("a consumer submission needs the applicant's birth date")
    age = age_on(s.applicant_birth_date, s.today)
    if not ce.min_age <= age <= ce.max_age:
        problems.append(
            DomainError(
                ErrorCode.APPLICANT_AGE_NOT_ELIGIBLE,
                f"applicants aged {ce.min_age} to {ce.max_age}; the applicant is {age}",
                "applicantId",
            )
        )


def check_submission(s: Submission) -> None:
    """Every rule a submission must pass, all problems at once (see the module docstring)."""
    problems: list[DomainError] = []
    if s.product_status is not ProductStatus.PUBLISHED or not s.funder_active:
        problems.append(
            DomainError(
                ErrorCode.PRODUCT_NOT_AVAILABLE,
                "the product no longer takes applications",
                "productId",
            )
        )
    _gather(problems, lambda: product_policy.check_offer(s.terms, s.amount, s.term))
    if not s.has_consent:
        problems.append(
            DomainError(
                ErrorCode.CONSENT_REQUIRED, "record the applicant's credit consent", "consent"
            )
        )
    if s.line is ProductLine.ORDER_FINANCING:
        _check_order(problems, s)
    elif s.line is ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
        _check_receipts(problems, s)
    else:
        _check_consumer(problems, s)
    collect(problems)


__all__ = [
    "APPLICANT_KINDS",
    "EDITABLE",
    "FINAL",
    "TRANSITIONS",
    "Applicant",
    "Consent",
    "OrderFacts",
    "ReceiptFacts",
    "Submission",
    "actor_kind",
    "acts_for_applicant",
    "advance_limit",
    "age_on",
    "applicant_of",
    "birth_date_of",
    "can_transition",
    "channel_of",
    "check_acts_for_applicant",
    "check_amount",
    "check_applicant_kind",
    "check_collateral_for_line",
    "check_editable",
    "check_submission",
    "check_term",
    "check_transition",
    "clean_consent",
    "clean_text",
    "deal_visible",
    "holds_collateral",
    "pledge_limit",
]


#: Where a deal's day is when its funder's time zone is not known.
DEFAULT_TIME_ZONE: Final[str] = "Asia/Shanghai"


def funder_day(time_zone: str | None, at: datetime) -> date:
    """The calendar day ``at`` falls on in the funder's time zone (a deal's dates, value
    dates and schedules are the funder's days)."""
    return at.astimezone(ZoneInfo(time_zone or DEFAULT_TIME_ZONE)).date()
