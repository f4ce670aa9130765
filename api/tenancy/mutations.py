"""Onboarding mutations for tenants, users and OAuth clients."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.errors import UserError, run_use_case
from api.ids import OrganizationID, PersonID, TenantID, UserOrClientID
from api.permissions import has_scope
from api.relay import id_of, required
from api.tenancy.types import (
    ClientKind,
    OAuthClientNode,
    Status,
    TenantKind,
    TenantNode,
    UserNode,
)
from domain.kernel.scopes import Scope
from tenants import service


@strawberry.input(description="A funder to onboard.")
class CreateTenantInput:
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="Unique short name: a-z, 0-9 and hyphens.")
    kind: TenantKind = strawberry.field(description="Bank, insurer or private lender.")  # type: ignore[valid-type]
    time_zone: str = strawberry.field(default="Asia/Shanghai", description="IANA time zone.")
    currency: str = strawberry.field(default="CNY", description="ISO 4217 booking currency.")
    registration_number: str | None = strawberry.field(
        default=None,
        description="The funder's unified social credit code (18 characters), which its "
        "contracts name it by; no contract is prepared for a funder without one.",
    )


@strawberry.type(description="Result of createTenant.")
class CreateTenantPayload:
    tenant: TenantNode | None = strawberry.field(description="The new tenant.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="A user to create, in a tenant or on the platform.")
class CreateUserInput:
    email: str = strawberry.field(description="Sign-in e-mail address.")
    display_name: str = strawberry.field(description="Name shown to others.")
    roles: list[str] = strawberry.field(
        description="Tenant roles when tenantId is given, platform roles otherwise."
    )
    tenant_id: TenantID | None = strawberry.field(
        default=None, description="The tenant for funder staff."
    )
    password: str | None = strawberry.field(
        default=None, description="Initial password (at least 12 characters)."
    )
    person_id: PersonID | None = strawberry.field(
        default=None, description="The person this user is, for borrowers."
    )
    organization_id: OrganizationID | None = strawberry.field(
        default=None, description="The organization this user acts for."
    )


@strawberry.type(description="Result of createUser.")
class CreateUserPayload:
    user: UserNode | None = strawberry.field(description="The new user.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="An OAuth client to register.")
class CreateOAuthClientInput:
    name: str = strawberry.field(description="Display name.")
    kind: ClientKind = strawberry.field(description="Partner app, service account or first party.")  # type: ignore[valid-type]
    scopes: list[str] = strawberry.field(description="Scopes the client may request.")
    tenant_id: TenantID | None = strawberry.field(
        default=None, description="The tenant a service account acts for."
    )
    organization_id: OrganizationID | None = strawberry.field(
        default=None, description="The partner organization of a partner app."
    )


@strawberry.type(description="Result of createOAuthClient. The secret is shown only here.")
class CreateOAuthClientPayload:
    client: OAuthClientNode | None = strawberry.field(description="The new client.")
    client_secret: str | None = strawberry.field(description="The secret, shown once.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="Which object to disable.")
class DisableInput:
    id: UserOrClientID = strawberry.field(description="The user or client to disable.")


@strawberry.type(description="Result of disableUser.")
class DisableUserPayload:
    user: UserNode | None = strawberry.field(description="The disabled user.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="Result of disableOAuthClient.")
class DisableOAuthClientPayload:
    client: OAuthClientNode | None = strawberry.field(description="The disabled client.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="A funder to disable or enable again.")
class SetTenantStatusInput:
    id: TenantID = strawberry.field(description="The tenant.")
    status: Status = strawberry.field(  # type: ignore[valid-type]
        description="DISABLED: its people and apps lose access at once and its products leave "
        "the marketplace; ACTIVE: it lends again (its people sign in afresh)."
    )


@strawberry.type(description="Result of setTenantStatus.")
class SetTenantStatusPayload:
    tenant: TenantNode | None = strawberry.field(description="The tenant as it now is.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type
class TenancyMutations:
    @strawberry.mutation(
        description="Onboard a funder (platform operator).",
        permission_classes=[has_scope(Scope.TENANTS_WRITE)],
    )
    async def create_tenant(self, info: Info, input: CreateTenantInput) -> CreateTenantPayload:
        async with info.context.db() as session:
            tenant, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_tenant(
                    s,
                    a,
                    name=input.name,
                    slug=input.slug,
                    kind=input.kind,
                    time_zone=input.time_zone,
                    currency=input.currency,
                    registration_number=input.registration_number,
                ),
            )
        return CreateTenantPayload(
            tenant=TenantNode.from_row(tenant) if tenant else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Create a user with roles in a tenant or on the platform.",
        permission_classes=[has_scope(Scope.USERS_WRITE)],
    )
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        async with info.context.db() as session:
            created, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_user(
                    s,
                    a,
                    email=input.email,
                    display_name=input.display_name,
                    roles=input.roles,
                    tenant_id=id_of(input.tenant_id, "Tenant", "tenantId"),
                    password=input.password,
                    person_id=id_of(input.person_id, "Person", "personId"),
                    organization_id=id_of(input.organization_id, "Organization", "organizationId"),
                ),
            )
        return CreateUserPayload(
            user=UserNode.from_row(created.user) if created else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Register an OAuth client; the secret is returned once and stored hashed.",
        permission_classes=[has_scope(Scope.CLIENTS_WRITE)],
    )
    async def create_o_auth_client(
        self, info: Info, input: CreateOAuthClientInput
    ) -> CreateOAuthClientPayload:
        async with info.context.db() as session:
            created, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_client(
                    s,
                    a,
                    name=input.name,
                    kind=input.kind,
                    scopes=input.scopes,
                    tenant_id=id_of(input.tenant_id, "Tenant", "tenantId"),
                    organization_id=id_of(input.organization_id, "Organization", "organizationId"),
                ),
            )
        return CreateOAuthClientPayload(
            client=OAuthClientNode.from_row(created.client) if created else None,
            client_secret=created.client_secret if created else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Disable a user: no new tokens; refresh tokens revoked at once.",
        permission_classes=[has_scope(Scope.USERS_WRITE)],
    )
    async def disable_user(self, info: Info, input: DisableInput) -> DisableUserPayload:
        async with info.context.db() as session:
            user, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.disable_user(
                    s, a, user_id=required(id_of(input.id, "User", "id"))
                ),
            )
        return DisableUserPayload(
            user=UserNode.from_row(user) if user else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Disable an OAuth client: no new tokens; refresh tokens revoked at once.",
        permission_classes=[has_scope(Scope.CLIENTS_WRITE)],
    )
    async def disable_o_auth_client(
        self, info: Info, input: DisableInput
    ) -> DisableOAuthClientPayload:
        async with info.context.db() as session:
            client, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.disable_client(
                    s, a, id=required(id_of(input.id, "OAuthClient", "id"))
                ),
            )
        return DisableOAuthClientPayload(
            client=OAuthClientNode.from_row(client) if client else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Disable or re-enable a funder (platform operator).",
        permission_classes=[has_scope(Scope.TENANTS_WRITE)],
    )
    async def set_tenant_status(
        self, info: Info, input: SetTenantStatusInput
    ) -> SetTenantStatusPayload:
        async with info.context.db() as session:
            tenant, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.set_tenant_status(
                    s, a, tenant_id=required(id_of(input.id, "Tenant", "id")), status=input.status
                ),
            )
        return SetTenantStatusPayload(
            tenant=TenantNode.from_row(tenant) if tenant else None, user_errors=errors
        )
