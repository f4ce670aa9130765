"""Pure rules for supply-chain assets and documents: who may act on an order or a receipt,
the order's one-time decision, the inputs of a receipt and its declared value, and what a
document may be (size, type by its magic bytes, a safe file name). No await, no session."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final, TypeVar

from domain.collateral.models import (
    Document,
    PurchaseOrder,
    PurchaseOrderStatus,
    WarehouseReceipt,
    WarehouseReceiptStatus,
)
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, collect
from domain.kernel.money import Money, MoneyError
from domain.kernel.scopes import Role

T = TypeVar("T")

# -- documents ------------------------------------------------------------------------------------

#: Largest document accepted, in bytes (10 MiB).
MAX_DOCUMENT_BYTES: Final[int] = 10 * 1024 * 1024

#: Content types accepted, each recognised by its leading magic bytes, never by the declared
#: type or the file name alone.
_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
ALLOWED_CONTENT_TYPES: Final[frozenset[str]] = frozenset(kind for _, kind in _MAGIC)

#: Bytes of the head of a file that :func:`sniff_content_type` needs.
SNIFF_BYTES: Final[int] = max(len(magic) for magic, _ in _MAGIC)

# Declared types browsers and clients send for the allowed kinds.
_DECLARED_ALIASES: Final[dict[str, str]] = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
# Types that say nothing about the content: the magic bytes decide.
_UNINFORMATIVE_TYPES: Final[frozenset[str]] = frozenset({"", "application/octet-stream"})

MAX_FILE_NAME: Final[int] = 255
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def sniff_content_type(head: bytes) -> str | None:
    """The allowed content type whose magic bytes ``head`` starts with, or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def check_document_type(head: bytes, declared: str | None, field: str = "file") -> str:
    """The content type of a file, from its first bytes. Refused with DOCUMENT_TYPE_NOT_ALLOWED
    when the bytes are not one of the allowed types, or when a declared type contradicts them
    (an EXE named ``.pdf`` and sent as ``application/pdf`` is refused either way)."""
    sniffed = sniff_content_type(head)
    allowed = ", ".join(sorted(ALLOWED_CONTENT_TYPES))
    if sniffed is None:
        raise DomainError(
            ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED,
            f"the file's content is not one of {allowed}",
            field,
        )
    if declared is not None:
        normalized = declared.split(";", 1)[0].strip().lower()
        normalized = _DECLARED_ALIASES.get(normalized, normalized)
        if normalized not in _UNINFORMATIVE_TYPES and normalized != sniffed:
            raise DomainError(
                ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED,
                f"declared as {normalized} but the content is {sniffed}",
                field,
            )
    return sniffed


def check_document_size(size: int | None, field: str = "file") -> None:
    """Refuse an empty file or one above :data:`MAX_DOCUMENT_BYTES`. A None size (not known
    yet) passes; the storage adapter enforces the limit while the bytes arrive."""
    if size is None:
        return
    if size > MAX_DOCUMENT_BYTES:
        raise DomainError(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"at most {MAX_DOCUMENT_BYTES} bytes ({MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB)",
            field,
        )
    if size <= 0:
        raise DomainError(ErrorCode.REQUIRED, "the file is empty", field)


def too_large(field: str = "file") -> DomainError:
    """The refusal for a file found to be too large while it was read."""
    return DomainError(
        ErrorCode.DOCUMENT_TOO_LARGE,
        f"at most {MAX_DOCUMENT_BYTES} bytes ({MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB)",
        field,
    )


def clean_file_name(name: str | None, default: str = "document") -> str:
    """A display name for an uploaded file: the last path component only, NFC-normalised,
    without control or reserved characters, at most 255 characters (keeping the extension).
    Never used as a storage path: objects are stored by content hash."""
    value = unicodedata.normalize("NFC", name or "")
    value = re.split(r"[/\\]", value)[-1]
    value = _UNSAFE_NAME_CHARS.sub("_", value).strip().strip(".")
    if not value:
        return default
    if len(value) > MAX_FILE_NAME:
        stem, dot, ext = value.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            value = stem[: MAX_FILE_NAME - len(ext) - 1] + "." + ext
        else:
            value = value[:MAX_FILE_NAME]
    return value


# -- shared input rules ---------------------------------------------------------------------------

