"""Use cases on products: a funder configures, publishes and retires its products; anyone who
reads the marketplace prices one for an amount and a term.

Versions: a DRAFT's terms are edited in place (nobody can have applied under them); editing
a PUBLISHED product's terms writes version n + 1 and makes it current, leaving version n as it
was, so a deal that recorded version n keeps its terms. The database refuses any update of a
version once its product has left DRAFT.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.calendars import service as calendars
from domain.events import repository as events
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors, collect
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.parties import policy as party_policy
from domain.parties import repository as parties
from domain.persistence.base import new_id
from domain.products import policy, repository
from domain.products.models import Product, ProductLine, ProductStatus
from domain.products.policy import ProductTerms, Quote
from domain.products.repository import ProductWithTerms


@dataclass(frozen=True, slots=True)
class ProductQuote:
    """A quote and the product (with the version) it was priced under."""

    product: ProductWithTerms
    quote: Quote


def _gather(problems: list[DomainError], error: DomainError) -> None:
    problems.extend(error.errors if isinstance(error, ValidationErrors) else [error])


async def _owner_tenant(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID | None
) -> uuid.UUID:
    """The funder a new product belongs to: the actor's own tenant, or for the operator the
    tenant it names."""
    if actor.tenant_id is not None:
        if tenant_id is not None and tenant_id != actor.tenant_id:
            raise DomainError(ErrorCode.NOT_FOUND, "no such tenant", "tenantId")
        return actor.tenant_id
    if not actor.is_platform:
        raise DomainError(ErrorCode.FORBIDDEN, "products belong to a funder; act in a tenant")
    if tenant_id is None:
        raise DomainError(ErrorCode.REQUIRED, "the funder the product belongs to", "tenantId")
    if not await repository.tenant_exists(session, tenant_id):
        raise DomainError(ErrorCode.NOT_FOUND, "no such tenant", "tenantId")
    return tenant_id


async def _check_counterparties(session: AsyncSession, terms: ProductTerms) -> None:
    """Eligible core enterprises and accepted warehouses exist and are of that kind."""
    wanted = policy.counterparty_kinds(terms)
    if not wanted:
        return
    found = await parties.organizations_by_ids(session, sorted({org for _, org, _ in wanted}))
    problems: list[DomainError] = []
    for field, org_id, kind in wanted:
        org = found.get(org_id)
        if org is None:
            problems.append(DomainError(ErrorCode.NOT_FOUND, f"no organization {org_id}", field))
        elif org.kind != kind:
            problems.append(
                DomainError(
                    ErrorCode.WRONG_ORGANIZATION_KIND,
                    f"{org.name} is a {org.kind.value}, not a {kind.value}",
                    field,
                )
            )
    collect(problems)


async def _load_own(session: AsyncSession, actor: Actor, product_id: uuid.UUID) -> Product:
    """The product to change, locked: the actor's tenant's, any for the operator. Another
    funder's product is 'not found' even when it is published (and so readable)."""
    if actor.is_platform:
        product = await repository.product_for_update(session, product_id, tenant_id=None)
    elif actor.tenant_id is not None:
        product = await repository.product_for_update(
            session, product_id, tenant_id=actor.tenant_id
        )
    else:
        product = None
    if product is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such product", "id")
    return product


_EVENTS = {
    "create": "product.created",
    "update": "product.updated",
    "publish": "product.published",
    "retire": "product.retired",
}


async def _record(
    session: AsyncSession, actor: Actor, product: Product, action: str, **details: object
) -> None:
    payload = {
        "product_line": product.product_line.value,
        "status": product.status.value,
        "version": product.current_version,
        **details,
    }
    await audit.record(
        session,
        actor,
        action=f"product.{action}",
        object_type="Product",
        object_id=product.id,
        tenant_id=product.tenant_id,
        details=payload,
    )
    await events.append(
        session,
        tenant_id=product.tenant_id,
        type=_EVENTS[action],
        aggregate_type="Product",
        aggregate_id=product.id,
        payload=payload,
    )


async def create_product(
    session: AsyncSession,
    actor: Actor,
    *,
    product_line: ProductLine,
    name: str,
    terms: ProductTerms,
    tenant_id: uuid.UUID | None = None,
) -> ProductWithTerms:
    """Create a DRAFT product with its version 1."""
    require(actor, Scope.PRODUCTS_WRITE)
    owner = await _owner_tenant(session, actor, tenant_id)
    problems: list[DomainError] = []
    clean_name = ""
    try:
        clean_name = party_policy.require_name(name)
    except DomainError as exc:
        _gather(problems, exc)
    try:
        terms = policy.validate_terms(product_line, terms)
    except DomainError as exc:
        _gather(problems, exc)
    collect(problems)
    await _check_counterparties(session, terms)

    product = Product(
        tenant_id=owner,
        id=new_id(),
        product_line=product_line,
        name=clean_name,
        status=ProductStatus.DRAFT,
        current_version=1,
        updated_at=await transaction_now(session),
    )
    repository.add(session, product)
    await session.flush()
    version = repository.new_version(product, 1, terms)
    repository.add(session, version)
    await session.flush()
    await _record(session, actor, product, "create", name=clean_name)
    return ProductWithTerms(product, version)


