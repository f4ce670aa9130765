"""Use cases on parties: onboarding organizations and persons (platform operator only: the
write scope and ``platform:admin``, without which row-level security would refuse the insert)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.kernel import errors
from domain.kernel.actor import Actor, require
from domain.kernel.crypto import PersonalDataCipher, mask
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Scope
from domain.parties import policy, repository
from domain.parties.models import Organization, OrganizationKind, Person
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
    return DomainError(ErrorCode.DUPLICATE, "a person with this resident ID exists", "residentId")


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
    valid and not registered before."""
    require(actor, Scope.PERSONS_WRITE)
    require(actor, Scope.PLATFORM_ADMIN)
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
        full_name=name,
        resident_id_encrypted=cipher.encrypt(rid),
        resident_id_hash=rid_hash,
        resident_id_masked=mask(rid, 6, 4),
        phone_encrypted=cipher.encrypt(mobile) if mobile else None,
        phone_hash=cipher.lookup_hash(mobile) if mobile else None,
        phone_masked=mask(mobile, 3, 4) if mobile else None,
    )
    # The check above cannot see a concurrent request's person; the unique key can.
    async with refusing(session, {"uq_persons_resident_id_hash": _duplicate_resident_id()}):
        repository.add(session, person)
    await audit.record(
        session,
        actor,
        action="person.create",
        object_type="Person",
        object_id=person.id,
        tenant_id=None,
    )
    return person