_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def clean_number(value: str, field: str = "number") -> str:
    """A document number (order or receipt): 1-64 letters, digits, ``.``, ``_``, ``/``, ``-``,
    starting with a letter or digit."""
    number = value.strip()
    if not number:
        raise DomainError(ErrorCode.REQUIRED, "must not be empty", field)
    if len(number) > 64:
        raise DomainError(ErrorCode.TOO_LONG, "at most 64 characters", field)
    if not _NUMBER.match(number):
        raise DomainError(
            ErrorCode.INVALID,
            "letters, digits and . _ / - only, starting with one of the first two",
            field,
        )
    return number


def clean_text(value: str, field: str, max_length: int) -> str:
    """Trimmed, present, bounded free text."""
    text = value.strip()
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "must not be empty", field)
    if len(text) > max_length:
        raise DomainError(ErrorCode.TOO_LONG, f"at most {max_length} characters", field)
    return text


def positive_amount(amount: Money, field: str) -> Money:
    """A strictly positive amount."""
    if not amount.is_positive():
        raise DomainError(ErrorCode.INVALID_AMOUNT, "must be more than zero", field)
    return amount


def _check(problems: list[DomainError], rule: Callable[[], T], fallback: T) -> T:
    """Run one rule, gathering its refusal instead of raising, so that every problem of one
    input is reported together."""
    try:
        return rule()
    except DomainError as exc:
        problems.append(exc)
        return fallback


# -- purchase orders ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderInput:
    """A purchase order's terms, validated."""

    number: str
    amount: Money
    issue_date: date
    due_date: date


def validate_order(number: str, amount: Money, issue_date: date, due_date: date) -> OrderInput:
    """The terms of a new order: a number, a positive amount, due on or after its issue."""
    problems: list[DomainError] = []
    clean = _check(problems, lambda: clean_number(number), "")
    _check(problems, lambda: positive_amount(amount, "amount"), amount)
    if due_date < issue_date:
        problems.append(
            DomainError(ErrorCode.INVALID_DATE_RANGE, "due before it was issued", "dueDate")
        )
    collect(problems)
    return OrderInput(number=clean, amount=amount, issue_date=issue_date, due_date=due_date)


def order_submitter(
    actor: Actor, seller_id: uuid.UUID, actor_org_is_partner: bool
) -> uuid.UUID | None:
    """Who submits a new order for ``seller_id``: the seller's own user (or client), a
    partner on the seller's behalf, or the platform (None). Anyone else is FORBIDDEN."""
    if actor.organization_id is not None:
        if actor.organization_id == seller_id:
            return seller_id
        if actor_org_is_partner and actor.user_id is None:
            return actor.organization_id
    if actor.is_platform:
        return None
    raise DomainError(
        ErrorCode.FORBIDDEN,
        "only the seller's users, a partner app on its behalf or the platform submit an order",
        "sellerId",
    )


def check_decider(actor: Actor, order: PurchaseOrder) -> None:
    """Only a CORE_ENTERPRISE_USER of the buyer confirms or disputes an order (the platform
    does not: the confirmation is the debtor's own acknowledgement of the debt)."""
    if not (
        actor.user_id is not None
        and actor.organization_id == order.buyer_organization_id
        and Role.CORE_ENTERPRISE_USER in actor.roles
    ):
        raise DomainError(
            ErrorCode.FORBIDDEN, "only the buyer's core-enterprise users decide an order", "id"
        )


def decide(order: PurchaseOrder, outcome: PurchaseOrderStatus) -> PurchaseOrderStatus:
    """PENDING_CONFIRMATION -> CONFIRMED | DISPUTED, once."""
    if outcome is PurchaseOrderStatus.PENDING_CONFIRMATION:
        raise ValueError("a decision is CONFIRMED or DISPUTED")
    if order.status is not PurchaseOrderStatus.PENDING_CONFIRMATION:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"the order is already {order.status.value}",
            "id",
        )
    return outcome


def clean_note(note: str | None, *, required: bool, field: str = "note") -> str | None:
    """A decision note: required for a dispute, at most 1000 characters."""
    if note is None or not note.strip():
        if required:
            raise DomainError(ErrorCode.REQUIRED, "say why the order is disputed", field)
        return None
    return clean_text(note, field, 1000)


