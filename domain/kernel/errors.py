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
    # Products and the marketplace.
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_RATE = "INVALID_RATE"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    AMOUNT_RANGE_INVALID = "AMOUNT_RANGE_INVALID"
    ANNUAL_RATE_OUT_OF_RANGE = "ANNUAL_RATE_OUT_OF_RANGE"
    ALLOWED_TERMS_INVALID = "ALLOWED_TERMS_INVALID"
    REPAYMENT_METHOD_NOT_ALLOWED = "REPAYMENT_METHOD_NOT_ALLOWED"
    ORIGINATION_FEE_OUT_OF_RANGE = "ORIGINATION_FEE_OUT_OF_RANGE"
    LATE_PENALTY_OUT_OF_RANGE = "LATE_PENALTY_OUT_OF_RANGE"
    PREPAYMENT_PENALTY_OUT_OF_RANGE = "PREPAYMENT_PENALTY_OUT_OF_RANGE"
    ADVANCE_RATE_OUT_OF_RANGE = "ADVANCE_RATE_OUT_OF_RANGE"
    LTV_OUT_OF_RANGE = "LTV_OUT_OF_RANGE"
    HAIRCUT_OUT_OF_RANGE = "HAIRCUT_OUT_OF_RANGE"
    ELIGIBILITY_OUT_OF_RANGE = "ELIGIBILITY_OUT_OF_RANGE"
    PRODUCT_LINE_TERMS_REQUIRED = "PRODUCT_LINE_TERMS_REQUIRED"
    PRODUCT_LINE_TERMS_NOT_ALLOWED = "PRODUCT_LINE_TERMS_NOT_ALLOWED"
    COUNTERPARTIES_REQUIRED = "COUNTERPARTIES_REQUIRED"
    WRONG_ORGANIZATION_KIND = "WRONG_ORGANIZATION_KIND"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    AMOUNT_NOT_OFFERED = "AMOUNT_NOT_OFFERED"
    TERM_NOT_OFFERED = "TERM_NOT_OFFERED"
    # Supply-chain assets and documents.
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    PURCHASE_ORDER_NOT_CONFIRMED = "PURCHASE_ORDER_NOT_CONFIRMED"
    RECEIPT_ALREADY_PLEDGED = "RECEIPT_ALREADY_PLEDGED"
    RECEIPT_CANCELLED = "RECEIPT_CANCELLED"
    DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
    DOCUMENT_TYPE_NOT_ALLOWED = "DOCUMENT_TYPE_NOT_ALLOWED"
    DOCUMENT_ALREADY_ATTACHED = "DOCUMENT_ALREADY_ATTACHED"


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
