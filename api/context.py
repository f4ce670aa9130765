"""Per-request GraphQL context: the principal, one database session (serialised, since
Strawberry resolves sibling fields concurrently and a session runs one query at a time) and
DataLoaders built for this request only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from api.state import AppState
from domain.collateral import repository as collateral
from domain.deals import repository as deals
from domain.kernel.actor import Actor
from domain.parties import repository as parties
from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope
from domain.products import repository as products
from tenants import repository as tenancy
from tenants.tokens import Principal

ANONYMOUS = Actor(user_id=None, client_id=None, tenant_id=None)


def db_scope(actor: Actor) -> DbScope:
    """What row-level security lets this actor's transactions see."""
    return DbScope(
        tenant_id=actor.tenant_id,
        platform=actor.is_platform,
        user_id=actor.user_id,
        person_id=actor.person_id,
        organization_id=actor.organization_id,
        client_id=actor.client_id,
    )


@dataclass
class Loaders:
    """Batch getters for one request."""

    tenants: DataLoader[uuid.UUID, Any]
    users: DataLoader[uuid.UUID, Any]
    clients: DataLoader[uuid.UUID, Any]
    organizations: DataLoader[uuid.UUID, Any]
    persons: DataLoader[uuid.UUID, Any]
    memberships_of_user: DataLoader[uuid.UUID, Any]
    products: DataLoader[uuid.UUID, Any]
    product_versions: DataLoader[uuid.UUID, Any]
    purchase_orders: DataLoader[uuid.UUID, Any]
    warehouse_receipts: DataLoader[uuid.UUID, Any]
    documents: DataLoader[uuid.UUID, Any]
    documents_of_purchase_orders: DataLoader[uuid.UUID, Any]
    documents_of_receipts: DataLoader[uuid.UUID, Any]
    deals: DataLoader[uuid.UUID, Any]
    deal_events: DataLoader[uuid.UUID, Any]
    # Keyed by (tenant_id, product_id, version): the exact version a deal applied under.
    deal_versions: DataLoader[Any, Any]


@dataclass
class Context:
    """What every resolver sees as ``info.context``."""

    state: AppState
    principal: Principal | None
    actor: Actor
    session: AsyncSession
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(
            tenants=self._loader(tenancy.tenants_by_ids),
            users=self._loader(self._visible_users),
            clients=self._loader(tenancy.clients_by_ids),
            organizations=self._loader(parties.organizations_by_ids),
            persons=self._loader(parties.persons_by_ids),
            memberships_of_user=self._loader(tenancy.memberships_of_users),
            products=self._loader(products.products_by_ids),
            product_versions=self._loader(products.versions_of_products),
            purchase_orders=self._loader(collateral.purchase_orders_by_ids),
            warehouse_receipts=self._loader(collateral.receipts_by_ids),
            documents=self._loader(collateral.documents_by_ids),
            documents_of_purchase_orders=self._loader(collateral.documents_of_purchase_orders),
            documents_of_receipts=self._loader(collateral.documents_of_receipts),
            deals=self._loader(deals.deals_by_ids),
            deal_events=self._loader(deals.events_of_deals),
            deal_versions=self._loader(deals.versions_by_keys),
        )

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, one user at a time."""
        async with self.lock:
            yield self.session

    def _loader(self, batch: Any) -> DataLoader[Any, Any]:
        async def load(ids: list[Any]) -> list[Any]:
            async with self.db() as session:
                found = await batch(session, ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    async def _visible_users(self, session: AsyncSession, ids: list[uuid.UUID]) -> Any:
        # Second check under row-level security: tenant staff see their tenant's members,
        # others only themselves; the operator sees everyone.
        actor = self.actor
        if actor.is_platform:
            return await tenancy.users_by_ids(session, ids)
        if actor.tenant_id is not None:
            return await tenancy.users_by_ids(
                session, ids, members_of=actor.tenant_id, only_self=actor.user_id
            )
        return await tenancy.users_by_ids(session, ids, only_self=actor.user_id or uuid.UUID(int=0))


def build_context(state: AppState, principal: Principal | None, request_id: str | None) -> Context:
    """A context whose session binds the principal's tenant on every transaction."""
    actor = principal.actor(request_id) if principal else ANONYMOUS
    session = open_session(state.sessions, db_scope(actor))
    return Context(state=state, principal=principal, actor=actor, session=session)
