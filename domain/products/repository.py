"""Every query on products and their versions, and the mapping between version rows and
:class:`~domain.products.policy.ProductTerms`. Row-level security filters what each scope sees
(a tenant its own rows, everyone the PUBLISHED products and their current version); queries
that mean "my products" still name the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, any_, column, exists, func, literal, select, table, tuple_
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from domain.kernel.money import Money
from domain.persistence.base import uuid_array
from domain.products.models import (
    Product,
    ProductLine,
    ProductStatus,
    ProductVersion,
    TermUnit,
)
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

# The funder's status, for hiding products of disabled funders from the marketplace. A bare
# table clause: the domain does not import the tenants package (DESIGN.md section 4).
_tenants = table("tenants", column("id", UUID(as_uuid=True)), column("status", String(32)))

#: A keyset position: (sort timestamp, tenant_id, id).
Keyset = tuple[datetime, uuid.UUID, uuid.UUID]


@dataclass(frozen=True, slots=True)
class ProductWithTerms:
    """A product with the row of its current version."""

    product: Product
    version: ProductVersion

    @property
    def terms(self) -> ProductTerms:
        """The current version's terms."""
        return terms_of(self.version)


# -- mapping --------------------------------------------------------------------------------------


def terms_of(row: ProductVersion) -> ProductTerms:
    """The terms a version row holds."""
    currency = row.currency
    fee = OriginationFee(
        kind=row.origination_fee_kind,
        flat=None
        if row.origination_fee_flat_minor is None
        else Money(row.origination_fee_flat_minor, currency),
        rate=row.origination_fee_rate,
    )
    order_financing = None
    if row.max_advance_rate is not None:
        order_financing = OrderFinancingTerms(
            max_advance_rate=row.max_advance_rate,
            eligible_core_enterprise_ids=tuple(row.eligible_core_enterprise_ids or ()),
        )
    warehouse_pledge = None
    if row.max_ltv is not None and row.haircut is not None:
        warehouse_pledge = WarehousePledgeTerms(
            max_ltv=row.max_ltv,
            haircut=row.haircut,
            accepted_warehouse_ids=tuple(row.accepted_warehouse_ids or ()),
        )
    eligibility = None
    if (
        row.min_borrower_age is not None
        and row.max_borrower_age is not None
        and row.min_credit_score is not None
    ):
        eligibility = ConsumerEligibility(
            min_age=row.min_borrower_age,
            max_age=row.max_borrower_age,
            min_credit_score=row.min_credit_score,
        )
    scorecard = ScorecardTerms(
        min_bureau_score=row.scorecard_min_bureau_score,
        max_current_delinquencies=row.scorecard_max_current_delinquencies,
        max_debt_to_income=row.scorecard_max_debt_to_income,
        max_core_enterprise_exposure=None
        if row.scorecard_max_exposure_minor is None
        else Money(row.scorecard_max_exposure_minor, currency),
        auto_approve_below=None
        if row.scorecard_auto_approve_below_minor is None
        else Money(row.scorecard_auto_approve_below_minor, currency),
        approval_validity_days=row.approval_validity_days,
    )
    return ProductTerms(
        currency=currency,
        min_amount=Money(row.min_amount_minor, currency),
        max_amount=Money(row.max_amount_minor, currency),
        term_unit=row.term_unit,
        allowed_terms=tuple(row.allowed_terms),
        annual_rate=row.annual_rate,
        repayment_method=row.repayment_method,
        day_count=row.day_count,
        business_day_convention=row.business_day_convention,
        holiday_calendar=row.holiday_calendar,
        late_penalty=LatePenalty(
            daily_rate=row.late_penalty_daily_rate,
            basis=row.late_penalty_basis,
            grace_days=row.late_penalty_grace_days,
        ),
        prepayment_penalty=PrepaymentPenalty(
            rate=row.prepayment_penalty_rate, free_allowance=row.prepayment_free_allowance
        ),
        origination_fee=fee,
        order_financing=order_financing,
        warehouse_pledge=warehouse_pledge,
        consumer_eligibility=eligibility,
        scorecard=scorecard,
    )


