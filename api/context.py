"""The GraphQL context and the unit of work around it.

One operation (a query or mutation, over HTTP or over a WebSocket) runs in one unit of work:
one session, the active-principal check first, commit on success, rollback on failure, session
closed (:func:`execute_in_unit_of_work`, used by both transports). Its session is serialised,
since Strawberry resolves sibling fields concurrently and a session runs one query at a time.

A subscription has no unit of work of its own (it may wait for events for hours): each use of
:meth:`Context.db` is then a short unit of work of its own, so that no connection is held
between uses. DataLoaders are built per context, never per process."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.schema import BaseSchema
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType

from api.error_logging import add_codes
from api.overload import Overloaded, overloaded
from api.state import AppState
from domain.collateral import repository as collateral
from domain.contracts import repository as contracts
from domain.deals import repository as deals
from domain.integration_calls import repository as integration_calls
from domain.kernel.actor import Actor
from domain.ledger import repository as ledger_repository
from domain.ledger import service as ledger
from domain.loans import repository as loans
from domain.parties import repository as parties
from domain.persistence.scope import DbScope, PrincipalCheck, principal_verdict
from domain.persistence.unit_of_work import unit_of_work as uow
from domain.products import repository as products
from domain.reviews import repository as reviews
from domain.risk import repository as risk
from tenants import repository as tenancy
from tenants.tokens import Principal

#: A loan's journal entries read, newest first (``Loan.ledgerEntries``).
NEWEST_ENTRIES = 50

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
    # Keyed by (tenant_id, deal_id), the order of the timeline's index.
    deal_events: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    # Keyed by (tenant_id, product_id, version): the exact version a deal applied under.
    deal_versions: DataLoader[Any, Any]
    # Keyed by (tenant_id, deal_id): a deal's integration calls (its risk checks).
    risk_checks: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    # Keyed by (tenant_id, deal_id): a deal's latest risk assessment.
    risk_assessments: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    # Keyed by (tenant_id, deal_id): a deal's reviews, by round and stage.
    deal_reviews: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    # Keyed by (tenant_id, deal_id): a deal's current contract (not VOID).
    deal_contracts: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    loans: DataLoader[uuid.UUID, Any]
    # Keyed by (tenant_id, deal_id): a deal's loan, once its payout settled.
    deal_loans: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    # Keyed by (tenant_id, loan_id): a loan's balances by account kind; its newest entries.
    loan_balances: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]
    loan_entries: DataLoader[tuple[uuid.UUID, uuid.UUID], Any]


class PrincipalInactive(GraphQLError):
    """The token's client, user or tenant has been disabled since the token was issued: it
    loses access at once, not when the token expires."""

    def __init__(self) -> None:
        super().__init__(
            "The token's client, user or tenant is disabled", extensions={"code": "FORBIDDEN"}
        )


@dataclass(frozen=True)
class Caller:
    """Who a transport has authenticated, before any unit of work: HTTP has one per request,
    a WebSocket one per connection (after ``connection_init``)."""

    principal: Principal | None
    request_id: str | None
    #: The remote address, whose query cost bucket an anonymous caller draws on.
    client_address: str | None = None

    @property
    def actor(self) -> Actor:
        """The domain's view of the caller."""
        return self.principal.actor(self.request_id) if self.principal else ANONYMOUS


def principal_check(principal: Principal | None) -> PrincipalCheck | None:
    """What every transaction of the principal's unit of work checks (nothing for anonymous)."""
    if principal is None:
        return None
    return PrincipalCheck(
        client_id=principal.client_id, user_id=principal.user_id, tenant_id=principal.tenant_id
    )


async def require_active_principal(session: AsyncSession, principal: Principal | None) -> None:
    """Refuse a principal whose client, user or tenant has been disabled (anonymous passes).
    The check runs in the statement that begins the transaction by binding its scope."""
    if principal is None:
        return
    await session.connection()  # BEGIN, then bind-and-check: one statement
    if principal_verdict(session) is not True:
        raise PrincipalInactive


@asynccontextmanager
async def unit_of_work(
    state: AppState, principal: Principal | None, actor: Actor
) -> AsyncIterator[AsyncSession]:
    """A session whose every transaction binds ``actor``'s scope: the active-principal check
    first, commit when the block ends, rollback when it raises, closed (its connection back
    in the pool) either way, and the jobs of what committed sent to the broker. No
    connection within the pool's timeout for the check raises
    :class:`api.overload.Overloaded`."""

    async def check(session: AsyncSession) -> None:
        try:
            await require_active_principal(session, principal)
        except PoolTimeout as exc:  # the session's first checkout: nothing has run
            raise Overloaded from exc

    async with uow(
        state.sessions, db_scope(actor), state.jobs, check=principal_check(principal), before=check
    ) as session:
        yield session


