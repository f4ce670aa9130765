"""The credit bureau client: ``POST /v1/credit-reports`` (protocol in
``integrations/README.md``). Implements :class:`domain.risk.ports.CreditBureau`."""

from __future__ import annotations

from typing import Any

from domain.risk.ports import (
    ConsentRequired,
    CreditFile,
    CreditReport,
    CreditReportRequest,
    DebtKind,
    Delinquency,
    FraudAlert,
    Inquiry,
    MalformedAnswer,
    OpenDebt,
    ProviderKind,
)
from integrations.answers import Fields, Malformed
from integrations.http import ProviderClient

__all__ = ["HttpCreditBureau"]

KIND = ProviderKind.CREDIT_BUREAU


def _debt(item: Fields) -> OpenDebt:
    return OpenDebt(
        kind=item.choice("kind", DebtKind),
        lender=item.text("lender"),
        balance=item.money("balance"),
        monthly_payment=item.money("monthly_payment"),
        opened_on=item.day("opened_on"),
        credit_limit=item.optional_money("credit_limit"),
    )


def _delinquency(item: Fields) -> Delinquency:
    status = item.text("status")
    if status not in ("CURRENT", "CURED"):
        raise Malformed(f"unknown delinquency status {status[:20]!r}")
    days = item.integer("days_past_due")
    if days <= 0:
        raise Malformed("days_past_due must be positive")
    return Delinquency(
        account_kind=item.choice("account_kind", DebtKind),
        days_past_due=days,
        amount_past_due=item.money("amount_past_due"),
        reported_on=item.day("reported_on"),
        current=status == "CURRENT",
    )


def _inquiry(item: Fields) -> Inquiry:
    return Inquiry(
        inquirer=item.text("inquirer"),
        reason=item.text("reason"),
        inquired_on=item.day("inquired_on"),
    )


def _alert(item: Fields) -> FraudAlert:
    return FraudAlert(code=item.text("code"), reported_on=item.day("reported_on"))


def read_report(data: Any, request_id: str) -> CreditReport:
    """A :class:`CreditReport` from the bureau's JSON. Raises :class:`Malformed`."""
    answer = Fields(data, "report")
    file = answer.choice("file", CreditFile)
    score: int | None = None
    model: str | None = None
    if file is CreditFile.FULL:
        scored = answer.object("score")
        score, model = scored.integer("value"), scored.text("model")
        low, high = scored.integer("min"), scored.integer("max")
        if not low <= score <= high:
            raise Malformed(f"score {score} outside its range {low}-{high}")
    elif answer.object_or_none("score") is not None:
        raise Malformed("a thin file has no score")
    return CreditReport(
        report_id=answer.text("report_id"),
        request_id=request_id,
        generated_at=answer.moment("generated_at"),
        file=file,
        score=score,
        score_model=model,
        debts=answer.items("debts", _debt),
        delinquencies=answer.items("delinquencies", _delinquency),
        inquiries=answer.items("inquiries", _inquiry),
        fraud_alerts=answer.items("fraud_alerts", _alert),
    )


class HttpCreditBureau(ProviderClient):
    """A :class:`~domain.risk.ports.CreditBureau` over the bureau's HTTP API."""

    kind = KIND

    async def pull_report(self, request: CreditReportRequest) -> CreditReport:
        """Pull the subject's report under the recorded consent. Without one, nothing is sent:
        a pull is itself recorded at the bureau (an inquiry) and is lawful only with consent."""
        consent = request.consent
        if consent is None or not request.has_consent:
            raise ConsentRequired(
                "no recorded credit consent; the report was not pulled", kind=KIND
            )
        payload = {
            "subject": (
                {"resident_id": request.resident_id, "name": request.full_name}
                if request.resident_id is not None
                else {"social_credit_code": request.social_credit_code, "name": request.full_name}
            ),
            "consent": {
                "reference": consent.reference,
                "text_version": consent.text_version,
                "method": consent.method,
                "given_at": consent.given_at.isoformat(),
            },
            "purpose": request.purpose,
        }
        answer = await self._client.call(
            "POST",
            "/v1/credit-reports",
            payload=payload,
            idempotency_key=request.idempotency_key,
        )
        try:
            return read_report(answer.data, answer.request_id)
        except Malformed as exc:
            raise MalformedAnswer(str(exc), kind=KIND, request_id=answer.request_id) from None