def write_terms(row: ProductVersion, terms: ProductTerms) -> None:
    """Set every term column of ``row`` from ``terms`` (a new row, or a DRAFT's version)."""
    fee = terms.origination_fee
    of, wp, ce = terms.order_financing, terms.warehouse_pledge, terms.consumer_eligibility
    row.currency = terms.currency
    row.min_amount_minor = terms.min_amount.amount_minor
    row.max_amount_minor = terms.max_amount.amount_minor
    row.term_unit = terms.term_unit
    row.allowed_terms = list(terms.allowed_terms)
    row.annual_rate = terms.annual_rate
    row.repayment_method = terms.repayment_method
    row.day_count = terms.day_count
    row.business_day_convention = terms.business_day_convention
    row.holiday_calendar = terms.holiday_calendar
    row.origination_fee_kind = fee.kind
    row.origination_fee_flat_minor = None if fee.flat is None else fee.flat.amount_minor
    row.origination_fee_rate = fee.rate
    row.late_penalty_daily_rate = terms.late_penalty.daily_rate
    row.late_penalty_basis = terms.late_penalty.basis
    row.late_penalty_grace_days = terms.late_penalty.grace_days
    row.prepayment_penalty_rate = terms.prepayment_penalty.rate
    row.prepayment_free_allowance = terms.prepayment_penalty.free_allowance
    row.max_advance_rate = None if of is None else of.max_advance_rate
    row.eligible_core_enterprise_ids = None if of is None else list(of.eligible_core_enterprise_ids)
    row.max_ltv = None if wp is None else wp.max_ltv
    row.haircut = None if wp is None else wp.haircut
    row.accepted_warehouse_ids = None if wp is None else list(wp.accepted_warehouse_ids)
    row.min_borrower_age = None if ce is None else ce.min_age
    row.max_borrower_age = None if ce is None else ce.max_age
    row.min_credit_score = None if ce is None else ce.min_credit_score
    sc = terms.scorecard
    exposure, auto = sc.max_core_enterprise_exposure, sc.auto_approve_below
    row.scorecard_min_bureau_score = sc.min_bureau_score
    row.scorecard_max_current_delinquencies = sc.max_current_delinquencies
    row.scorecard_max_debt_to_income = sc.max_debt_to_income
    row.scorecard_max_exposure_minor = None if exposure is None else exposure.amount_minor
    row.scorecard_auto_approve_below_minor = None if auto is None else auto.amount_minor
    row.approval_validity_days = sc.approval_validity_days


def new_version(product: Product, version: int, terms: ProductTerms) -> ProductVersion:
    """A version row of ``product`` holding ``terms``."""
    row = ProductVersion(tenant_id=product.tenant_id, product_id=product.id, version=version)
    write_terms(row, terms)
    return row


# -- queries --------------------------------------------------------------------------------------


def _with_current_version() -> Select[Product, ProductVersion]:
    return select(Product, ProductVersion).join(
        ProductVersion,
        and_(
            ProductVersion.tenant_id == Product.tenant_id,
            ProductVersion.product_id == Product.id,
            ProductVersion.version == Product.current_version,
        ),
    )


async def products_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ProductWithTerms]:
    """Batch getter: the visible products among ``ids``, each with its current version."""
    if not ids:
        return {}
    rows = await session.execute(_with_current_version().where(Product.id == any_(uuid_array(ids))))
    return {p.id: ProductWithTerms(p, v) for p, v in rows}


async def product_for_update(
    session: AsyncSession, product_id: uuid.UUID, *, tenant_id: uuid.UUID | None
) -> Product | None:
    """The product, locked for a lifecycle change or an edit; only within ``tenant_id`` when
    one is given (the operator passes None). A published product of another funder is
    readable under row-level security but never found here."""
    stmt = select(Product).where(Product.id == product_id)
    if tenant_id is not None:
        stmt = stmt.where(Product.tenant_id == tenant_id)
    return (await session.scalars(stmt.with_for_update())).first()


async def version_of(session: AsyncSession, product: Product, version: int) -> ProductVersion:
    """One version of ``product`` (it exists for every number up to the current one)."""
    stmt = select(ProductVersion).where(
        ProductVersion.tenant_id == product.tenant_id,
        ProductVersion.product_id == product.id,
        ProductVersion.version == version,
    )
    return (await session.scalars(stmt)).one()


