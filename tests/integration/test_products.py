"""Products on PostgreSQL: versions, lifecycle, row-level security of drafts and offers."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Role, Scope
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import NO_SCOPE, PLATFORM_SCOPE, DbScope
from domain.products import repository, service
from domain.products.models import Product, ProductLine, ProductStatus, ProductVersion
from lendgraph.demo import SEEDER
from tests.products_support import cny, consumer_terms, order_terms
from tests.support import World, seed_world


def funder(tenant_id: uuid.UUID, *scopes: Scope) -> Actor:
    granted = scopes or (Scope.PRODUCTS_READ, Scope.PRODUCTS_WRITE)
    return Actor(
        user_id=uuid.uuid4(),
        client_id="test",
        tenant_id=tenant_id,
        scopes=frozenset(s.value for s in granted),
        roles=frozenset({Role.FUNDER_ADMIN}),
    )


PARTNER = Actor(
    user_id=None,
    client_id="partner",
    tenant_id=None,
    scopes=frozenset({Scope.MARKETPLACE_READ.value}),
)


def session_for(state, actor: Actor | None):  # type: ignore[no-untyped-def]
    if actor is None:
        return open_session(state.sessions, NO_SCOPE)
    if actor.is_platform:
        return open_session(state.sessions, PLATFORM_SCOPE)
    return open_session(state.sessions, DbScope(tenant_id=actor.tenant_id))


async def create(state, actor: Actor, **kw):  # type: ignore[no-untyped-def]
    async with session_for(state, actor) as s:
        kw.setdefault("product_line", ProductLine.CONSUMER_CREDIT)
        kw.setdefault("name", "Salary advance")
        kw.setdefault("terms", consumer_terms())
        created = await service.create_product(s, actor, **kw)
        await s.commit()
        return created.product.id


async def call(state, actor: Actor, use_case, **kw):  # type: ignore[no-untyped-def]
    async with session_for(state, actor) as s:
        result = await use_case(s, actor, **kw)
        await s.commit()
        return result


async def owner_rows(owner_engine, sql: str, **params):  # type: ignore[no-untyped-def]
    async with owner_engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def test_create_is_a_draft_at_version_1_with_audit_and_event(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create(app_state, actor)
    rows = await owner_rows(
        owner_engine,
        "select status, current_version, product_line, name from products where id = :p",
        p=pid,
    )
    assert rows == [("DRAFT", 1, "CONSUMER_CREDIT", "Salary advance")]
    versions = await owner_rows(
        owner_engine,
        "select version, min_amount_minor, annual_rate, allowed_terms, min_borrower_age"
        " from product_versions where product_id = :p",
        p=pid,
    )
    assert versions == [(1, 100000, Decimal("0.12000000"), [3, 6, 12, 24], 22)]
    audit = await owner_rows(
        owner_engine, "select action, tenant_id from audit_log where object_id = :p", p=str(pid)
    )
    assert audit == [("product.create", world.a.id)]
    event = await owner_rows(
        owner_engine, "select type from events where aggregate_id = :p", p=str(pid)
    )
    assert event == [("product.created",)]


async def test_editing_a_draft_changes_version_1_in_place(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create(app_state, actor)
    result = await call(
        app_state,
        actor,
        service.update_product,
        product_id=pid,
        name="Salary advance plus",
        terms=consumer_terms(annual_rate=Decimal("0.10")),
    )
    assert result.product.current_version == 1
    assert result.terms.annual_rate == Decimal("0.10")
    rows = await owner_rows(
        owner_engine,
        "select version, annual_rate from product_versions where product_id = :p",
        p=pid,
    )
    assert rows == [(1, Decimal("0.10000000"))]
    name = await owner_rows(owner_engine, "select name from products where id = :p", p=pid)
    assert name == [("Salary advance plus",)]


async def test_publish_then_edit_makes_version_2_and_leaves_version_1(
    app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    original = consumer_terms()
    pid = await create(app_state, actor, terms=original)
    published = await call(app_state, actor, service.publish_product, product_id=pid)
    assert published.product.status is ProductStatus.PUBLISHED
    assert published.product.published_at is not None

    edited = await call(
        app_state,
        actor,
        service.update_product,
        product_id=pid,
        terms=consumer_terms(annual_rate=Decimal("0.15"), allowed_terms=(12, 6)),
    )
    assert edited.product.current_version == 2
    assert edited.version.version == 2
    assert edited.terms.annual_rate == Decimal("0.15")
    assert edited.terms.allowed_terms == (6, 12)  # normalised
    assert edited.product.status is ProductStatus.PUBLISHED

    async with session_for(app_state, actor) as s:
        versions = (await repository.versions_of_products(s, [pid]))[pid]
        assert [v.version for v in versions] == [2, 1]
        assert repository.terms_of(versions[1]) == original  # version 1 exactly as it was
        # A rename alone is not a change of terms: still version 2.
        renamed = await service.update_product(s, actor, product_id=pid, name="Renamed")
        assert renamed.product.current_version == 2
        # Neither is submitting the same terms again.
        same = await service.update_product(
            s,
            actor,
            product_id=pid,
            terms=consumer_terms(annual_rate=Decimal("0.150"), allowed_terms=(6, 12, 12)),
        )
        assert same.product.current_version == 2
        await s.commit()
    count = await owner_rows(
        owner_engine, "select count(*) from product_versions where product_id = :p", p=pid
    )
    assert count == [(2,)]


async def test_the_database_freezes_published_versions(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create(app_state, actor)
    await call(app_state, actor, service.publish_product, product_id=pid)
    with pytest.raises(DBAPIError) as caught:
        async with session_for(app_state, actor) as s:
            await s.execute(
                text("update product_versions set annual_rate = 0.2 where product_id = :p"),
                {"p": pid},
            )
    assert "cannot change" in str(caught.value)
    # Nor may the application rewrite a product's line or a version's identity (no grant).
    for sql in (
        "update products set product_line = 'ORDER_FINANCING' where id = :p",
        "update product_versions set version = 7 where product_id = :p",
        "delete from product_versions where product_id = :p",
    ):
        with pytest.raises(DBAPIError) as caught:
            async with session_for(app_state, actor) as s:
                await s.execute(text(sql), {"p": pid})
        assert "permission denied" in str(caught.value), sql


async def test_lifecycle_transitions(app_state) -> None:
    world = await seed_world(app_state)
    actor = funder(world.a.id)
    pid = await create(app_state, actor)

    async def refused(use_case, **kw) -> DomainError:  # type: ignore[no-untyped-def]
        with pytest.raises(DomainError) as caught:
            await call(app_state, actor, use_case, product_id=pid, **kw)
        return caught.value

    assert (await refused(service.retire_product)).code is ErrorCode.INVALID_TRANSITION
    await call(app_state, actor, service.publish_product, product_id=pid)
    assert (await refused(service.publish_product)).code is ErrorCode.INVALID_TRANSITION
    retired = await call(app_state, actor, service.retire_product, product_id=pid)
    assert retired.product.status is ProductStatus.RETIRED
    assert retired.product.retired_at is not None
    for use_case, kw in (
        (service.publish_product, {}),
        (service.retire_product, {}),
        (service.update_product, {"name": "Back again"}),
    ):
        assert (await refused(use_case, **kw)).code is ErrorCode.INVALID_TRANSITION


async def test_rls_tenant_b_cannot_see_a_drafts_but_everyone_sees_published(
    app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    a, b = funder(world.a.id), funder(world.b.id)
    draft = await create(app_state, a, name="A draft")
    offer = await create(app_state, a, name="A offer")
    await call(app_state, a, service.publish_product, product_id=offer)
    await call(
        app_state,
        a,
        service.update_product,
        product_id=offer,
        terms=consumer_terms(annual_rate=Decimal("0.09")),
    )
    b_draft = await create(app_state, b, name="B draft")

    async with session_for(app_state, b) as s:
        seen = await repository.products_by_ids(s, [draft, offer, b_draft])
        assert set(seen) == {offer, b_draft}
        assert seen[offer].version.version == 2
        # Of a published product of another funder, only the current version is visible.
        versions = await repository.versions_of_products(s, [draft, offer])
        assert versions == {draft: [], offer: [versions[offer][0]]}
        assert versions[offer][0].version == 2
        raw = await s.execute(select(func.count()).select_from(ProductVersion))
        assert raw.scalar_one() == 2  # B's own draft version and A's current offer version

    # No scope at all (the marketplace offers are public) and the platform scope.
    async with session_for(app_state, None) as s:
        assert set(await repository.products_by_ids(s, [draft, offer, b_draft])) == {offer}
        names = (await s.execute(text("select name from tenants"))).scalars().all()
        assert names == ["Bank A"]  # the funder with an offer, nothing else
    async with session_for(app_state, SEEDER) as s:
        assert set(await repository.products_by_ids(s, [draft, offer, b_draft])) == {
            draft,
            offer,
            b_draft,
        }
    # A sees its own draft and all its versions.
    async with session_for(app_state, a) as s:
        assert [v.version for v in (await repository.versions_of_products(s, [offer]))[offer]] == [
            2,
            1,
        ]


async def test_another_funder_cannot_change_a_published_product(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    a, b = funder(world.a.id), funder(world.b.id)
    pid = await create(app_state, a)
    await call(app_state, a, service.publish_product, product_id=pid)
    for use_case, kw in (
        (service.update_product, {"name": "Hijacked"}),
        (service.retire_product, {}),
        (service.publish_product, {}),
    ):
        with pytest.raises(DomainError) as caught:
            await call(app_state, b, use_case, product_id=pid, **kw)
        assert caught.value.code is ErrorCode.NOT_FOUND
    # Below the service: B's update touches no row although B can read the product.
    async with session_for(app_state, b) as s:
        result = await s.execute(
            text("update products set name = 'Hijacked' where id = :p"), {"p": pid}
        )
        assert result.rowcount == 0
        await s.commit()
    rows = await owner_rows(owner_engine, "select name, status from products where id = :p", p=pid)
    assert rows == [("Salary advance", "PUBLISHED")]


async def test_marketplace_page_filters_and_hides_disabled_funders(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    a, b = funder(world.a.id), funder(world.b.id)
    ids = []
    for actor, name, terms in (
        (a, "A consumer", consumer_terms()),
        (b, "B consumer", consumer_terms(allowed_terms=(36,), max_amount=cny("1000.00"))),
        (a, "A order", order_terms([world.core_enterprise_id])),
    ):
        line = ProductLine.ORDER_FINANCING if "order" in name else ProductLine.CONSUMER_CREDIT
        pid = await create(app_state, actor, name=name, terms=terms, product_line=line)
        await call(app_state, actor, service.publish_product, product_id=pid)
        ids.append(pid)
    await create(app_state, a, name="A draft")

    async def names(**kw) -> list[str]:  # type: ignore[no-untyped-def]
        async with session_for(app_state, PARTNER) as s:
            page = await repository.marketplace_page(s, limit=10, **kw)
            return [p.product.name for p in page]

    assert await names() == ["A consumer", "B consumer", "A order"]
    assert await names(product_line=ProductLine.ORDER_FINANCING) == ["A order"]
    assert await names(term=36) == ["B consumer"]
    assert await names(amount=cny("5000.00")) == ["A consumer", "A order"]
    async with session_for(app_state, PARTNER) as s:
        first = await repository.marketplace_page(s, limit=1)
        p = first[0].product
        after = await repository.marketplace_page(
            s, limit=10, after=(p.published_at, p.tenant_id, p.id)
        )
        assert [x.product.name for x in after] == ["B consumer", "A order"]

    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update tenants set status = 'DISABLED' where id = :t"), {"t": world.b.id}
        )
    assert await names() == ["A consumer", "A order"]
    with pytest.raises(DomainError) as caught:
        async with session_for(app_state, PARTNER) as s:
            await service.quote_product(
                s,
                PARTNER,
                product_id=ids[1],
                amount=cny("1000.00"),
                term=36,
                start_date=date(2026, 1, 15),
            )
    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_counterparties_must_exist_and_be_of_the_right_kind(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        warehouse = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.WAREHOUSE,
            name="Bonded Warehouse",
            social_credit_code="91310115MA1H8E5A44",
        )
        await s.commit()
    a = funder(world.a.id)
    with pytest.raises(DomainError) as caught:
        await create(
            app_state,
            a,
            product_line=ProductLine.ORDER_FINANCING,
            terms=order_terms([world.core_enterprise_id, warehouse.id, uuid.uuid4()]),
        )
    codes = sorted(e.code.value for e in caught.value.errors)  # type: ignore[attr-defined]
    assert codes == ["NOT_FOUND", "WRONG_ORGANIZATION_KIND"]
    assert await owner_rows(owner_engine, "select count(*) from products") == [(0,)]


async def test_operator_creates_for_a_named_tenant_only(app_state) -> None:
    world: World = await seed_world(app_state)
    with pytest.raises(DomainError) as caught:
        await create(app_state, SEEDER)
    assert (caught.value.code, caught.value.field) == (ErrorCode.REQUIRED, "tenantId")
    with pytest.raises(DomainError) as caught:
        await create(app_state, SEEDER, tenant_id=uuid.uuid4())
    assert caught.value.code is ErrorCode.NOT_FOUND
    pid = await create(app_state, SEEDER, tenant_id=world.b.id)
    async with session_for(app_state, funder(world.b.id)) as s:
        assert (await repository.products_by_ids(s, [pid]))[pid].product.tenant_id == world.b.id
    # A funder naming another tenant is refused.
    with pytest.raises(DomainError) as caught:
        await create(app_state, funder(world.a.id), tenant_id=world.b.id)
    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_writes_need_the_products_write_scope(app_state) -> None:
    world = await seed_world(app_state)
    reader = funder(world.a.id, Scope.PRODUCTS_READ)
    with pytest.raises(DomainError) as caught:
        await create(app_state, reader)
    assert caught.value.code is ErrorCode.FORBIDDEN


async def test_version_rows_map_back_to_the_same_terms(app_state) -> None:
    world = await seed_world(app_state)
    a = funder(world.a.id)
    terms = order_terms([world.core_enterprise_id])
    pid = await create(app_state, a, product_line=ProductLine.ORDER_FINANCING, terms=terms)
    async with session_for(app_state, a) as s:
        found = (await repository.products_by_ids(s, [pid]))[pid]
        assert found.terms == terms
        assert isinstance(found.product, Product)
    assert replace(terms) == terms


async def test_demo_publishes_every_line_for_both_funders_once(app_state, owner_engine) -> None:
    from lendgraph import demo

    for expected in (True, False):
        async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
            assert await demo.seed(s, app_state.cipher) is expected
            await s.commit()
    rows = await owner_rows(
        owner_engine,
        "select t.slug, p.product_line, p.status from products p join tenants t"
        " on t.id = p.tenant_id order by 1, 2",
    )
    slugs = [f.slug for f in demo.FUNDERS]
    assert rows == [
        (slug, line.value, "PUBLISHED") for slug in sorted(slugs) for line in sorted(ProductLine)
    ]
    # A demo database from before products existed gets them on the next run (and the deals,
    # which came later and refer to products; with them whatever refers to deals).
    async with owner_engine.begin() as conn:
        await conn.execute(text("truncate deals, product_versions, products cascade"))
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        assert await demo.seed(s, app_state.cipher) is True
        await s.commit()
    assert len(await owner_rows(owner_engine, "select id from products")) == 6