async def principal_still_active(state: AppState, principal: Principal) -> bool:
    """The active-principal check on a short session of its own, for a caller that holds no
    unit of work (a WebSocket between operations); the connection goes back at once."""
    try:
        async with unit_of_work(state, principal, principal.actor(None)):
            return True
    except PrincipalInactive:
        return False


@dataclass
class Context:
    """What every resolver sees as ``info.context``.

    With a ``session`` (a query or mutation), every :meth:`db` use shares the operation's unit
    of work, which its owner commits. Without one (a subscription), every :meth:`db` use is a
    short unit of work of its own."""

    state: AppState
    principal: Principal | None
    actor: Actor
    session: AsyncSession | None = None
    client_address: str | None = None
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
            risk_checks=self._loader(integration_calls.calls_of_deals),
            risk_assessments=self._loader(risk.latest_of_deals),
            deal_reviews=self._loader(reviews.reviews_of_deals),
            deal_contracts=self._loader(contracts.current_of_deals),
            loans=self._loader(loans.loans_by_ids),
            deal_loans=self._loader(loans.loans_of_deals),
            loan_balances=self._loader(ledger.balances_of_loans),
            loan_entries=self._loader(
                functools.partial(ledger_repository.entries_of_loans, newest=NEWEST_ENTRIES)
            ),
        )

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """A session, one user at a time: the operation's, or (on a subscription) a unit of
        work of its own, committed or rolled back and closed when the block ends."""
        async with self.lock:
            if self.session is not None:
                yield self.session
                return
            async with unit_of_work(self.state, self.principal, self.actor) as session:
                yield session

    def _loader(self, batch: Any) -> DataLoader[Any, Any]:
        async def load(ids: list[Any]) -> list[Any]:
            async with self.db() as session:
                found = await batch(session, ids)
            return [found.get(i) for i in ids]

        # A subscription's context lives from event to event, and rows change in between:
        # there the loaders batch but do not cache.
        return DataLoader(load_fn=load, cache=self.session is not None)

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


async def execute_in_unit_of_work(
    schema: BaseSchema,
    state: AppState,
    caller: Caller,
    *,
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    extensions: dict[str, Any] | None = None,
    allowed_operation_types: Iterable[OperationType],
    root_value: Any = None,
) -> ExecutionResult:
    """Execute one query or mutation as ``caller`` in a unit of work of its own, committed
    before the result is returned. The one path of both transports: checks added here apply
    to HTTP and to WebSocket alike.

    Raises :class:`api.overload.Overloaded` when no database connection came in time (before
    or during execution; the unit of work is rolled back), :class:`PrincipalInactive` when the
    principal has been disabled, and Strawberry's
    ``MissingQueryError``, ``CannotGetOperationTypeError`` and ``InvalidOperationTypeError``
    for the transport to answer; nothing has run then."""
    actor = caller.actor
    async with unit_of_work(state, caller.principal, actor) as session:
        context = Context(
            state=state,
            principal=caller.principal,
            actor=actor,
            session=session,
            client_address=caller.client_address,
        )
        result = await schema.execute(
            query,
            variable_values=variables,
            context_value=context,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed_operation_types,
            operation_extensions=extensions,
        )
        if overloaded(result):
            # A resolver got no connection in time: whatever other fields did is rolled back
            # (unit_of_work), so that the 503 means that nothing was done.
            raise Overloaded
        if refused_before_execution(result):
            await session.rollback()  # no field ran: nothing to keep
        add_codes(result)
        return result


def refused_before_execution(result: object) -> bool:
    """Whether no field ran: Strawberry's pre-execution refusal, or graphql-core's refusal of
    the variables (``data`` null and no error tied to a field). A null ``data`` after fields
    ran - say a refused second mutation - is not one: the earlier fields' work stands. (Note
    that Strawberry's results are not graphql-core's ``ExecutionResult``.)"""
    if isinstance(result, PreExecutionError):
        return True
    if not isinstance(result, GraphQLExecutionResult | ExecutionResult):
        return False
    return (
        result.data is None
        and bool(result.errors)
        and all(e.path is None for e in result.errors or [])
    )
