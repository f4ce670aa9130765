"""Onboarding mutations for parties."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.errors import UserError, run_use_case
from api.parties.types import OrganizationKind, OrganizationNode, PersonNode
from api.permissions import has_scope
from domain.kernel.scopes import Scope
from domain.parties import service


@strawberry.input(description="A company to onboard.")
class CreateOrganizationInput:
    kind: OrganizationKind = strawberry.field(description="Role in the marketplace.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="Registered name.")
    social_credit_code: str = strawberry.field(description="Unified social credit code (18).")


@strawberry.type(description="Result of createOrganization.")
class CreateOrganizationPayload:
    organization: OrganizationNode | None = strawberry.field(description="The new organization.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="A natural person to register.")
class CreatePersonInput:
    full_name: str = strawberry.field(description="Name as on the identity card.")
    resident_id: str = strawberry.field(description="PRC resident identity number (18).")
    phone: str | None = strawberry.field(default=None, description="Mainland mobile number.")


@strawberry.type(description="Result of createPerson.")
class CreatePersonPayload:
    person: PersonNode | None = strawberry.field(description="The new person.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type
class PartyMutations:
    @strawberry.mutation(
        description="Onboard an organization (platform operator).",
        permission_classes=[has_scope(Scope.ORGANIZATIONS_WRITE)],
    )
    async def create_organization(
        self, info: Info, input: CreateOrganizationInput
    ) -> CreateOrganizationPayload:
        async with info.context.db() as session:
            org, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_organization(
                    s,
                    a,
                    kind=input.kind,
                    name=input.name,
                    social_credit_code=input.social_credit_code,
                ),
            )
        return CreateOrganizationPayload(
            organization=OrganizationNode.from_row(org) if org else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Register a natural person (platform operator).",
        permission_classes=[has_scope(Scope.PERSONS_WRITE)],
    )
    async def create_person(self, info: Info, input: CreatePersonInput) -> CreatePersonPayload:
        cipher = info.context.state.cipher
        async with info.context.db() as session:
            person, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_person(
                    s,
                    a,
                    cipher,
                    full_name=input.full_name,
                    resident_id=input.resident_id,
                    phone=input.phone,
                ),
            )
        return CreatePersonPayload(
            person=PersonNode.from_row(person) if person else None, user_errors=errors
        )