def require_confirmed(order: PurchaseOrder) -> None:
    """For financing: the buyer has confirmed the order."""
    if order.status is not PurchaseOrderStatus.CONFIRMED:
        raise DomainError(
            ErrorCode.PURCHASE_ORDER_NOT_CONFIRMED,
            f"the order is {order.status.value}, not CONFIRMED",
            "purchaseOrderId",
        )


# -- warehouse receipts ---------------------------------------------------------------------------

#: NUMERIC(20, 6): at most 14 digits before the point and 6 after.
_QUANTITY_INTEGER_DIGITS: Final[int] = 14
_QUANTITY_DECIMALS: Final[int] = 6
_QUANTUM: Final[Decimal] = Decimal(1).scaleb(-_QUANTITY_DECIMALS)
_QUANTITY_RE: Final = re.compile(r"^[0-9]+(\.[0-9]+)?$", re.ASCII)


def parse_quantity(value: str | Decimal, field: str = "quantity") -> Decimal:
    """A positive quantity with at most 14 integer digits and 6 decimals, from a decimal
    string (never a float)."""
    if isinstance(value, str):
        if not _QUANTITY_RE.match(value.strip()):
            raise DomainError(ErrorCode.INVALID_QUANTITY, "a decimal string such as 12.5", field)
        try:
            value = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
            raise DomainError(ErrorCode.INVALID_QUANTITY, "not a number", field) from exc
    if not value.is_finite() or value <= 0:
        raise DomainError(ErrorCode.INVALID_QUANTITY, "must be more than zero", field)
    if value >= Decimal(10) ** _QUANTITY_INTEGER_DIGITS:
        raise DomainError(ErrorCode.INVALID_QUANTITY, "too large", field)
    quantized = value.quantize(_QUANTUM)
    if quantized != value:
        raise DomainError(
            ErrorCode.INVALID_QUANTITY, f"at most {_QUANTITY_DECIMALS} decimal places", field
        )
    return quantized


_COMMODITY_CODE_RE: Final = re.compile(r"^[A-Z0-9._-]{1,32}$", re.ASCII)
MAX_COMMODITY_CODE: Final[int] = 32


def clean_commodity_code(value: str, field: str = "commodityCode") -> str:
    """An exchange or spot-market commodity code (``CU``, ``RB``): trimmed, upper-cased,
    1-32 of ``A-Z 0-9 . _ -``. Upper case because feeds and funders write the same code
    in either case, and prices are matched to receipts by it."""
    code = value.strip().upper()
    if not code:
        raise DomainError(ErrorCode.REQUIRED, "must not be empty", field)
    if len(code) > MAX_COMMODITY_CODE:
        raise DomainError(ErrorCode.TOO_LONG, f"at most {MAX_COMMODITY_CODE} characters", field)
    if not _COMMODITY_CODE_RE.match(code):
        raise DomainError(ErrorCode.INVALID, "letters, digits and . _ - only", field)
    return code


def optional_commodity_code(value: str | None, field: str = "commodityCode") -> str | None:
    """A receipt's commodity code: None when omitted or blank, else :func:`clean_commodity_code`."""
    if value is None or not value.strip():
        return None
    return clean_commodity_code(value, field)


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    """A warehouse receipt's contents, validated."""

    number: str
    goods_description: str
    quantity: Decimal
    unit: str
    location: str
    unit_price: Money
    commodity_code: str | None = None


def validate_receipt(
    *,
    number: str,
    goods_description: str,
    quantity: str | Decimal,
    unit: str,
    location: str,
    unit_price: Money,
    commodity_code: str | None = None,
) -> ReceiptInput:
    """The contents of a new receipt; every problem reported at once. The declared value
    (quantity x unit price) must fit an amount; the commodity code is optional."""
    problems: list[DomainError] = []
    clean = _check(problems, lambda: clean_number(number), "")
    goods = _check(problems, lambda: clean_text(goods_description, "goodsDescription", 500), "")
    qty = _check(problems, lambda: parse_quantity(quantity), Decimal(0))
    clean_unit = _check(problems, lambda: clean_text(unit, "unit", 16), "")
    place = _check(problems, lambda: clean_text(location, "location", 200), "")
    price = _check(problems, lambda: positive_amount(unit_price, "unitPrice"), unit_price)
    code = _check(problems, lambda: optional_commodity_code(commodity_code), None)
    if qty > 0 and price.is_positive():
        _check(problems, lambda: declared_value(qty, price), price)
    collect(problems)
    return ReceiptInput(
        number=clean,
        goods_description=goods,
        quantity=qty,
        unit=clean_unit,
        location=place,
        unit_price=price,
        commodity_code=code,
    )


