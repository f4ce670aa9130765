"""Pure rules of supply-chain assets and documents, with figures checkable by hand."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.collateral import policy
from domain.collateral.models import (
    Document,
    DocumentKind,
    PurchaseOrder,
    PurchaseOrderStatus,
    WarehouseReceipt,
    WarehouseReceiptStatus,
)
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.kernel.scopes import Role, Scope

SELLER, BUYER, PARTNER, WAREHOUSE, OWNER, OTHER = (uuid.uuid4() for _ in range(6))

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"


def actor(
    org: uuid.UUID | None = None,
    *roles: Role,
    user: bool = True,
    platform: bool = False,
    person: uuid.UUID | None = None,
) -> Actor:
    scopes = {Scope.COLLATERAL_WRITE.value}
    if platform:
        scopes.add(Scope.PLATFORM_ADMIN.value)
    return Actor(
        user_id=uuid.uuid4() if user else None,
        client_id="test",
        tenant_id=None,
        scopes=frozenset(scopes),
        roles=frozenset(roles),
        organization_id=org,
        person_id=person,
    )


def order(status: PurchaseOrderStatus = PurchaseOrderStatus.PENDING_CONFIRMATION) -> PurchaseOrder:
    return PurchaseOrder(
        id=uuid.uuid4(),
        seller_organization_id=SELLER,
        buyer_organization_id=BUYER,
        submitted_by_organization_id=PARTNER,
        number="PO-1",
        currency="CNY",
        amount_minor=123_456,
        issue_date=date(2026, 12, 1),
        due_date=date(2027, 3, 1),
        status=status,
    )


def receipt(status: WarehouseReceiptStatus = WarehouseReceiptStatus.ISSUED) -> WarehouseReceipt:
    return WarehouseReceipt(
        id=uuid.uuid4(),
        warehouse_organization_id=WAREHOUSE,
        owner_organization_id=OWNER,
        number="WR-1",
        goods_description="Copper cathode",
        quantity=Decimal("25.5"),
        unit="t",
        location="Shed 4",
        currency="CNY",
        unit_price_minor=6_800_000,
        status=status,
    )


# -- documents ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"), (EXE, None), (b"", None)],
)
def test_sniffing_by_magic_bytes(head: bytes, kind: str | None) -> None:
    assert policy.sniff_content_type(head) == kind


def test_declared_type_alone_admits_nothing() -> None:
    # An executable renamed .pdf and declared as application/pdf.
    with pytest.raises(DomainError) as caught:
        policy.check_document_type(EXE, "application/pdf")
    assert caught.value.code is ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED
    assert caught.value.field == "file"


def test_declared_type_must_agree_with_the_content() -> None:
    with pytest.raises(DomainError) as caught:
        policy.check_document_type(PDF, "image/png")
    assert caught.value.code is ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED
    # Uninformative or aliased declarations defer to the content.
    assert policy.check_document_type(PDF, None) == "application/pdf"
    assert policy.check_document_type(PDF, "application/octet-stream") == "application/pdf"
    assert policy.check_document_type(PDF, "Application/PDF; charset=binary") == "application/pdf"
    assert policy.check_document_type(JPEG, "image/jpg") == "image/jpeg"


def test_size_limit_is_ten_mebibytes() -> None:
    assert policy.MAX_DOCUMENT_BYTES == 10 * 1024 * 1024
    policy.check_document_size(policy.MAX_DOCUMENT_BYTES)
    policy.check_document_size(None)
    with pytest.raises(DomainError) as caught:
        policy.check_document_size(policy.MAX_DOCUMENT_BYTES + 1)
    assert caught.value.code is ErrorCode.DOCUMENT_TOO_LARGE
    with pytest.raises(DomainError) as caught:
        policy.check_document_size(0)
    assert caught.value.code is ErrorCode.REQUIRED


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\scan 1.png", "scan 1.png"),
        ("a\x00b\nc.pdf", "a_b_c.pdf"),
        ("..", "document"),
        ("", "document"),
        (None, "document"),
    ],
)
def test_file_names_are_made_safe(given_name: str | None, expected: str) -> None:
    assert policy.clean_file_name(given_name) == expected


def test_long_file_names_keep_their_extension() -> None:
    cleaned = policy.clean_file_name("x" * 400 + ".pdf")
    assert len(cleaned) == 255
    assert cleaned.endswith(".pdf")


@given(st.text(max_size=600))
def test_clean_file_name_never_yields_a_path(name: str) -> None:
    cleaned = policy.clean_file_name(name)
    assert cleaned
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert cleaned not in (".", "..")
    assert len(cleaned) <= policy.MAX_FILE_NAME


def test_document_owner() -> None:
    assert policy.document_owner(actor(SELLER), None) == (SELLER, None)
    person = uuid.uuid4()
    assert policy.document_owner(actor(None, person=person), None) == (None, person)
    assert policy.document_owner(actor(None, platform=True), OWNER) == (OWNER, None)
    with pytest.raises(DomainError) as caught:
        policy.document_owner(actor(SELLER), OTHER)
    assert caught.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(DomainError) as caught:
        policy.document_owner(actor(None, platform=True), None)
    assert caught.value.code is ErrorCode.REQUIRED


def test_a_document_is_attached_once_to_one_subject() -> None:
    doc = Document(id=uuid.uuid4(), owner_organization_id=SELLER, kind=DocumentKind.INVOICE)
    policy.check_attachable(doc)
    doc.purchase_order_id = uuid.uuid4()
    with pytest.raises(DomainError) as caught:
        policy.check_attachable(doc)
    assert caught.value.code is ErrorCode.DOCUMENT_ALREADY_ATTACHED
    with pytest.raises(DomainError):
        policy.check_one_subject(uuid.uuid4(), uuid.uuid4())


# -- purchase orders ------------------------------------------------------------------------------


def test_a_valid_order() -> None:
    terms = policy.validate_order(
        " PO-2026/001 ", Money.parse("1234.56", "CNY"), date(2026, 12, 1), date(2027, 3, 1)
    )
    assert terms.number == "PO-2026/001"
    assert terms.amount == Money(123_456, "CNY")


def test_every_problem_of_an_order_is_reported_at_once() -> None:
    with pytest.raises(ValidationErrors) as caught:
        policy.validate_order("", Money.zero("CNY"), date(2027, 3, 1), date(2026, 12, 1))
    codes = {(e.code, e.field) for e in caught.value.errors}
    assert codes == {
        (ErrorCode.REQUIRED, "number"),
        (ErrorCode.INVALID_AMOUNT, "amount"),
        (ErrorCode.INVALID_DATE_RANGE, "dueDate"),
    }


@pytest.mark.parametrize("number", ["PO 1", "-PO", "PO;DROP", "x" * 65])
def test_bad_order_numbers(number: str) -> None:
    with pytest.raises(DomainError):
        policy.clean_number(number)


def test_who_submits_an_order() -> None:
    # The seller's own user; a partner app (a client, no user) for the seller; the platform.
    assert policy.order_submitter(actor(SELLER, Role.BORROWER), SELLER, False) == SELLER
    assert policy.order_submitter(actor(PARTNER, user=False), SELLER, True) == PARTNER
    assert policy.order_submitter(actor(None, platform=True), SELLER, False) is None
    for outsider in (
        actor(OTHER, Role.BORROWER),  # another company's user
        actor(BUYER, Role.CORE_ENTERPRISE_USER),  # the buyer itself
        actor(PARTNER, Role.BORROWER, user=True),  # a person at the partner, not its app
        actor(None),
    ):
        with pytest.raises(DomainError) as caught:
            policy.order_submitter(outsider, SELLER, outsider.organization_id == PARTNER)
        assert caught.value.code is ErrorCode.FORBIDDEN


def test_only_the_buyers_core_enterprise_users_decide() -> None:
    po = order()
    policy.check_decider(actor(BUYER, Role.CORE_ENTERPRISE_USER), po)
    for other in (
        actor(SELLER, Role.CORE_ENTERPRISE_USER),  # right role, wrong company
        actor(BUYER, Role.WAREHOUSE_USER),  # right company, wrong role
        actor(BUYER, Role.CORE_ENTERPRISE_USER, user=False),  # a client, not a person
        actor(None, Role.PLATFORM_ADMIN, platform=True),  # the operator does not confirm
    ):
        with pytest.raises(DomainError) as caught:
            policy.check_decider(other, po)
        assert caught.value.code is ErrorCode.FORBIDDEN


def test_an_order_is_decided_once() -> None:
    assert policy.decide(order(), PurchaseOrderStatus.CONFIRMED) is PurchaseOrderStatus.CONFIRMED
    assert policy.decide(order(), PurchaseOrderStatus.DISPUTED) is PurchaseOrderStatus.DISPUTED
    for decided in (PurchaseOrderStatus.CONFIRMED, PurchaseOrderStatus.DISPUTED):
        for outcome in (PurchaseOrderStatus.CONFIRMED, PurchaseOrderStatus.DISPUTED):
            with pytest.raises(DomainError) as caught:
                policy.decide(order(decided), outcome)
            assert caught.value.code is ErrorCode.INVALID_TRANSITION


def test_a_dispute_says_why() -> None:
    with pytest.raises(DomainError) as caught:
        policy.clean_note("  ", required=True)
    assert caught.value.code is ErrorCode.REQUIRED
    assert policy.clean_note(None, required=False) is None
    assert policy.clean_note(" short by 3 t ", required=True) == "short by 3 t"
    with pytest.raises(DomainError):
        policy.clean_note("x" * 1001, required=False)


def test_financing_needs_a_confirmed_order() -> None:
    policy.require_confirmed(order(PurchaseOrderStatus.CONFIRMED))
    for status in (PurchaseOrderStatus.PENDING_CONFIRMATION, PurchaseOrderStatus.DISPUTED):
        with pytest.raises(DomainError) as caught:
            policy.require_confirmed(order(status))
        assert caught.value.code is ErrorCode.PURCHASE_ORDER_NOT_CONFIRMED


# -- warehouse receipts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("25.5", "25.500000"), ("1", "1.000000"), ("0.000001", "0.000001"), ("1.50000000", "1.5")],
)
def test_quantities(text: str, expected: str) -> None:
    assert policy.parse_quantity(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["0", "-1", "1e3", "NaN", "1.0000001", "1,5", "", "100000000000000", " "]
)
def test_bad_quantities(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        policy.parse_quantity(text)
    assert caught.value.code is ErrorCode.INVALID_QUANTITY


def test_declared_value_is_quantity_times_unit_price_rounded_half_up() -> None:
    # 25.5 t x 68,000.00 CNY/t = 1,734,000.00 CNY.
    assert policy.declared_value(Decimal("25.5"), Money.parse("68000", "CNY")) == Money.parse(
        "1734000.00", "CNY"
    )
    # 0.333333 t x 0.10 CNY = 0.0333333 -> 0.03; 0.5 x 0.01 = 0.005 -> 0.01 (half up).
    assert policy.declared_value(Decimal("0.333333"), Money.parse("0.10", "CNY")) == Money(3, "CNY")
    assert policy.declared_value(Decimal("0.5"), Money.parse("0.01", "CNY")) == Money(1, "CNY")
    assert policy.declared_value(Decimal("1.5"), Money.parse("3", "JPY")) == Money(5, "JPY")


def test_declared_value_must_fit_an_amount() -> None:
    with pytest.raises(ValidationErrors) as caught:
        policy.validate_receipt(
            number="WR-1",
            goods_description="Copper",
            quantity="99999999999999",
            unit="t",
            location="A",
            unit_price=Money(2**62, "CNY"),
        )
    assert [e.code for e in caught.value.errors] == [ErrorCode.INVALID_AMOUNT]


def test_every_problem_of_a_receipt_is_reported_at_once() -> None:
    with pytest.raises(ValidationErrors) as caught:
        policy.validate_receipt(
            number="",
            goods_description=" ",
            quantity="-2",
            unit="x" * 17,
            location="",
            unit_price=Money.zero("CNY"),
        )
    assert {e.field for e in caught.value.errors} == {
        "number",
        "goodsDescription",
        "quantity",
        "unit",
        "location",
        "unitPrice",
    }


def test_only_the_warehouses_users_issue_and_cancel() -> None:
    policy.check_warehouse_user(actor(WAREHOUSE, Role.WAREHOUSE_USER), WAREHOUSE)
    for other in (
        actor(OTHER, Role.WAREHOUSE_USER),
        actor(WAREHOUSE, Role.CORE_ENTERPRISE_USER),
        actor(WAREHOUSE, Role.WAREHOUSE_USER, user=False),
        actor(OWNER, Role.WAREHOUSE_USER),
    ):
        with pytest.raises(DomainError) as caught:
            policy.check_warehouse_user(other, WAREHOUSE)
        assert caught.value.code is ErrorCode.FORBIDDEN


def test_a_receipt_is_cancelled_once() -> None:
    policy.check_cancellable(receipt())
    with pytest.raises(DomainError) as caught:
        policy.check_cancellable(receipt(WarehouseReceiptStatus.CANCELLED))
    assert caught.value.code is ErrorCode.INVALID_TRANSITION
