"""Pure rules for parties: identifiers and contact data, validated and normalised."""

from __future__ import annotations

import re

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.parties.models import PUBLIC_ORGANIZATION_KINDS, Organization, Person

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_social_credit_code(value: str, field: str = "socialCreditCode") -> str:
    """A unified social credit code (GB 32100-2015): 18 characters with a check character."""
    try:
        return str(uscc.validate(value.strip().upper()))
    except StdnumError as exc:
        raise DomainError(
            ErrorCode.INVALID_SOCIAL_CREDIT_CODE,
            "not a valid unified social credit code (18 characters with a valid check character)",
            field,
        ) from exc


def normalize_resident_id(value: str, field: str = "residentId") -> str:
    """A PRC resident identity card number (GB 11643-1999): 18 characters, a real birth date
    and a valid check character."""
    try:
        return str(ric.validate(value.strip().upper()))
    except StdnumError as exc:
        raise DomainError(
            ErrorCode.INVALID_RESIDENT_ID,
            "not a valid resident identity number (18 characters, birth date, check character)",
            field,
        ) from exc


def normalize_mobile(value: str, field: str = "phone") -> str:
    """A mainland China mobile number, without country code or separators."""
    digits = re.sub(r"[\s-]", "", value)
    digits = digits.removeprefix("+86").removeprefix("0086")
    if not _MOBILE.match(digits):
        raise DomainError(ErrorCode.INVALID_PHONE, "not a valid mainland mobile number", field)
    return digits


def require_name(value: str, field: str = "name", max_length: int = 200) -> str:
    """A display name: trimmed, present, bounded."""
    name = value.strip()
    if not name:
        raise DomainError(ErrorCode.REQUIRED, "must not be empty", field)
    if len(name) > max_length:
        raise DomainError(ErrorCode.TOO_LONG, f"at most {max_length} characters", field)
    return name


def organization_visible(actor: Actor, org: Organization) -> bool:
    """The rule row-level security enforces on organizations, for the second check on objects
    loaded by ID: the operator sees all; anyone else the public kinds and their own."""
    return (
        actor.is_platform
        or org.kind in PUBLIC_ORGANIZATION_KINDS
        or (actor.organization_id is not None and org.id == actor.organization_id)
    )


def person_visible(actor: Actor, person: Person) -> bool:
    """The rule row-level security enforces on persons: the operator sees all; anyone else
    only the person they are. (Funders will see borrowers through their own deals.)"""
    return actor.is_platform or (actor.person_id is not None and person.id == actor.person_id)
