"""Use cases on parties: onboarding organizations (platform operator only: the write scope and
``platform:admin``, without which row-level security would refuse the insert) and persons (the
operator, a funder's app or a partner app: an app that onboards a person acts for it from then
on, recorded by the database), and the relationships of who acts for whom
(:func:`authorize_agent`, :func:`revoke_agent`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.events import repository as events
from domain.kernel import errors
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.crypto import PersonalDataCipher, mask
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Scope
from domain.parties import policy, repository
from domain.parties.models import (
    AgentKind,
    GrantedBy,
    Organization,
    OrganizationKind,
    PartyAgent,
    Person,
    TenantCustomer,
)
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing


async def create_organization(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: OrganizationKind,
    name: str,
    social_credit_code: str,
) -> Organization:
    """Onboard a company. Its unified social credit code must be valid and new."""
    require(actor, Scope.ORGANIZATIONS_WRITE)
    require(actor, Scope.PLATFORM_ADMIN)
    problems: list[DomainError] = []
    clean_name = code = ""
    try:
        clean_name = policy.require_name(name)
    except DomainError as exc:
        problems.append(exc)
    try:
        code = policy.normalize_social_credit_code(social_credit_code)
    except DomainError as exc:
        problems.append(exc)
    errors.collect(problems)
    if await repository.organization_by_code(session, code) is not None:
        raise _duplicate_code()
    org = Organization(kind=kind, name=clean_name, social_credit_code=code)
    # The check above cannot see a concurrent request's organization; the unique key can.
    async with refusing(session, {"uq_organizations_social_credit_code": _duplicate_code()}):
        repository.add(session, org)
    await audit.record(
        session,
        actor,
        action="organization.create",
        object_type="Organization",
        object_id=org.id,
        tenant_id=None,
        details={"kind": kind.value},
    )
    return org


def _duplicate_code() -> DomainError:
    return DomainError(
        ErrorCode.DUPLICATE, "an organization with this code exists", "socialCreditCode"
    )


def _duplicate_resident_id() -> DomainError:
    return DomainError(
        ErrorCode.DUPLICATE,
        "a person with this resident ID is registered; they may authorise you instead",
        "residentId",
    )


async def create_person(
    session: AsyncSession,
    actor: Actor,
    cipher: PersonalDataCipher,
    *,
    full_name: str,
    resident_id: str,
    phone: str | None,
) -> Person:
    """Register a natural person. Resident ID and phone are encrypted; the resident ID must be
    valid and not registered before. The operator registers anyone; a funder's principal or a
    partner app onboards its own customers, and the database records that it acts for them (a
    person registered already must authorise the app instead: DUPLICATE)."""
    require(actor, Scope.PERSONS_WRITE)
    if not actor.is_platform and actor.tenant_id is None:
        partner = (
            actor.user_id is None
            and actor.organization_id is not None
            and (own := (await repository.organizations_by_ids(session, [actor.organization_id])))
            and own[actor.organization_id].kind is OrganizationKind.PARTNER
        )
        if not partner:
            raise DomainError(
                ErrorCode.FORBIDDEN,
                "persons are registered by the platform, a funder or a partner app",
            )
    problems: list[DomainError] = []
    name = rid = ""
    mobile: str | None = None
    try:
        name = policy.require_name(full_name, "fullName")
    except DomainError as exc:
        problems.append(exc)
    try:
        rid = policy.normalize_resident_id(resident_id)
    except DomainError as exc:
        problems.append(exc)
    if phone is not None:
        try:
            mobile = policy.normalize_mobile(phone)
        except DomainError as exc:
            problems.append(exc)
    errors.collect(problems)
    rid_hash = cipher.lookup_hash(rid)
    if await repository.person_by_resident_id_hash(session, rid_hash) is not None:
        raise _duplicate_resident_id()
    person = Person(
        # Both given here, so the insert needs no RETURNING: an app onboarding a person may see
        # the row only once the database has recorded that it acts for them (after the insert).
        id=new_id(),
        created_at=await transaction_now(session),
        full_name=name,
        resident_id_encrypted=cipher.encrypt(rid),
        resident_id_hash=rid_hash,
        resident_id_masked=mask(rid, 6, 4),
        phone_encrypted=cipher.encrypt(mobile) if mobile else None,
        phone_hash=cipher.lookup_hash(mobile) if mobile else None,
        phone_masked=mask(mobile, 3, 4) if mobile else None,
    )
    # The check above cannot see a concurrent request's person, nor one the app may not see;
    # the unique key can.
    async with refusing(session, {"uq_persons_resident_id_hash": _duplicate_resident_id()}):
        repository.add(session, person)
    await audit.record(
        session,
        actor,
        action="person.create",
        object_type="Person",
        object_id=person.id,
        # A funder's app onboards into its own tenant's audit log.
        tenant_id=None if actor.is_platform else actor.tenant_id,
    )
    return person


# -- who acts for whom ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """A person or an organization (exactly one)."""

    person_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    """Who acts for a party: an organization (a partner or a warehouse) or a funder."""

    organization_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None


Relationship = PartyAgent | TenantCustomer


def _party_of(actor: Actor, named: Party | None) -> tuple[Party, GrantedBy]:
    """The party an authorisation is for: the operator names it; anyone else is it."""
    if actor.is_platform:
        if named is None or (named.person_id is None) == (named.organization_id is None):
            raise DomainError(ErrorCode.REQUIRED, "the person or company to act for", "partyId")
        return named, GrantedBy.PLATFORM
    own = Party(person_id=actor.person_id, organization_id=actor.organization_id)
    if actor.user_id is None or (own.person_id is None and own.organization_id is None):
        raise DomainError(
            ErrorCode.FORBIDDEN, "a person or a company's user authorises its own agents"
        )
    if (
        named is not None
        and named != Party(own.person_id, None)
        and named != Party(None, own.organization_id)
    ):
        raise DomainError(ErrorCode.FORBIDDEN, "you authorise agents for yourself", "partyId")
    # A person's user who also acts for a company authorises for the person unless told.
    return (named or (Party(own.person_id) if own.person_id else own)), GrantedBy.AUTHORISATION


async def _agent_kind(
    session: AsyncSession, party: Party, agent: Agent, *, new: bool = True
) -> AgentKind | None:
    """The kind of relationship ``agent`` would have with ``party`` (None for a funder). A
    new relationship names a funder the party sees (a listed one, or one of its deals'); an
    existing one is found by the party whatever the funder's state."""
    if (agent.organization_id is None) == (agent.tenant_id is None):
        raise DomainError(ErrorCode.REQUIRED, "a partner, a warehouse or a funder", "agentId")
    if agent.tenant_id is not None:
        if new and not await repository.tenant_visible(session, agent.tenant_id):
            raise DomainError(ErrorCode.NOT_FOUND, "no such funder", "agentId")
        return None
    assert agent.organization_id is not None
    org = (await repository.organizations_by_ids(session, [agent.organization_id])).get(
        agent.organization_id
    )
    if org is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such organization", "agentId")
    kind = policy.agent_kind(org.kind)
    if kind is AgentKind.STORES_FOR and party.organization_id is None:
        raise DomainError(
            ErrorCode.WRONG_ORGANIZATION_KIND, "a warehouse stores goods for companies", "agentId"
        )
    return kind


async def _live(
    session: AsyncSession, party: Party, agent: Agent, kind: AgentKind | None
) -> Relationship | None:
    if agent.tenant_id is not None:
        return await repository.live_customer(
            session,
            tenant_id=agent.tenant_id,
            person_id=party.person_id,
            organization_id=party.organization_id,
        )
    assert agent.organization_id is not None and kind is not None
    return await repository.live_agent(
        session,
        agent_organization_id=agent.organization_id,
        kind=kind,
        person_id=party.person_id,
        organization_id=party.organization_id,
    )


async def authorize_agent(
    session: AsyncSession, actor: Actor, *, agent: Agent, party: Party | None = None
) -> Relationship:
    """A party lets an agent act for it: a partner (its app applies for the party and submits
    its orders), a warehouse (it stores the party's goods and issues receipts to it) or a
    funder's own app. The party itself authorises; the operator may record it for any party.
    Authorising again while the relationship holds returns it unchanged."""
    require(actor, Scope.AGENTS_WRITE)
    subject, granted_by = _party_of(actor, party)
    kind = await _agent_kind(session, subject, agent)
    existing = await _live(session, subject, agent, kind)
    if existing is not None:
        return existing
    common = {
        "id": new_id(),
        "person_id": subject.person_id,
        "organization_id": subject.organization_id,
        "granted_by": granted_by,
        "created_by_user_id": actor.user_id,
        "created_by_client_id": actor.client_id,
        "created_at": await transaction_now(session),
    }
    row: Relationship = (
        TenantCustomer(tenant_id=agent.tenant_id, **common)
        if agent.tenant_id is not None
        else PartyAgent(kind=kind, agent_organization_id=agent.organization_id, **common)
    )
    duplicate = DomainError(ErrorCode.DUPLICATE, "the agent was authorised just now", "agentId")
    no_party = DomainError(ErrorCode.NOT_FOUND, "no such person or company", "partyId")
    async with refusing(
        session,
        {
            "fk_party_agents_person_id_persons": no_party,
            "fk_party_agents_organization_id_organizations": no_party,
            "fk_tenant_customers_person_id_persons": no_party,
            "fk_tenant_customers_organization_id_organizations": no_party,
            "uq_party_agents_live_person": duplicate,
            "uq_party_agents_live_organization": duplicate,
            "uq_tenant_customers_live_person": duplicate,
            "uq_tenant_customers_live_organization": duplicate,
            "ck_party_agents_party_kind": DomainError(
                ErrorCode.WRONG_ORGANIZATION_KIND,
                "this agent does not act for parties of your kind",
                "agentId",
            ),
            "ck_tenant_customers_party_kind": DomainError(
                ErrorCode.WRONG_ORGANIZATION_KIND, "a funder acts for borrowers", "agentId"
            ),
        },
    ):
        repository.add(session, row)
    await _record_relationship(session, actor, row, "agent.authorize")
    return row


async def revoke_agent(
    session: AsyncSession, actor: Actor, *, agent: Agent, party: Party | None = None
) -> Relationship:
    """End a relationship: the party, the agent itself or the operator. Deals, orders and
    receipts made under it stay; no new ones may name the party through that agent."""
    require(actor, Scope.AGENTS_WRITE)
    if party is None or actor.is_platform:
        subject, _ = _party_of(actor, party)
    else:
        subject = party  # an agent names the party it stops acting for
    kind = await _agent_kind(session, subject, agent, new=False)
    live = await _live(session, subject, agent, kind)
    if live is None or not await repository.revoke(session, live, await transaction_now(session)):
        # The party named, or else the agent, is what the caller has no relationship with.
        field = "partyId" if party is not None else "agentId"
        raise DomainError(ErrorCode.NOT_FOUND, "no such authorisation", field)
    live.revoked_at = await transaction_now(session)
    await _record_relationship(session, actor, live, "agent.revoke")
    return live


_EVENTS = {"agent.authorize": "agent.authorized", "agent.revoke": "agent.revoked"}


async def _record_relationship(
    session: AsyncSession, actor: Actor, row: Relationship, action: str
) -> None:
    # A funder's relationship is in its tenant's log when the funder (or the operator) records
    # it; a party's own authorisation is a platform-level row about that party.
    tenant_id = (
        row.tenant_id
        if isinstance(row, TenantCustomer)
        and (actor.is_platform or actor.tenant_id == row.tenant_id)
        else None
    )
    details = {
        "kind": "CUSTOMER_OF" if isinstance(row, TenantCustomer) else row.kind.value,
        "agent_tenant_id": str(row.tenant_id) if isinstance(row, TenantCustomer) else None,
        "agent_organization_id": None
        if isinstance(row, TenantCustomer)
        else str(row.agent_organization_id),
        "person_id": row.person_id and str(row.person_id),
        "organization_id": row.organization_id and str(row.organization_id),
    }
    await audit.record(
        session,
        actor,
        action=action,
        object_type="TenantCustomer" if isinstance(row, TenantCustomer) else "PartyAgent",
        object_id=row.id,
        tenant_id=tenant_id,
        details=details,
    )
    await events.append(
        session,
        tenant_id=tenant_id,
        type=_EVENTS[action],
        aggregate_type="TenantCustomer" if isinstance(row, TenantCustomer) else "PartyAgent",
        aggregate_id=row.id,
        payload=details,
    )
