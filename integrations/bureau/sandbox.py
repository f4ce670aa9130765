"""A sandbox credit bureau: a real HTTP service speaking the bureau protocol
(``integrations/README.md``), for tests and ``lendgraph dev``.

The outcome is chosen by the last word of the subject's name (case-insensitive):

=============  =====================================================================
``THIN``       a thin file: no score, no accounts
``DELINQUENT`` a scored file with two delinquencies still unpaid
``FRAUD``      a scored file carrying an identity-theft alert
``TIMEOUT``    the answer is held until the client gives up
``TRICKLE``    the answer comes a byte at a time
``UNAVAILABLE`` 503
``MALFORMED``  a signed answer that breaks the format (the score is a string)
anything else  a good file
=============  =====================================================================

The subject is a person (``resident_id``) or an enterprise (``social_credit_code``); an
enterprise's report has the same shape and figures. A resident ID that fails its check digit
is refused (422 ``INVALID_RESIDENT_ID``), a social credit code likewise
(422 ``INVALID_SOCIAL_CREDIT_CODE``), and so is a
request without a consent (400 ``CONSENT_REQUIRED``). The figures are fixed, so tests can check
them by hand; they are listed in ``integrations/README.md``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from stdnum.cn import ric, uscc

from integrations.provider import (
    TRANSPORT_FAILURES,
    Call,
    Reply,
    SandboxProvider,
    last_word_outcome,
)

__all__ = ["OUTCOMES", "create_app", "outcome_of"]

OUTCOMES = (
    "GOOD",
    "THIN",
    "DELINQUENT",
    "FRAUD",
    "TIMEOUT",
    "TRICKLE",
    "UNAVAILABLE",
    "MALFORMED",
)


def outcome_of(name: str) -> str:
    """The outcome a subject's name asks for."""
    return last_word_outcome(name, OUTCOMES)


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


_CARD = {
    "kind": "CREDIT_CARD",
    "lender": "China Merchants Bank",
    "balance": _money("8650.00"),
    "credit_limit": _money("50000.00"),
    "monthly_payment": _money("865.00"),
    "opened_on": "2019-06-12",
}
_MORTGAGE = {
    "kind": "MORTGAGE",
    "lender": "Bank of Communications",
    "balance": _money("612400.00"),
    "credit_limit": None,
    "monthly_payment": _money("4380.00"),
    "opened_on": "2020-03-01",
}
_INQUIRY = {
    "inquirer": "Ping An Consumer Finance",
    "reason": "LOAN_APPLICATION",
    "inquired_on": "2026-09-14",
}
_SCORE_RANGE = {"model": "SANDBOX-CREDIT-2", "min": 350, "max": 950}


def _file(outcome: str) -> dict[str, Any]:
    if outcome == "THIN":
        return {
            "file": "THIN",
            "score": None,
            "debts": [],
            "delinquencies": [],
            "inquiries": [_INQUIRY],
            "fraud_alerts": [],
        }
    if outcome == "DELINQUENT":
        return {
            "file": "FULL",
            "score": {"value": 561, **_SCORE_RANGE},
            "debts": [
                {
                    "kind": "CONSUMER_LOAN",
                    "lender": "Zhongyuan Consumer Finance",
                    "balance": _money("46300.00"),
                    "credit_limit": None,
                    "monthly_payment": _money("2150.00"),
                    "opened_on": "2024-11-20",
                },
                {
                    "kind": "CREDIT_CARD",
                    "lender": "Industrial Bank",
                    "balance": _money("29800.00"),
                    "credit_limit": _money("30000.00"),
                    "monthly_payment": _money("1490.00"),
                    "opened_on": "2022-02-08",
                },
            ],
            "delinquencies": [
                {
                    "account_kind": "CONSUMER_LOAN",
                    "days_past_due": 95,
                    "amount_past_due": _money("6450.00"),
                    "reported_on": "2026-10-31",
                    "status": "CURRENT",
                },
                {
                    "account_kind": "CREDIT_CARD",
                    "days_past_due": 62,
                    "amount_past_due": _money("2980.00"),
                    "reported_on": "2026-10-31",
                    "status": "CURRENT",
                },
                {
                    "account_kind": "CREDIT_CARD",
                    "days_past_due": 31,
                    "amount_past_due": _money("1200.00"),
                    "reported_on": "2025-05-31",
                    "status": "CURED",
                },
            ],
            "inquiries": [
                _INQUIRY,
                {
                    "inquirer": "WeBank",
                    "reason": "LOAN_APPLICATION",
                    "inquired_on": "2026-10-02",
                },
                {
                    "inquirer": "Industrial Bank",
                    "reason": "ACCOUNT_REVIEW",
                    "inquired_on": "2026-10-28",
                },
            ],
            "fraud_alerts": [],
        }
    report: dict[str, Any] = {
        "file": "FULL",
        "score": {"value": 742, **_SCORE_RANGE},
        "debts": [_CARD, _MORTGAGE],
        "delinquencies": [
            {
                "account_kind": "CREDIT_CARD",
                "days_past_due": 35,
                "amount_past_due": _money("1200.00"),
                "reported_on": "2023-08-31",
                "status": "CURED",
            }
        ],
        "inquiries": [_INQUIRY],
        "fraud_alerts": [],
    }
    if outcome == "FRAUD":
        report["score"] = {"value": 701, **_SCORE_RANGE}
        report["debts"] = [_CARD]
        report["fraud_alerts"] = [{"code": "IDENTITY_THEFT_REPORTED", "reported_on": "2026-07-02"}]
    return report


def _report(outcome: str) -> dict[str, Any]:
    report = {
        "report_id": f"CR-{uuid.uuid4().hex[:16].upper()}",
        "generated_at": datetime.now(UTC).isoformat(),
        **_file(outcome),
    }
    if outcome == "MALFORMED":
        report["score"] = {"value": "742", **_SCORE_RANGE}
    return report


async def _pull(call: Call) -> Reply:
    data = call.data if isinstance(call.data, dict) else {}
    subject = data.get("subject")
    consent = data.get("consent")
    keys = ("resident_id", "social_credit_code")
    if (
        not isinstance(subject, dict)
        or not isinstance(subject.get("name"), str)
        or sum(isinstance(subject.get(k), str) for k in keys) != 1
    ):
        return Reply.refuse(
            400,
            "INVALID_REQUEST",
            "subject.name and one of subject.resident_id, subject.social_credit_code",
        )
    if not isinstance(consent, dict) or not all(
        isinstance(consent.get(k), str) and consent[k].strip()
        for k in ("reference", "text_version", "method", "given_at")
    ):
        return Reply.refuse(400, "CONSENT_REQUIRED", "a recorded consent is required")
    if "resident_id" in subject and not ric.is_valid(subject["resident_id"]):
        return Reply.refuse(422, "INVALID_RESIDENT_ID", "not a valid resident ID")
    if "social_credit_code" in subject and not uscc.is_valid(subject["social_credit_code"]):
        return Reply.refuse(422, "INVALID_SOCIAL_CREDIT_CODE", "not a valid social credit code")
    outcome = outcome_of(subject["name"])
    if outcome in TRANSPORT_FAILURES:
        return Reply.failing(outcome, _report("GOOD"))
    return Reply.ok(_report(outcome))


def create_app(provider: SandboxProvider) -> Starlette:
    """The bureau's routes behind ``provider``'s checks."""
    return Starlette(
        routes=[Route("/v1/credit-reports", provider.endpoint(_pull), methods=["POST"])]
    )
