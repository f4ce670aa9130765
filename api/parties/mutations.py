"""Onboarding mutations for parties."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.errors import UserError, run_use_case
from api.ids import AgentID, PartyID
from api.parties.types import AgentAuthorization, OrganizationKind, OrganizationNode, PersonNode
from api.permissions import has_scope
from api.relay import id_of
from domain.kernel.errors import DomainError, ErrorCode
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


@strawberry.input(
    description="A natural person to register: by the operator, or by a funder's or a "
    "partner's app onboarding its customer (the app then acts for the person)."
)
class CreatePersonInput:
    full_name: str = strawberry.field(description="Name as on the identity card.")
    resident_id: str = strawberry.field(description="PRC resident identity number (18).")
    phone: str | None = strawberry.field(default=None, description="Mainland mobile number.")


@strawberry.type(description="Result of createPerson.")
class CreatePersonPayload:
    person: PersonNode | None = strawberry.field(description="The new person.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="Who is to act, or stop acting, for a party.")
class AgentInput:
    agent_id: AgentID = strawberry.field(
        description="A partner or a warehouse (an Organization ID), or a funder (a Tenant ID)."
    )
    party_id: PartyID | None = strawberry.field(
        default=None,
        description="The person or company acted for: yourself when omitted. The operator "
        "names any party; an agent revoking names the party it stops acting for.",
    )


@strawberry.type(description="Result of authorizeAgent and revokeAgentAuthorization.")
class AgentAuthorizationPayload:
    authorization: AgentAuthorization | None = strawberry.field(
        description="The relationship as it now is."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


def _agent(input: AgentInput) -> service.Agent:
    gid = input.agent_id
    if gid.type_name == "Tenant":
        return service.Agent(tenant_id=id_of(gid, "Tenant", "agentId"))
    return service.Agent(organization_id=id_of(gid, "Organization", "agentId"))


def _party(input: AgentInput) -> service.Party | None:
    gid = input.party_id
    if gid is None:
        return None
    if gid.type_name == "Person":
        return service.Party(person_id=id_of(gid, "Person", "partyId"))
    if gid.type_name == "Organization":
        return service.Party(organization_id=id_of(gid, "Organization", "partyId"))
    raise DomainError(ErrorCode.NOT_FOUND, "no such person or company", "partyId")


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

    @strawberry.mutation(
        description="Let a partner, a warehouse or a funder act for you (or, for the "
        "operator, for any party): a partner's app may then apply for you and submit your "
        "orders, a warehouse issue you receipts, a funder's own app apply for you. Authorising "
        "again while it holds returns the same relationship.",
        permission_classes=[has_scope(Scope.AGENTS_WRITE)],
    )
    async def authorize_agent(self, info: Info, input: AgentInput) -> AgentAuthorizationPayload:
        async with info.context.db() as session:
            row, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.authorize_agent(
                    s, a, agent=_agent(input), party=_party(input)
                ),
            )
        return AgentAuthorizationPayload(
            authorization=AgentAuthorization.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="End a relationship: the party, the agent itself or the operator. What was "
        "made under it stays; nothing new may name the party through that agent.",
        permission_classes=[has_scope(Scope.AGENTS_WRITE)],
    )
    async def revoke_agent_authorization(
        self, info: Info, input: AgentInput
    ) -> AgentAuthorizationPayload:
        async with info.context.db() as session:
            row, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.revoke_agent(s, a, agent=_agent(input), party=_party(input)),
            )
        return AgentAuthorizationPayload(
            authorization=AgentAuthorization.from_row(row) if row else None, user_errors=errors
        )
