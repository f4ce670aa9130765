"""Inputs and payloads of the deal mutations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry import relay

from api.deals.types import ConsentMethod, DealNode
from api.errors import UserError
from api.ids import DealID, PartyID, ProductID, PurchaseOrderID, WarehouseReceiptID
from api.relay import id_of
from api.scalars import MoneyInput
from domain.deals.service import ConsentInput
from domain.kernel.errors import DomainError, ErrorCode

IDEMPOTENCY_KEY_DESCRIPTION = (
    "Optional key (1-200 printable ASCII characters) that makes a retry safe. A retry with the "
    "same key and the same request - this input and the same fields selected from the payload - "
    "gets the first answer byte for byte, with the response header Idempotent-Replayed naming "
    "the replayed field; the key with another input or selection is refused with "
    "IDEMPOTENCY_KEY_REUSED, and while the first request with the key is still running, with "
    "IDEMPOTENCY_IN_PROGRESS (retry shortly). Keys belong to the caller (client, user, tenant) "
    "and are kept at least 24 hours; a refused request keeps no key."
)

REPLAYED_DESCRIPTION = (
    "Always false: a retry with the same idempotency key gets the first answer byte for byte, "
    "so the answer itself cannot tell a replay; the response header Idempotent-Replayed does."
)


@strawberry.input(description="The applicant's credit consent (authorisation to pull reports).")
class CreditConsentInput:
    text_version: str = strawberry.field(
        description="The version of the consent text the applicant agreed to."
    )
    method: ConsentMethod = strawberry.field(description="How it was given.")  # type: ignore[valid-type]
    given_at: datetime | None = strawberry.field(
        default=None, description="When it was given (with its UTC offset); now when omitted."
    )

    def to_domain(self) -> ConsentInput:
        return ConsentInput(
            text_version=self.text_version, method=self.method, given_at=self.given_at
        )


@strawberry.input(
    description="An application: the product, the applicant, the loan request and, until "
    "submission optionally, the credit consent and the collateral."
)
class CreateDealInput:
    product_id: ProductID = strawberry.field(description="The product applied for.")
    amount: MoneyInput = strawberry.field(description="The amount applied for.")
    term: int = strawberry.field(description="The term, in the product's term unit.")
    purpose: str = strawberry.field(description="What the money is for (at most 500 characters).")
    applicant_id: PartyID | None = strawberry.field(
        default=None,
        description="The applicant: a Person (consumer credit) or an Organization. Yourself "
        "when omitted; required for a partner app or the funder's app.",
    )
    consent: CreditConsentInput | None = strawberry.field(
        default=None, description="The credit consent; required before submission."
    )
    purchase_order_id: PurchaseOrderID | None = strawberry.field(
        default=None, description="The purchase order to finance (ORDER_FINANCING)."
    )
    warehouse_receipt_ids: list[WarehouseReceiptID] | None = strawberry.field(
        default=None, description="The warehouse receipts to pledge (WAREHOUSE_RECEIPT_PLEDGE)."
    )
    monthly_income: MoneyInput | None = strawberry.field(
        default=None,
        description="The applicant's declared monthly income, in the request's currency (the "
        "debt-to-income check divides the credit report's monthly debt service by it).",
    )
    liveness_session: str | None = strawberry.field(
        default=None,
        description="The identity provider's reference of the face capture the applicant "
        "completed (printable ASCII, at most 128 characters); the identity check sends it.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description=IDEMPOTENCY_KEY_DESCRIPTION
    )


@strawberry.input(
    description="Changes to a DRAFT or RETURNED application; omitted fields stay as they are."
)
class UpdateDealInput:
    id: DealID = strawberry.field(description="The deal.")
    amount: MoneyInput | None = strawberry.field(default=None, description="The new amount.")
    term: int | None = strawberry.field(default=None, description="The new term.")
    purpose: str | None = strawberry.field(default=None, description="The new purpose.")
    consent: CreditConsentInput | None = strawberry.field(
        default=None, description="The applicant's credit consent."
    )
    purchase_order_id: PurchaseOrderID | None = strawberry.field(
        default=None, description="The purchase order to finance instead."
    )
    warehouse_receipt_ids: list[WarehouseReceiptID] | None = strawberry.field(
        default=None, description="The warehouse receipts to pledge instead (the whole list)."
    )
    monthly_income: MoneyInput | None = strawberry.field(
        default=None, description="The declared monthly income instead."
    )
    liveness_session: str | None = strawberry.field(
        default=None, description="A new liveness capture reference."
    )


@strawberry.input(description="An application to submit to the funder.")
class SubmitDealInput:
    id: DealID = strawberry.field(description="The deal.")
    idempotency_key: str | None = strawberry.field(
        default=None, description=IDEMPOTENCY_KEY_DESCRIPTION
    )


@strawberry.input(description="An application to withdraw (any state before SIGNED).")
class WithdrawDealInput:
    id: DealID = strawberry.field(description="The deal.")
    reason: str | None = strawberry.field(
        default=None, description="Why it is withdrawn (at most 500 characters)."
    )


@strawberry.type(description="Result of createDeal.")
class CreateDealPayload:
    deal: DealNode | None = strawberry.field(description="The new DRAFT deal.")
    replayed: bool = strawberry.field(
        default=False,
        description=REPLAYED_DESCRIPTION,
        deprecation_reason="A replay is the first answer byte for byte; the response header "
        "Idempotent-Replayed marks it.",
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="Result of updateDeal.")
class UpdateDealPayload:
    deal: DealNode | None = strawberry.field(description="The edited deal.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="Result of submitDeal.")
class SubmitDealPayload:
    deal: DealNode | None = strawberry.field(description="The SUBMITTED deal.")
    replayed: bool = strawberry.field(
        default=False,
        description=REPLAYED_DESCRIPTION,
        deprecation_reason="A replay is the first answer byte for byte; the response header "
        "Idempotent-Replayed marks it.",
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the submission was refused: one entry per rule it breaks."
    )


@strawberry.type(description="Result of withdrawDeal.")
class WithdrawDealPayload:
    deal: DealNode | None = strawberry.field(description="The WITHDRAWN deal.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


def deal_id(gid: relay.GlobalID, field: str = "id") -> uuid.UUID:
    """The UUID inside a Deal's global ID (NOT_FOUND for another type)."""
    value = id_of(gid, "Deal", field)
    assert value is not None  # a non-null argument
    return value


def applicant_ids(gid: relay.GlobalID | None) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """``(person, organization)`` named by an applicant ID of either type."""
    if gid is None:
        return None, None
    if gid.type_name == "Person":
        return id_of(gid, "Person", "applicantId"), None
    if gid.type_name == "Organization":
        return None, id_of(gid, "Organization", "applicantId")
    raise DomainError(ErrorCode.NOT_FOUND, "no such applicant", "applicantId")


def receipt_ids(gids: Sequence[relay.GlobalID] | None) -> list[uuid.UUID] | None:
    """The UUIDs inside warehouse receipt IDs (NOT_FOUND for another type)."""
    if gids is None:
        return None
    out = []
    for n, gid in enumerate(gids):
        value = id_of(gid, "WarehouseReceipt", f"warehouseReceiptIds.{n}")
        assert value is not None
        out.append(value)
    return out


__all__ = [
    "CreateDealInput",
    "CreateDealPayload",
    "CreditConsentInput",
    "SubmitDealInput",
    "SubmitDealPayload",
    "UpdateDealInput",
    "UpdateDealPayload",
    "WithdrawDealInput",
    "WithdrawDealPayload",
    "applicant_ids",
    "deal_id",
    "receipt_ids",
]