async def versions_of_products(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ProductVersion]]:
    """Batch getter: each product's visible versions, newest first."""
    out: dict[uuid.UUID, list[ProductVersion]] = {i: [] for i in product_ids}
    if not product_ids:
        return out
    stmt = (
        select(ProductVersion)
        .where(ProductVersion.product_id == any_(uuid_array(product_ids)))
        .order_by(ProductVersion.product_id, ProductVersion.version.desc())
    )
    for row in await session.scalars(stmt):
        out[row.product_id].append(row)
    return out


def _after(
    stmt: Select[Product, ProductVersion], sort: Any, after: Keyset | None
) -> Select[Product, ProductVersion]:
    if after is None:
        return stmt
    return stmt.where(
        tuple_(sort, Product.tenant_id, Product.id)
        > tuple_(literal(after[0]), literal(after[1]), literal(after[2]))
    )


async def marketplace_page(
    session: AsyncSession,
    *,
    limit: int,
    after: Keyset | None = None,
    product_line: ProductLine | None = None,
    amount: Money | None = None,
    term: int | None = None,
    term_unit: TermUnit = TermUnit.MONTH,
) -> list[ProductWithTerms]:
    """Up to ``limit`` listed products (PUBLISHED by ACTIVE funders; the database keeps the
    flag) after the keyset position ``(published_at, tenant_id, id)``, in that order.
    ``amount`` keeps products lending that amount in its currency; ``term`` those offering
    that many ``term_unit``."""
    stmt = _with_current_version().where(Product.listed)
    if product_line is not None:
        stmt = stmt.where(Product.product_line == product_line)
    if amount is not None:
        stmt = stmt.where(
            ProductVersion.currency == amount.currency,
            ProductVersion.min_amount_minor <= amount.amount_minor,
            ProductVersion.max_amount_minor >= amount.amount_minor,
        )
    if term is not None:
        stmt = stmt.where(
            ProductVersion.term_unit == term_unit,
            literal(term) == any_(ProductVersion.allowed_terms),
        )
    stmt = _after(stmt, Product.published_at, after)
    stmt = stmt.order_by(Product.published_at, Product.tenant_id, Product.id).limit(limit)
    rows = await session.execute(stmt)
    return [ProductWithTerms(p, v) for p, v in rows]


async def tenant_products_page(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    limit: int,
    after: Keyset | None = None,
    status: ProductStatus | None = None,
) -> list[ProductWithTerms]:
    """Up to ``limit`` products of ``tenant_id`` (every visible tenant's for the operator,
    who passes None) after the keyset position ``(created_at, tenant_id, id)``."""
    stmt = _with_current_version()
    if tenant_id is not None:
        stmt = stmt.where(Product.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(Product.status == status)
    stmt = _after(stmt, Product.created_at, after)
    stmt = stmt.order_by(Product.created_at, Product.tenant_id, Product.id).limit(limit)
    rows = await session.execute(stmt)
    return [ProductWithTerms(p, v) for p, v in rows]


async def count_of_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many products ``tenant_id`` has, whatever their status."""
    stmt = select(func.count()).select_from(Product).where(Product.tenant_id == tenant_id)
    return int((await session.execute(stmt)).scalar_one())


async def tenant_exists(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant exists (as this scope sees tenants)."""
    stmt = select(exists().where(_tenants.c.id == tenant_id))
    return bool((await session.execute(stmt)).scalar_one())


async def funder_active(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether the funder is visible and ACTIVE (a disabled funder's products are off the
    marketplace)."""
    stmt = select(exists().where(_tenants.c.id == tenant_id, _tenants.c.status == "ACTIVE"))
    return bool((await session.execute(stmt)).scalar_one())


def add(session: AsyncSession, row: Product | ProductVersion) -> None:
    """Stage a new row; the caller's flush writes it."""
    session.add(row)


__all__ = [
    "Keyset",
    "ProductWithTerms",
    "add",
    "count_of_tenant",
    "funder_active",
    "marketplace_page",
    "new_version",
    "product_for_update",
    "products_by_ids",
    "tenant_exists",
    "tenant_products_page",
    "terms_of",
    "version_of",
    "versions_of_products",
    "write_terms",
]
