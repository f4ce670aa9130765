"""GraphQL types of a deal's risk data: its integration calls (the risk checks), the credit
report and the identity verification, as the provider answered them.

They hang off ``Deal`` and are resolved only for principals of the deal's own funder holding
``risk:read`` (:func:`domain.risk.policy.risk_visible`); for everyone else they are null or
empty, whichever path reached the deal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry

from api.scalars import MoneyType
from domain.integration_calls import models as calls
from domain.risk import ports, scorecard
from domain.risk.results import report_from_json, verification_from_json

RiskCheckKind = strawberry.enum(
    calls.IntegrationKind,
    name="RiskCheckKind",
    description="What a risk check asks: a credit report (BUREAU), an identity verification "
    "(IDENTITY) or a collateral valuation (VALUATION).",
)
RiskCheckState = strawberry.enum(
    calls.CallState,
    name="RiskCheckState",
    description="PENDING (waiting for an attempt), RUNNING, SUCCEEDED, or FAILED once no "
    "attempt is left or the provider refused for good.",
)
CreditFile = strawberry.enum(
    ports.CreditFile, description="How much history the bureau holds: FULL (scored) or THIN."
)
DebtKind = strawberry.enum(ports.DebtKind, description="A kind of credit account.")


@strawberry.type(description="One check a submitted deal needs from an outside provider.")
class RiskCheck:
    kind: RiskCheckKind = strawberry.field(description="What is checked.")  # type: ignore[valid-type]
    state: RiskCheckState = strawberry.field(description="Where the check is.")  # type: ignore[valid-type]
    attempts: int = strawberry.field(description="Attempts made so far.")
    max_attempts: int = strawberry.field(description="Attempts allowed before it fails.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due (unfinished checks)."
    )
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    requested_at: datetime = strawberry.field(description="When it was requested.")
    finished_at: datetime | None = strawberry.field(description="When it succeeded or failed.")

    @classmethod
    def from_row(cls, row: Any) -> RiskCheck:
        done = row.state in (calls.CallState.SUCCEEDED, calls.CallState.FAILED)
        return cls(
            kind=row.kind,
            state=row.state,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            next_attempt_at=None if done else row.next_attempt_at,
            last_error=row.last_error,
            requested_at=row.created_at,
            finished_at=row.finished_at,
        )


@strawberry.type(description="An open credit account on the report.")
class OpenDebt:
    kind: DebtKind = strawberry.field(description="The kind of account.")  # type: ignore[valid-type]
    lender: str = strawberry.field(description="Who lent.")
    balance: MoneyType = strawberry.field(description="What is owed.")
    monthly_payment: MoneyType = strawberry.field(
        description="The agreed instalment (for cards, the minimum payment)."
    )
    credit_limit: MoneyType | None = strawberry.field(description="Revolving accounts only.")
    opened_on: date = strawberry.field(description="When it was opened.")


@strawberry.type(description="A payment that was, or still is, past due.")
class Delinquency:
    account_kind: DebtKind = strawberry.field(description="The account's kind.")  # type: ignore[valid-type]
    days_past_due: int = strawberry.field(description="How late.")
    amount_past_due: MoneyType = strawberry.field(description="How much was past due.")
    reported_on: date = strawberry.field(description="When the bureau recorded it.")
    current: bool = strawberry.field(description="Still unpaid (false: cured since).")


@strawberry.type(description="Someone else's pull of the report.")
class CreditInquiry:
    inquirer: str = strawberry.field(description="Who pulled it.")
    reason: str = strawberry.field(description="Why.")
    inquired_on: date = strawberry.field(description="When.")


@strawberry.type(description="A warning the bureau holds against the identity.")
class BureauFraudAlert:
    code: str = strawberry.field(description="The bureau's code, e.g. IDENTITY_THEFT_REPORTED.")
    reported_on: date = strawberry.field(description="When it was reported.")


@strawberry.type(description="The applicant's credit report, as the bureau gave it.")
class CreditReport:
    report_id: str = strawberry.field(description="The bureau's reference of the report.")
    generated_at: datetime = strawberry.field(description="When the bureau produced it.")
    file: CreditFile = strawberry.field(description="FULL or THIN.")  # type: ignore[valid-type]
    score: int | None = strawberry.field(description="The score; null on a thin file.")
    score_model: str | None = strawberry.field(description="The scoring model.")
    debts: list[OpenDebt] = strawberry.field(description="Open accounts.")
    delinquencies: list[Delinquency] = strawberry.field(description="Late payments.")
    current_delinquencies: int = strawberry.field(description="Delinquencies not yet cured.")
    inquiries: list[CreditInquiry] = strawberry.field(description="Recent pulls by others.")
    fraud_alerts: list[BureauFraudAlert] = strawberry.field(description="Identity warnings.")

    @classmethod
    def of(cls, stored: dict[str, Any]) -> CreditReport:
        report = report_from_json(stored)
        return cls(
            report_id=report.report_id,
            generated_at=report.generated_at,
            file=report.file,
            score=report.score,
            score_model=report.score_model,
            debts=[
                OpenDebt(
                    kind=d.kind,
                    lender=d.lender,
                    balance=MoneyType.of(d.balance),
                    monthly_payment=MoneyType.of(d.monthly_payment),
                    credit_limit=None if d.credit_limit is None else MoneyType.of(d.credit_limit),
                    opened_on=d.opened_on,
                )
                for d in report.debts
            ],
            delinquencies=[
                Delinquency(
                    account_kind=d.account_kind,
                    days_past_due=d.days_past_due,
                    amount_past_due=MoneyType.of(d.amount_past_due),
                    reported_on=d.reported_on,
                    current=d.current,
                )
                for d in report.delinquencies
            ],
            current_delinquencies=len(report.current_delinquencies),
            inquiries=[
                CreditInquiry(inquirer=i.inquirer, reason=i.reason, inquired_on=i.inquired_on)
                for i in report.inquiries
            ],
            fraud_alerts=[
                BureauFraudAlert(code=a.code, reported_on=a.reported_on)
                for a in report.fraud_alerts
            ],
        )


@strawberry.type(description="The applicant's identity verification, as the verifier gave it.")
class IdentityVerification:
    verification_id: str = strawberry.field(description="The verifier's reference.")
    checked_at: datetime = strawberry.field(description="When it was checked.")
    verified: bool = strawberry.field(description="Every check passed and no fraud alert stands.")
    id_number_valid: bool = strawberry.field(description="The resident ID is in the register.")
    name_matches: bool = strawberry.field(description="The register's name is the name given.")
    liveness_passed: bool = strawberry.field(description="The face capture passed.")
    liveness_score: str = strawberry.field(
        description='The verifier\'s liveness confidence, a decimal from 0 to 1, e.g. "0.97".'
    )
    fraud_alerts: list[str] = strawberry.field(description="Reasons to suspect fraud.")

    @classmethod
    def of(cls, stored: dict[str, Any]) -> IdentityVerification:
        result = verification_from_json(stored)
        return cls(
            verification_id=result.verification_id,
            checked_at=result.checked_at,
            verified=result.verified,
            id_number_valid=result.id_number_valid,
            name_matches=result.name_matches,
            liveness_passed=result.liveness_passed,
            liveness_score=str(result.liveness_score),
            fraud_alerts=list(result.fraud_alerts),
        )


Recommendation = strawberry.enum(
    scorecard.Recommendation,
    name="RiskRecommendation",
    description="The scorecard's verdict: APPROVE (every rule passed), REFER (data missing "
    "to judge a rule) or DECLINE (a rule failed).",
)
RuleCode = strawberry.enum(
    scorecard.RuleCode,
    name="RiskRuleCode",
    description="A scorecard rule: IDENTITY, FRAUD, BUREAU_SCORE, CREDIT_SCORE_MINIMUM, "
    "CURRENT_DELINQUENCIES, DEBT_TO_INCOME, LTV, CORE_ENTERPRISE_EXPOSURE.",
)
RuleOutcome = strawberry.enum(
    scorecard.RuleOutcome,
    name="RiskRuleOutcome",
    description="PASS, FAIL, or UNKNOWN when the data to judge the rule is missing.",
)


@strawberry.type(description="One rule of the scorecard as it judged the deal.")
class RiskRuleResult:
    code: RuleCode = strawberry.field(description="The rule.")  # type: ignore[valid-type]
    outcome: RuleOutcome = strawberry.field(description="How it judged.")  # type: ignore[valid-type]
    observed: str | None = strawberry.field(
        description='What was observed, e.g. "612", "48.25%", "CNY 1,200.00".'
    )
    limit: str | None = strawberry.field(description="The product's limit, likewise.")
    detail: str = strawberry.field(description="One sentence for the reviewer.")


@strawberry.type(
    description="The scorecard's verdict on the deal's latest submission, made once every "
    "risk check was final."
)
class RiskAssessment:
    recommendation: Recommendation = strawberry.field(description="The verdict.")  # type: ignore[valid-type]
    auto_approved: bool = strawberry.field(
        description="The first review was approved by the system (a consumer loan below the "
        "product's automatic approval limit on which every rule passed)."
    )
    assessed_at: datetime = strawberry.field(description="When it was made.")
    results: list[RiskRuleResult] = strawberry.field(description="Each rule evaluated.")
    reasons: list[RiskRuleResult] = strawberry.field(
        description="The rules that failed or could not be judged."
    )

    @classmethod
    def of(cls, row: Any) -> RiskAssessment:
        results = [
            RiskRuleResult(
                code=scorecard.RuleCode(r["code"]),
                outcome=scorecard.RuleOutcome(r["outcome"]),
                observed=r["observed"],
                limit=r["limit"],
                detail=r["detail"],
            )
            for r in row.results
        ]
        return cls(
            recommendation=scorecard.Recommendation(row.recommendation),
            auto_approved=row.auto_approved,
            assessed_at=row.created_at,
            results=results,
            reasons=[r for r in results if r.outcome is not scorecard.RuleOutcome.PASS],
        )
