"""How risk results are kept: a credit report and an identity verification as the JSON
object an integration call stores (``integration_calls.result``), and back.

The stored form is versioned (``"v": 1``) and exact: money as integer minor units with its
currency, dates and times as ISO 8601, the liveness score as a decimal string. Reading a
stored object gives back an equal value, so what a reviewer is shown later is what the
provider answered."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

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

__all__ = ["report_from_json", "report_to_json", "verification_from_json", "verification_to_json"]

VERSION = 1


def _money(value: Money) -> dict[str, Any]:
    return {"minor": value.amount_minor, "currency": value.currency}


def _read_money(data: dict[str, Any]) -> Money:
    return Money(int(data["minor"]), str(data["currency"]))


def _check_version(data: dict[str, Any]) -> None:
    if data.get("v") != VERSION:
        raise ValueError(f"unknown stored result version: {data.get('v')!r}")


def report_to_json(report: CreditReport) -> dict[str, Any]:
    """The stored form of ``report``."""
    return {
        "v": VERSION,
        "report_id": report.report_id,
        "request_id": report.request_id,
        "generated_at": report.generated_at.isoformat(),
        "file": report.file.value,
        "score": report.score,
        "score_model": report.score_model,
        "debts": [
            {
                "kind": d.kind.value,
                "lender": d.lender,
                "balance": _money(d.balance),
                "monthly_payment": _money(d.monthly_payment),
                "opened_on": d.opened_on.isoformat(),
                "credit_limit": None if d.credit_limit is None else _money(d.credit_limit),
            }
            for d in report.debts
        ],
        "delinquencies": [
            {
                "account_kind": d.account_kind.value,
                "days_past_due": d.days_past_due,
                "amount_past_due": _money(d.amount_past_due),
                "reported_on": d.reported_on.isoformat(),
                "current": d.current,
            }
            for d in report.delinquencies
        ],
        "inquiries": [
            {"inquirer": i.inquirer, "reason": i.reason, "inquired_on": i.inquired_on.isoformat()}
            for i in report.inquiries
        ],
        "fraud_alerts": [
            {"code": a.code, "reported_on": a.reported_on.isoformat()} for a in report.fraud_alerts
        ],
    }


def report_from_json(data: dict[str, Any]) -> CreditReport:
    """The report stored as ``data``; ValueError (or KeyError) for anything else."""
    _check_version(data)
    return CreditReport(
        report_id=str(data["report_id"]),
        request_id=str(data["request_id"]),
        generated_at=datetime.fromisoformat(data["generated_at"]),
        file=CreditFile(data["file"]),
        score=None if data["score"] is None else int(data["score"]),
        score_model=data["score_model"],
        debts=tuple(
            OpenDebt(
                kind=DebtKind(d["kind"]),
                lender=str(d["lender"]),
                balance=_read_money(d["balance"]),
                monthly_payment=_read_money(d["monthly_payment"]),
                opened_on=date.fromisoformat(d["opened_on"]),
                credit_limit=None if d["credit_limit"] is None else _read_money(d["credit_limit"]),
            )
            for d in data["debts"]
        ),
        delinquencies=tuple(
            Delinquency(
                account_kind=DebtKind(d["account_kind"]),
                days_past_due=int(d["days_past_due"]),
                amount_past_due=_read_money(d["amount_past_due"]),
                reported_on=date.fromisoformat(d["reported_on"]),
                current=bool(d["current"]),
            )
            for d in data["delinquencies"]
        ),
        inquiries=tuple(
            Inquiry(
                inquirer=str(i["inquirer"]),
                reason=str(i["reason"]),
                inquired_on=date.fromisoformat(i["inquired_on"]),
            )
            for i in data["inquiries"]
        ),
        fraud_alerts=tuple(
            FraudAlert(code=str(a["code"]), reported_on=date.fromisoformat(a["reported_on"]))
            for a in data["fraud_alerts"]
        ),
    )


def verification_to_json(result: IdentityVerification) -> dict[str, Any]:
    """The stored form of ``result``."""
    return {
        "v": VERSION,
        "verification_id": result.verification_id,
        "request_id": result.request_id,
        "checked_at": result.checked_at.isoformat(),
        "id_number_valid": result.id_number_valid,
        "name_matches": result.name_matches,
        "liveness_passed": result.liveness_passed,
        "liveness_score": str(result.liveness_score),
        "fraud_alerts": list(result.fraud_alerts),
    }


def verification_from_json(data: dict[str, Any]) -> IdentityVerification:
    """The verification stored as ``data``; ValueError (or KeyError) for anything else."""
    _check_version(data)
    return IdentityVerification(
        verification_id=str(data["verification_id"]),
        request_id=str(data["request_id"]),
        checked_at=datetime.fromisoformat(data["checked_at"]),
        id_number_valid=bool(data["id_number_valid"]),
        name_matches=bool(data["name_matches"]),
        liveness_passed=bool(data["liveness_passed"]),
        liveness_score=Decimal(data["liveness_score"]),
        fraud_alerts=tuple(str(a) for a in data["fraud_alerts"]),
    )