def declared_value(quantity: Decimal, unit_price: Money) -> Money:
    """Quantity x declared unit price, rounded half-up to the minor unit. The valuation input
    a funder applies its haircut and LTV to."""
    try:
        return Money.from_decimal(
            quantity * unit_price.to_decimal(), unit_price.currency, rounding=ROUND_HALF_UP
        )
    except MoneyError as exc:
        raise DomainError(
            ErrorCode.INVALID_AMOUNT, "quantity x unit price is out of range", "unitPrice"
        ) from exc


def check_warehouse_user(actor: Actor, warehouse_id: uuid.UUID | None, field: str = "id") -> None:
    """Only a WAREHOUSE_USER of the warehouse issues or cancels its receipts (the platform
    does not: a receipt is the warehouse's own statement of the goods it holds)."""
    if not (
        warehouse_id is not None
        and actor.user_id is not None
        and actor.organization_id == warehouse_id
        and Role.WAREHOUSE_USER in actor.roles
    ):
        raise DomainError(
            ErrorCode.FORBIDDEN, "only the warehouse's users issue and cancel its receipts", field
        )


def check_cancellable(receipt: WarehouseReceipt) -> None:
    """ISSUED -> CANCELLED, once. (Whether a live deal holds the receipt is the database's
    check: the warehouse cannot see funders' claims.)"""
    if receipt.status is not WarehouseReceiptStatus.ISSUED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"the receipt is already {receipt.status.value}", "id"
        )


def document_owned_by(actor: Actor, document: Document) -> bool:
    """Whether the actor owns the document (or is the operator): only the owner attaches it.
    (Who may read it is row-level security's rule: its owner and whoever sees what it is
    attached to.)"""
    return (
        actor.is_platform
        or (
            actor.organization_id is not None
            and document.owner_organization_id == actor.organization_id
        )
        or (actor.person_id is not None and document.owner_person_id == actor.person_id)
    )


def document_owner(
    actor: Actor, owner_organization_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Who owns a new upload, as ``(organization, person)``: the actor's organization, else
    the person the actor is; the platform names the owning organization."""
    if owner_organization_id is not None and owner_organization_id != actor.organization_id:
        if not actor.is_platform:
            raise DomainError(
                ErrorCode.FORBIDDEN, "documents belong to your own organization", "ownerId"
            )
        return owner_organization_id, None
    if actor.organization_id is not None:
        return actor.organization_id, None
    if actor.person_id is not None:
        return None, actor.person_id
    raise DomainError(ErrorCode.REQUIRED, "the organization the document belongs to", "ownerId")


def check_attachable(document: Document) -> None:
    """A document is attached to one order or receipt, once."""
    if document.purchase_order_id is not None or document.warehouse_receipt_id is not None:
        raise DomainError(
            ErrorCode.DOCUMENT_ALREADY_ATTACHED, "the document is already attached", "documentId"
        )


def check_one_subject(
    purchase_order_id: uuid.UUID | None, warehouse_receipt_id: uuid.UUID | None
) -> None:
    """At most one of an order and a receipt."""
    if purchase_order_id is not None and warehouse_receipt_id is not None:
        raise DomainError(
            ErrorCode.INVALID,
            "attach to an order or a receipt, not both",
            "warehouseReceiptId",
        )


__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "MAX_DOCUMENT_BYTES",
    "SNIFF_BYTES",
    "OrderInput",
    "ReceiptInput",
    "check_attachable",
    "check_cancellable",
    "check_decider",
    "check_document_size",
    "check_document_type",
    "check_one_subject",
    "check_warehouse_user",
    "clean_commodity_code",
    "clean_file_name",
    "clean_note",
    "clean_number",
    "clean_text",
    "decide",
    "declared_value",
    "document_owned_by",
    "document_owner",
    "optional_commodity_code",
    "order_submitter",
    "parse_quantity",
    "require_confirmed",
    "sniff_content_type",
    "too_large",
    "validate_order",
    "validate_receipt",
]
