"""Valid product terms of each line, for the product tests to start from and break one rule."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod
from domain.products.models import FeeKind, PenaltyBasis, ProductLine, TermUnit
from domain.products.policy import (
    ConsumerEligibility,
    LatePenalty,
    OrderFinancingTerms,
    OriginationFee,
    PrepaymentPenalty,
    ProductTerms,
    WarehousePledgeTerms,
)

CNY = "CNY"


def cny(text: str) -> Money:
    return Money.parse(text, CNY)


def base_terms(**overrides: Any) -> ProductTerms:
    """100,000.00 at 12 % over 12 months, equal instalments: the engine's worked example is
    inside this product (1,000.00 to 200,000.00; 3, 6, 12 or 24 months)."""
    terms = ProductTerms(
        currency=CNY,
        min_amount=cny("1000.00"),
        max_amount=cny("200000.00"),
        term_unit=TermUnit.MONTH,
        allowed_terms=(3, 6, 12, 24),
        annual_rate=Decimal("0.12"),
        repayment_method=RepaymentMethod.EQUAL_INSTALLMENT,
        day_count=DayCountConvention.ACT_365,
        late_penalty=LatePenalty(
            daily_rate=Decimal("0.0005"), basis=PenaltyBasis.OVERDUE_PRINCIPAL, grace_days=3
        ),
        prepayment_penalty=PrepaymentPenalty(rate=Decimal("0.02"), free_allowance=Decimal("0.10")),
        origination_fee=OriginationFee(kind=FeeKind.NONE),
    )
    return replace(terms, **overrides)


def consumer_terms(**overrides: Any) -> ProductTerms:
    shape: dict[str, Any] = {
        "consumer_eligibility": ConsumerEligibility(min_age=22, max_age=55, min_credit_score=600)
    }
    shape.update(overrides)
    return base_terms(**shape)


def order_terms(core_ids: list[uuid.UUID], **overrides: Any) -> ProductTerms:
    block = OrderFinancingTerms(
        max_advance_rate=Decimal("0.80"), eligible_core_enterprise_ids=tuple(core_ids)
    )
    shape: dict[str, Any] = {
        "order_financing": block,
        "repayment_method": RepaymentMethod.INTEREST_ONLY,
        "allowed_terms": (3, 6),
    }
    shape.update(overrides)
    return base_terms(**shape)


def warehouse_terms(warehouse_ids: list[uuid.UUID], **overrides: Any) -> ProductTerms:
    block = WarehousePledgeTerms(
        max_ltv=Decimal("0.70"),
        haircut=Decimal("0.10"),
        accepted_warehouse_ids=tuple(warehouse_ids),
    )
    shape: dict[str, Any] = {
        "warehouse_pledge": block,
        "term_unit": TermUnit.DAY,
        "allowed_terms": (90, 180),
        "repayment_method": RepaymentMethod.BULLET,
    }
    shape.update(overrides)
    return base_terms(**shape)


LINES = tuple(ProductLine)
