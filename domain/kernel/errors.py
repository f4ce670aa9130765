"""Domain errors. A use case raises :class:`DomainError` with a code from :class:`ErrorCode`;
the API maps it to a typed ``userErrors`` entry and the transaction rolls back."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every reason a use case refuses its input. Owned by the domain; the GraphQL enum mirrors
    it one to one."""

    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    FORBIDDEN = "FORBIDDEN"
    INVALID_SLUG = "INVALID_SLUG"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    INVALID_SOCIAL_CREDIT_CODE = "INVALID_SOCIAL_CREDIT_CODE"
    INVALID_RESIDENT_ID = "INVALID_RESIDENT_ID"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_ROLE = "INVALID_ROLE"
    INVALID_SCOPE = "INVALID_SCOPE"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 - an error code, not a secret
    ALREADY_DISABLED = "ALREADY_DISABLED"


class DomainError(Exception):
    """A refusal the caller can act on: a code, a message and the input field it concerns."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class ValidationErrors(DomainError):
    """Several refusals at once, so the caller sees every problem of one input."""

    def __init__(self, errors: list[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = errors


def collect(errors: list[DomainError]) -> None:
    """Raise all gathered refusals together, if there are any."""
    if errors:
        raise ValidationErrors(errors)
