"""Onboarding use cases of the platform operator: tenants, users with roles, OAuth clients,
and disabling users and clients (which revokes their refresh tokens at once).

Each needs its write scope and, since row-level security lets only the platform scope write
these rows, the operator's ``platform:admin`` scope too: a tenant's service account holding a
write scope is refused with FORBIDDEN instead of failing in the database. The use cases that
take IDs resolve them first, so an ID the caller may not see still reads as NOT_FOUND."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.events import repository as events
from domain.kernel import errors
from domain.kernel.actor import Actor, require
from domain.kernel.clock import utcnow
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Role, Scope
from domain.parties import policy as party_policy
from domain.parties import repository as parties
from domain.parties.models import Organization, OrganizationKind
from domain.persistence.constraints import refusing
from tenants import policy, repository, secrets
from tenants.models import ClientKind, Membership, OAuthClient, Status, Tenant, TenantKind, User


async def _require_tenant(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, field: str = "tenantId"
) -> Tenant:
    """The tenant an input names. Row-level security may show more tenants than the actor may
    act for (a funder with a published offer is marketplace data), so anyone but the operator
    may only name their own tenant; any other reads as not found."""
    tenant = (await repository.tenants_by_ids(session, [tenant_id])).get(tenant_id)
    if tenant is None or not (actor.is_platform or tenant.id == actor.tenant_id):
        raise DomainError(ErrorCode.NOT_FOUND, "no such tenant", field)
    return tenant


async def _require_organization(
    session: AsyncSession, actor: Actor, organization_id: uuid.UUID
) -> Organization:
    """The organization an input names, as row-level security shows it."""
    org = (await parties.organizations_by_ids(session, [organization_id])).get(organization_id)
    if org is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such organization", "organizationId")
    return org


async def create_tenant(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    slug: str,
    kind: TenantKind,
    time_zone: str,
    currency: str,
    registration_number: str | None = None,
) -> Tenant:
    """Onboard a funder. ``registration_number`` is its unified social credit code, checked
    (INVALID_SOCIAL_CREDIT_CODE) and unique (DUPLICATE); a funder without one cannot have a
    contract prepared."""
    require(actor, Scope.TENANTS_WRITE)
    require(actor, Scope.PLATFORM_ADMIN)
    problems: list[DomainError] = []
    checks: list[Callable[[], str]] = [
        lambda: party_policy.require_name(name),
        lambda: policy.validate_slug(slug),
        lambda: policy.validate_time_zone(time_zone),
        lambda: policy.validate_currency(currency),
    ]
    for check in checks:
        try:
            check()
        except DomainError as exc:
            problems.append(exc)
    code = None
    if registration_number is not None:
        try:
            code = party_policy.normalize_social_credit_code(
                registration_number, "registrationNumber"
            )
        except DomainError as exc:
            problems.append(exc)
    errors.collect(problems)
    if await repository.tenant_by_slug(session, slug) is not None:
        raise _duplicate_slug()
    tenant = Tenant(
        name=name.strip(),
        slug=slug,
        registration_number=code,
        kind=kind,
        time_zone=time_zone,
        currency=currency,
        status=Status.ACTIVE,
    )
    # The check above cannot see a concurrent request's tenant; the unique keys can.
    async with refusing(
        session,
        {
            "uq_tenants_slug": _duplicate_slug(),
            "uq_tenants_registration_number": DomainError(
                ErrorCode.DUPLICATE,
                "a tenant with this registration number exists",
                "registrationNumber",
            ),
        },
    ):
        repository.add(session, tenant)
    await audit.record(
        session,
        actor,
        action="tenant.create",
        object_type="Tenant",
        object_id=tenant.id,
        tenant_id=tenant.id,
        details={"slug": slug},
    )
    await events.append(
        session,
        tenant_id=tenant.id,
        type="tenant.created",
        aggregate_type="Tenant",
        aggregate_id=tenant.id,
        payload={"slug": slug},
    )
    return tenant


def _duplicate_slug() -> DomainError:
    return DomainError(ErrorCode.DUPLICATE, "a tenant with this slug exists", "slug")


def _duplicate_email() -> DomainError:
    return DomainError(ErrorCode.DUPLICATE, "a user with this e-mail exists", "email")


@dataclass(frozen=True)
class CreatedUser:
    """A new user and, for tenant staff, their membership."""

    user: User
    membership: Membership | None


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    display_name: str,
    roles: list[str],
    tenant_id: uuid.UUID | None,
    password: str | None = None,
    person_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> CreatedUser:
    """Create a user with roles, either in a tenant (funder staff) or on the platform
    (operator staff, borrowers, core-enterprise and warehouse users)."""
    require(actor, Scope.USERS_WRITE)
    problems: list[DomainError] = []
    parsed_roles: frozenset[Role] = frozenset()
    clean_email = ""
    try:
        clean_email = policy.normalize_email(email)
    except DomainError as exc:
        problems.append(exc)
    try:
        party_policy.require_name(display_name, "displayName")
    except DomainError as exc:
        problems.append(exc)
    try:
        parsed_roles = policy.split_roles(roles, in_tenant=tenant_id is not None)
    except DomainError as exc:
        problems.append(exc)
    if password is not None:
        try:
            policy.validate_password(password)
        except DomainError as exc:
            problems.append(exc)
    errors.collect(problems)

    if tenant_id is not None:
        await _require_tenant(session, actor, tenant_id)
    if person_id is not None:
        person = (await parties.persons_by_ids(session, [person_id])).get(person_id)
        if person is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such person", "personId")
    if organization_id is not None:
        await _require_organization(session, actor, organization_id)
    require(actor, Scope.PLATFORM_ADMIN)
    if await repository.user_by_email(session, clean_email) is not None:
        raise _duplicate_email()

    user = User(
        email=clean_email,
        display_name=display_name.strip(),
        password_hash=await secrets.hash_password_in_thread(password) if password else None,
        platform_roles=[] if tenant_id else sorted(r.value for r in parsed_roles),
        person_id=person_id,
        organization_id=organization_id,
        status=Status.ACTIVE,
    )
    # The check above cannot see a concurrent request's user; the unique index can.
    async with refusing(session, {"uq_users_email_lower": _duplicate_email()}):
        repository.add(session, user)
    membership: Membership | None = None
    if tenant_id is not None:
        membership = Membership(
            tenant_id=tenant_id, user_id=user.id, roles=sorted(r.value for r in parsed_roles)
        )
        repository.add(session, membership)
        await session.flush()
    await audit.record(
        session,
        actor,
        action="user.create",
        object_type="User",
        object_id=user.id,
        tenant_id=tenant_id,
        details={"roles": sorted(r.value for r in parsed_roles)},
    )
    return CreatedUser(user=user, membership=membership)


@dataclass(frozen=True)
class CreatedClient:
    """A new OAuth client and its secret, which is shown only this once."""

    client: OAuthClient
    client_secret: str


_GRANTS = {
    ClientKind.PARTNER_APP: ["client_credentials"],
    ClientKind.SERVICE_ACCOUNT: ["client_credentials"],
    ClientKind.FIRST_PARTY: ["password", "refresh_token"],
}


async def create_client(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    kind: ClientKind,
    scopes: list[str],
    tenant_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    credentials: tuple[str, str] | None = None,
) -> CreatedClient:
    """Register an OAuth client. Partner apps belong to a PARTNER organization; service
    accounts may be bound to a tenant. The secret is stored hashed and returned once.
    ``credentials`` fixes the client ID and secret, for the demo data only."""
    require(actor, Scope.CLIENTS_WRITE)
    problems: list[DomainError] = []
    clean_scopes: list[str] = []
    try:
        party_policy.require_name(name)
    except DomainError as exc:
        problems.append(exc)
    try:
        clean_scopes = policy.validate_client_scopes(scopes, kind)
    except DomainError as exc:
        problems.append(exc)
    errors.collect(problems)
    if kind == ClientKind.PARTNER_APP:
        if organization_id is None:
            raise DomainError(
                ErrorCode.REQUIRED, "partner apps need an organization", "organizationId"
            )
        if tenant_id is not None:
            raise DomainError(ErrorCode.INVALID, "partner apps serve every tenant", "tenantId")
    if organization_id is not None:
        org = await _require_organization(session, actor, organization_id)
        if kind == ClientKind.PARTNER_APP and org.kind != OrganizationKind.PARTNER:
            raise DomainError(ErrorCode.INVALID, "not a partner organization", "organizationId")
    if tenant_id is not None:
        await _require_tenant(session, actor, tenant_id)
    require(actor, Scope.PLATFORM_ADMIN)

    client_id, secret = credentials or secrets.new_client_credentials()
    client = OAuthClient(
        client_id=client_id,
        secret_hash=secrets.hash_token(secret),
        name=name.strip(),
        kind=kind,
        tenant_id=tenant_id,
        organization_id=organization_id,
        scopes=clean_scopes,
        grant_types=_GRANTS[kind],
        status=Status.ACTIVE,
    )
    repository.add(session, client)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="client.create",
        object_type="OAuthClient",
        object_id=client.id,
        tenant_id=tenant_id,
        details={"client_id": client_id, "scopes": clean_scopes},
    )
    return CreatedClient(client=client, client_secret=secret)


async def disable_user(session: AsyncSession, actor: Actor, *, user_id: uuid.UUID) -> User:
    """Disable a user: no new tokens, refresh tokens revoked at once."""
    require(actor, Scope.USERS_WRITE)
    user = (await repository.users_by_ids(session, [user_id])).get(user_id)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such user", "id")
    require(actor, Scope.PLATFORM_ADMIN)
    if user.status == Status.DISABLED:
        raise DomainError(ErrorCode.ALREADY_DISABLED, "the user is already disabled", "id")
    now = utcnow()
    user.status = Status.DISABLED
    user.disabled_at = now
    await repository.revoke_refresh_tokens(session, at=now, user_id=user.id)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="user.disable",
        object_type="User",
        object_id=user.id,
        tenant_id=None,
    )
    return user


async def disable_client(session: AsyncSession, actor: Actor, *, id: uuid.UUID) -> OAuthClient:
    """Disable a client: it can no longer obtain tokens and its refresh tokens are revoked."""
    require(actor, Scope.CLIENTS_WRITE)
    client = (await repository.clients_by_ids(session, [id])).get(id)
    if client is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such client", "id")
    require(actor, Scope.PLATFORM_ADMIN)
    if client.status == Status.DISABLED:
        raise DomainError(ErrorCode.ALREADY_DISABLED, "the client is already disabled", "id")
    now = utcnow()
    client.status = Status.DISABLED
    client.disabled_at = now
    await repository.revoke_refresh_tokens(session, at=now, client_pk=client.id)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="client.disable",
        object_type="OAuthClient",
        object_id=client.id,
        tenant_id=client.tenant_id,
        details={"client_id": client.client_id},
    )
    return client


async def expire_refresh_tokens(session: AsyncSession) -> int:
    """Housekeeping: revoke refresh tokens past their expiry; returns how many."""
    return await repository.purge_expired_refresh_tokens(session, before=utcnow())


async def set_tenant_status(
    session: AsyncSession, actor: Actor, *, tenant_id: uuid.UUID, status: Status
) -> Tenant:
    """Disable or re-enable a funder (platform operator). Disabling takes effect at once: its
    staff's and service accounts' tokens stop working on their next request (every request
    checks the tenant is active), its refresh tokens are revoked, and its products leave the
    marketplace (the database unlists them in the same transaction). Re-enabling lists its
    published products again; its people sign in afresh."""
    require(actor, Scope.TENANTS_WRITE)
    tenant = await _require_tenant(session, actor, tenant_id, "id")
    require(actor, Scope.PLATFORM_ADMIN)
    if tenant.status == status:
        code = ErrorCode.ALREADY_DISABLED if status == Status.DISABLED else ErrorCode.INVALID
        raise DomainError(code, f"the tenant is already {status.value.lower()}", "status")
    tenant.status = status
    if status == Status.DISABLED:
        await repository.revoke_refresh_tokens(session, at=utcnow(), tenant_id=tenant.id)
    await session.flush()
    verb = "disable" if status == Status.DISABLED else "enable"
    await audit.record(
        session,
        actor,
        action=f"tenant.{verb}",
        object_type="Tenant",
        object_id=tenant.id,
        tenant_id=tenant.id,
        details={"status": status.value},
    )
    await events.append(
        session,
        tenant_id=tenant.id,
        type=f"tenant.{verb}d",
        aggregate_type="Tenant",
        aggregate_id=tenant.id,
        payload={"status": status.value},
    )
    return tenant