async def update_product(
    session: AsyncSession,
    actor: Actor,
    *,
    product_id: uuid.UUID,
    name: str | None = None,
    terms: ProductTerms | None = None,
) -> ProductWithTerms:
    """Rename a product and/or replace its terms. A DRAFT's version is edited in place; a
    PUBLISHED product gets a new current version when its terms change (a rename alone is
    not a change of terms). A RETIRED product is final."""
    require(actor, Scope.PRODUCTS_WRITE)
    product = await _load_own(session, actor, product_id)
    policy.check_editable(product)
    problems: list[DomainError] = []
    clean_name = product.name
    if name is not None:
        try:
            clean_name = party_policy.require_name(name)
        except DomainError as exc:
            _gather(problems, exc)
    if terms is not None:
        try:
            terms = policy.validate_terms(product.product_line, terms)
        except DomainError as exc:
            _gather(problems, exc)
    collect(problems)

    current = await repository.version_of(session, product, product.current_version)
    terms_changed = terms is not None and terms != repository.terms_of(current)
    renamed = clean_name != product.name
    if not (terms_changed or renamed):
        return ProductWithTerms(product, current)
    new_version = False
    if terms is not None and terms_changed:
        await _check_counterparties(session, terms)
        if policy.edit_makes_new_version(product):
            current = repository.new_version(product, product.current_version + 1, terms)
            repository.add(session, current)
            await session.flush()
            product.current_version = current.version
            new_version = True
        else:
            repository.write_terms(current, terms)
    product.name = clean_name
    product.updated_at = await transaction_now(session)
    await session.flush()
    await _record(
        session,
        actor,
        product,
        "update",
        terms_changed=terms_changed,
        new_version=new_version,
        renamed=renamed,
    )
    return ProductWithTerms(product, current)


async def publish_product(
    session: AsyncSession, actor: Actor, *, product_id: uuid.UUID
) -> ProductWithTerms:
    """DRAFT -> PUBLISHED: the product appears in the marketplace and its current version is
    frozen. The terms are checked again against today's rules."""
    require(actor, Scope.PRODUCTS_WRITE)
    product = await _load_own(session, actor, product_id)
    policy.check_publish(product)
    current = await repository.version_of(session, product, product.current_version)
    terms = policy.validate_terms(product.product_line, repository.terms_of(current))
    await _check_counterparties(session, terms)
    now = await transaction_now(session)
    product.status = ProductStatus.PUBLISHED
    product.published_at = now
    product.updated_at = now
    await session.flush()
    await _record(session, actor, product, "publish")
    return ProductWithTerms(product, current)


async def retire_product(
    session: AsyncSession, actor: Actor, *, product_id: uuid.UUID
) -> ProductWithTerms:
    """PUBLISHED -> RETIRED, for good: the product leaves the marketplace; deals made under
    it keep their version."""
    require(actor, Scope.PRODUCTS_WRITE)
    product = await _load_own(session, actor, product_id)
    policy.check_retire(product)
    current = await repository.version_of(session, product, product.current_version)
    now = await transaction_now(session)
    product.status = ProductStatus.RETIRED
    product.retired_at = now
    product.updated_at = now
    await session.flush()
    await _record(session, actor, product, "retire")
    return ProductWithTerms(product, current)


async def quote_product(
    session: AsyncSession,
    actor: Actor,
    *,
    product_id: uuid.UUID,
    amount: Money,
    term: int,
    start_date: date,
) -> ProductQuote:
    """Price ``amount`` over ``term`` under the product's current version from the value date
    ``start_date``: the schedule, the origination fee, the total cost of credit and the APR.
    Marketplace readers quote PUBLISHED products of active funders; a funder's staff may also
    preview their own products in any status. Due dates follow the product's business-day
    convention on its holiday calendar, with the operator's entries; a due date the calendar
    does not know is flagged in ``calendar_warnings``."""
    if not (actor.has(Scope.MARKETPLACE_READ) or actor.has(Scope.PRODUCTS_READ)):
        raise DomainError(ErrorCode.FORBIDDEN, "requires the marketplace:read scope")
    found = (await repository.products_by_ids(session, [product_id])).get(product_id)
    if found is None or not policy.product_visible(actor, found.product):
        raise DomainError(ErrorCode.NOT_FOUND, "no such product", "productId")
    own = actor.is_platform or found.product.tenant_id == actor.tenant_id
    if not own and not await repository.funder_active(session, found.product.tenant_id):
        raise DomainError(ErrorCode.NOT_FOUND, "no such product", "productId")
    terms = found.terms
    calendar = await calendars.calendar_from(session, terms.holiday_calendar, start_date)
    return ProductQuote(
        product=found, quote=policy.quote(terms, amount, term, start_date, calendar)
    )
