"""Stored risk results: a report and a verification come back equal, in a stored form a
reviewer can read (money as minor units, exact decimals), and an unknown version is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.kernel.money import Money
from domain.risk.ports import (
    CreditFile,
    CreditReport,
    DebtKind,
    Delinquency,
    FraudAlert,
    IdentityVerification,
    Inquiry,
    OpenDebt,
)
from domain.risk.results import (
    report_from_json,
    report_to_json,
    verification_from_json,
    verification_to_json,
)

REPORT = CreditReport(
    report_id="RPT-1",
    request_id="req-1",
    generated_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
    file=CreditFile.FULL,
    score=712,
    score_model="bureau-v5",
    debts=(
        OpenDebt(
            kind=DebtKind.CREDIT_CARD,
            lender="China Merchants Bank",
            balance=Money(865_000, "CNY"),
            monthly_payment=Money(86_500, "CNY"),
            opened_on=date(2019, 6, 12),
            credit_limit=Money(5_000_000, "CNY"),
        ),
        OpenDebt(
            kind=DebtKind.MORTGAGE,
            lender="Bank of Communications",
            balance=Money(61_240_000, "CNY"),
            monthly_payment=Money(438_000, "CNY"),
            opened_on=date(2020, 3, 1),
        ),
    ),
    delinquencies=(
        Delinquency(
            account_kind=DebtKind.CONSUMER_LOAN,
            days_past_due=45,
            amount_past_due=Money(120_001, "CNY"),
            reported_on=date(2026, 10, 31),
            current=True,
        ),
    ),
    inquiries=(Inquiry("Ping An Consumer Finance", "LOAN_APPLICATION", date(2026, 11, 2)),),
    fraud_alerts=(FraudAlert("IDENTITY_THEFT", date(2026, 9, 1)),),
)


def test_a_report_comes_back_equal() -> None:
    assert report_from_json(report_to_json(REPORT)) == REPORT


def test_the_stored_report_keeps_exact_minor_units() -> None:
    stored = report_to_json(REPORT)
    # 8,650.00 CNY is 865,000 fen; a mortgage has no limit.
    assert stored["debts"][0]["balance"] == {"minor": 865_000, "currency": "CNY"}
    assert stored["debts"][1]["credit_limit"] is None
    assert stored["delinquencies"][0]["amount_past_due"]["minor"] == 120_001
    # 865.00 + 4,380.00 a month = 5,245.00 CNY of debt service.
    assert report_from_json(stored).monthly_debt_service("CNY") == Money(524_500, "CNY")


def test_a_thin_file_keeps_its_missing_score() -> None:
    thin = CreditReport(
        report_id="RPT-2",
        request_id="req-2",
        generated_at=datetime(2026, 12, 4, tzinfo=UTC),
        file=CreditFile.THIN,
        score=None,
        score_model=None,
    )
    back = report_from_json(report_to_json(thin))
    assert (back.file, back.score, back.debts) == (CreditFile.THIN, None, ())


def test_a_verification_comes_back_equal_with_its_exact_score() -> None:
    result = IdentityVerification(
        verification_id="IDV-1",
        request_id="req-3",
        checked_at=datetime(2026, 12, 4, 9, 31, tzinfo=UTC),
        id_number_valid=True,
        name_matches=True,
        liveness_passed=False,
        liveness_score=Decimal("0.4150"),
        fraud_alerts=("FACE_SEEN_WITH_OTHER_ID",),
    )
    stored = verification_to_json(result)
    assert stored["liveness_score"] == "0.4150"
    back = verification_from_json(stored)
    assert back == result
    assert not back.verified


def test_an_unknown_version_is_refused() -> None:
    stored = report_to_json(REPORT) | {"v": 2}
    with pytest.raises(ValueError, match="version"):
        report_from_json(stored)
    with pytest.raises(ValueError, match="version"):
        verification_from_json({"v": None})
