"""The strict readers of each client on hand-written answers (no server): what is accepted,
and which broken answers are refused, naming the field."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from domain.kernel.money import Money
from domain.risk.ports import (
    ConsentRequired,
    CreditFile,
    PriceQuoteRequest,
    ProviderError,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RequestRejected,
)
from integrations.answers import Malformed
from integrations.bureau.client import read_report
from integrations.identity.client import read_verification
from integrations.valuation.client import read_quote

REPORT: dict[str, Any] = {
    "report_id": "CR-1",
    "generated_at": "2026-12-01T08:00:00+08:00",
    "file": "FULL",
    "score": {"value": 650, "model": "M", "min": 350, "max": 950},
    "debts": [
        {
            "kind": "AUTO_LOAN",
            "lender": "L",
            "balance": {"amount": "100.5", "currency": "CNY"},
            "credit_limit": None,
            "monthly_payment": {"amount": "10.05", "currency": "CNY"},
            "opened_on": "2025-01-31",
        }
    ],
    "delinquencies": [],
    "inquiries": [],
    "fraud_alerts": [],
}
VERIFICATION: dict[str, Any] = {
    "verification_id": "IV-1",
    "checked_at": "2026-12-01T00:00:00Z",
    "result": "VERIFIED",
    "checks": {
        "id_number_valid": True,
        "name_matches": True,
        "liveness": {"passed": True, "score": "1"},
    },
    "alerts": [],
}
QUOTE: dict[str, Any] = {
    "quote_id": "PQ-1",
    "commodity": "CU",
    "price": {"amount": "71230.00", "currency": "CNY"},
    "unit": "t",
    "as_of": "2026-12-01T15:00:00+08:00",
    "source": "S",
}


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``base`` with the field at ``path`` (dotted, list indexes as numbers) set to ``value``,
    or removed when ``value`` is ``...``."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def test_a_report_as_given() -> None:
    report = read_report(REPORT, "r1")
    assert (report.file, report.score, report.request_id) == (CreditFile.FULL, 650, "r1")
    assert report.debts[0].balance == Money(10050, "CNY")
    assert report.generated_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("report_id", ..., "report.report_id is missing"),
        ("score.value", True, "report.score.value is not an integer"),
        ("score.value", 951, "outside its range"),
        ("file", "PARTIAL", "unknown value"),
        ("generated_at", "2026-12-01T08:00:00", "no UTC offset"),
        ("debts.0.balance.amount", "100.555", "decimal place"),
        ("debts.0.balance.amount", 100.5, "not a string"),
        ("debts.0.opened_on", "31/01/2025", "not a date"),
        ("debts.0.kind", "YACHT", "unknown value"),
        ("debts", {"kind": "AUTO_LOAN"}, "not a list"),
        ("inquiries", ..., "report.inquiries is missing"),
    ],
)
def test_a_broken_report(path: str, value: Any, says: str) -> None:
    with pytest.raises(Malformed) as caught:
        read_report(changed(REPORT, path, value), "r1")
    assert says in str(caught.value)


def test_a_thin_file_with_a_score_is_broken() -> None:
    with pytest.raises(Malformed, match="thin file has no score"):
        read_report(changed(REPORT, "file", "THIN"), "r1")


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("checks.liveness.score", "1.01", "outside 0-1"),
        ("checks.liveness.score", "NaN", "not finite"),
        ("checks.name_matches", "yes", "not a boolean"),
        ("result", "MAYBE", "unknown result"),
        ("alerts", ["", "X"], "non-string"),
        ("alerts", ["ID_REPORTED_STOLEN"], "disagrees"),
    ],
)
def test_a_broken_verification(path: str, value: Any, says: str) -> None:
    assert read_verification(VERIFICATION, "r1").verified
    with pytest.raises(Malformed) as caught:
        read_verification(changed(VERIFICATION, path, value), "r1")
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("commodity", "AL", "another commodity"),
        ("price.currency", "USD", "another currency"),
        ("price.amount", "0", "not positive"),
        ("price.currency", "XXX", "price"),
    ],
)
def test_a_broken_quote(path: str, value: Any, says: str) -> None:
    asked = PriceQuoteRequest("CU", "CNY")
    assert read_quote(QUOTE, "r1", asked).price == Money.parse("71230.00", "CNY")
    with pytest.raises(Malformed) as caught:
        read_quote(changed(QUOTE, path, value), "r1", asked)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        ProviderTimeout("slow", kind=ProviderKind.IDENTITY, request_id="r1"),
        ProviderUnavailable("down", kind=ProviderKind.PRICE_FEED, request_id="r2", status=503),
        RequestRejected(
            "no", kind=ProviderKind.CREDIT_BUREAU, request_id="r3", status=422, code="X"
        ),
        ConsentRequired("no consent", kind=ProviderKind.CREDIT_BUREAU),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling(error: ProviderError) -> None:
    copy_ = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy_) is type(error)
    assert str(copy_) == str(error)
    assert copy_.__dict__ == error.__dict__
    assert copy_.retryable is error.retryable
