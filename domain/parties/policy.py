"""Pure rules for parties: identifiers and contact data, validated and normalised."""

from __future__ import annotations

import re

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from domain.kernel.errors import DomainError, ErrorCode
from domain.parties.models import (
    AgentKind,
    OrganizationKind,
)

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


def agent_kind(kind: OrganizationKind) -> AgentKind:
    """What an organization of ``kind`` does for a party it is authorised by: a partner acts
    for it, a warehouse stores its goods; nobody else is an agent (WRONG_ORGANIZATION_KIND)."""
    if kind is OrganizationKind.PARTNER:
        return AgentKind.ACTS_FOR
    if kind is OrganizationKind.WAREHOUSE:
        return AgentKind.STORES_FOR
    raise DomainError(
        ErrorCode.WRONG_ORGANIZATION_KIND,
        "only a partner or a warehouse acts for a party",
        "agentId",
    )
