"""Pure rules for tenants, users and clients."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import (
    PARTNER_APP_SCOPES,
    PLATFORM_ROLES,
    SERVICE_ACCOUNT_SCOPES,
    TENANT_ROLES,
    Role,
    Scope,
)
from tenants.models import ClientKind

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Currencies the platform books in, with their ISO 4217 minor-unit exponent.
SUPPORTED_CURRENCIES = frozenset({"CNY", "HKD", "USD", "EUR"})
MIN_PASSWORD_LENGTH = 12


def validate_slug(slug: str) -> str:
    """A DNS-label-like slug: lower-case letters, digits and inner hyphens."""
    if not _SLUG.match(slug):
        raise DomainError(
            ErrorCode.INVALID_SLUG, "lower-case letters, digits and hyphens, 1-63", "slug"
        )
    return slug


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA time zone names of the installed tz database. Listing them walks the whole
    database (about 20 ms), so it is done once per process; the database does not change
    while the process runs."""
    return frozenset(available_timezones())


def validate_time_zone(name: str) -> str:
    """An IANA time zone name such as Asia/Shanghai."""
    if name not in known_time_zones():
        raise DomainError(ErrorCode.INVALID_TIME_ZONE, "not an IANA time zone", "timeZone")
    return name


def validate_currency(code: str) -> str:
    """An ISO 4217 code the platform books in."""
    if code not in SUPPORTED_CURRENCIES:
        raise DomainError(
            ErrorCode.INVALID_CURRENCY,
            f"one of {', '.join(sorted(SUPPORTED_CURRENCIES))}",
            "currency",
        )
    return code


def normalize_email(email: str) -> str:
    """Trimmed; compared case-insensitively by the database."""
    value = email.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise DomainError(ErrorCode.INVALID_EMAIL, "not a valid e-mail address", "email")
    return value


def validate_password(password: str) -> str:
    """Long enough to resist guessing; length beats composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            ErrorCode.WEAK_PASSWORD, f"at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    return password


def split_roles(roles: list[str], *, in_tenant: bool) -> frozenset[Role]:
    """Parse role names; tenant roles need a tenant and platform roles must not have one."""
    parsed: set[Role] = set()
    for name in roles:
        try:
            role = Role(name)
        except ValueError as exc:
            raise DomainError(ErrorCode.INVALID_ROLE, f"unknown role {name}", "roles") from exc
        allowed = TENANT_ROLES if in_tenant else PLATFORM_ROLES
        if role not in allowed:
            where = "in a tenant" if in_tenant else "on the platform"
            raise DomainError(ErrorCode.INVALID_ROLE, f"{name} cannot be given {where}", "roles")
        parsed.add(role)
    if not parsed:
        raise DomainError(ErrorCode.REQUIRED, "at least one role", "roles")
    return frozenset(parsed)


def validate_client_scopes(scopes: list[str], kind: ClientKind) -> list[str]:
    """Scopes a client may be registered with: partner apps get marketplace-facing scopes;
    service accounts anything but the operator's cross-tenant scope; first-party apps any
    scope, since the signed-in user's roles narrow every token they get."""
    allowed = {
        ClientKind.PARTNER_APP: PARTNER_APP_SCOPES,
        ClientKind.SERVICE_ACCOUNT: SERVICE_ACCOUNT_SCOPES,
        ClientKind.FIRST_PARTY: frozenset(Scope),
    }[kind]
    result: list[str] = []
    for name in scopes:
        try:
            scope = Scope(name)
        except ValueError as exc:
            raise DomainError(ErrorCode.INVALID_SCOPE, f"unknown scope {name}", "scopes") from exc
        if scope not in allowed:
            raise DomainError(
                ErrorCode.INVALID_SCOPE, f"{name} is not allowed for this client", "scopes"
            )
        result.append(scope.value)
    if not result:
        raise DomainError(ErrorCode.REQUIRED, "at least one scope", "scopes")
    return sorted(set(result))
