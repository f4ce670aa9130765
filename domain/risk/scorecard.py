"""The risk scorecard: a deal's facts judged against its product version's rules. Pure: no I/O,
no clock, no provider names.

:func:`evaluate` checks the rules below and returns one :class:`RuleResult` per rule it
evaluated, in :class:`RuleCode` order. A rule's outcome is PASS, FAIL, or UNKNOWN when the data
needed to judge it is missing (a failed provider call, a thin file, no declared income, no
valuation) or cannot be compared (amounts in different currencies). A rule whose limit is not
configured (``None`` in :class:`ScorecardRules`) is not evaluated and is absent from the
results, except IDENTITY and FRAUD, which have no limit and always apply.

Rules:

* IDENTITY, only when ``identity_required``: UNKNOWN without a verification (the call failed
  for good); FAIL when the resident ID is not in the register, the name does not match it or
  the liveness check failed; PASS otherwise. A verification refused only for fraud alerts passes
  here: the alerts are FRAUD's to judge, so one cause is not reported twice.
* FRAUD, always: FAIL when the credit report or the identity verification carries any fraud
  alert (one source is enough, even when the other is missing); UNKNOWN only when both are
  missing; PASS otherwise.
* BUREAU_SCORE (``min_bureau_score``) and CREDIT_SCORE_MINIMUM (``min_credit_score``, for
  CONSUMER_CREDIT only), both applied to the bureau score: UNKNOWN without a report or
  without a score (a thin file); FAIL when ``score < minimum``; a score equal to the minimum
  passes.
* CURRENT_DELINQUENCIES (``max_current_delinquencies``, every line): the number of
  delinquencies not yet cured; FAIL when ``count > max``; UNKNOWN without a report.
* DEBT_TO_INCOME (``max_debt_to_income_bps``, CONSUMER_CREDIT only) ::

      dti_bps = round_half_up(monthly debt service x 10 000 / declared monthly income)

  in exact integer arithmetic on minor units, rounded half-up (ties up) to whole basis points.
  The debt service is that of the report's open debts only: the new loan's instalment depends
  on terms not fixed at this point. FAIL when ``dti_bps > max``; exactly at the maximum passes.
  UNKNOWN without a report, without a declared income, when the income is not positive (no
  ratio exists) or when a debt is in another currency than the income.
* LTV (``max_ltv_bps``, WAREHOUSE_RECEIPT_PLEDGE only) ::

      ltv_bps = round_half_up(requested x 10 000 / collateral value)

  the same way; FAIL when ``ltv_bps > max``. UNKNOWN without a valuation, when the valuation
  is not positive or when it is in another currency than the request.
* CORE_ENTERPRISE_EXPOSURE (``max_core_enterprise_exposure``, ORDER_FINANCING only): the
  funder's open exposure on the core enterprise, this request included; FAIL when
  ``exposure > max`` (equal passes). UNKNOWN without the exposure or when it is in another
  currency than the maximum.

Recommendation: DECLINE when any rule fails, otherwise REFER when any is UNKNOWN, otherwise
APPROVE. A failure is decisive on its own, so missing data elsewhere does not soften it.

``auto_approve`` is true only for CONSUMER_CREDIT, with the recommendation APPROVE,
``auto_approve_below`` configured, in the request's currency, and the requested amount
strictly below it (an amount equal to it goes to a reviewer).

Displayed values: scores and counts as integers (``"612"``), ratios as percentages with two
decimals (``"48.25%"`` for 4825 bps), amounts as ``"CNY 1,200.00"``. ``observed`` is ``None``
when nothing could be observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from domain.kernel.money import Money, round_ratio
from domain.products.models import ProductLine
from domain.risk.ports import CreditFile, CreditReport, IdentityVerification

__all__ = [
    "Assessment",
    "DealFacts",
    "Recommendation",
    "RuleCode",
    "RuleOutcome",
    "RuleResult",
    "ScorecardRules",
    "evaluate",
    "format_bps",
    "format_money",
]

#: Basis points in one whole (100 %).
BPS_PER_UNIT: Final[int] = 10_000


class RuleCode(StrEnum):
    """The scorecard's rules, in the order they are evaluated and reported."""

    IDENTITY = "IDENTITY"
    FRAUD = "FRAUD"
    BUREAU_SCORE = "BUREAU_SCORE"
    CREDIT_SCORE_MINIMUM = "CREDIT_SCORE_MINIMUM"
    CURRENT_DELINQUENCIES = "CURRENT_DELINQUENCIES"
    DEBT_TO_INCOME = "DEBT_TO_INCOME"
    LTV = "LTV"
    CORE_ENTERPRISE_EXPOSURE = "CORE_ENTERPRISE_EXPOSURE"


class Recommendation(StrEnum):
    """What the scorecard suggests to the reviewer."""

    APPROVE = "APPROVE"
    REFER = "REFER"
    DECLINE = "DECLINE"


class RuleOutcome(StrEnum):
    """One rule's verdict."""

    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    #: The data needed to judge the rule is missing or not comparable.
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class ScorecardRules:
    """A product version's scorecard configuration. ``None``: the rule is not configured and
    is skipped."""

    min_bureau_score: int | None = None
    #: The consumer product's own credit-score minimum, applied to the bureau score
    #: (CONSUMER_CREDIT only).
    min_credit_score: int | None = None
    max_current_delinquencies: int | None = None
    #: Basis points: 5000 is 50 %.
    max_debt_to_income_bps: int | None = None
    #: Requested amount over collateral value, in basis points.
    max_ltv_bps: int | None = None
    max_core_enterprise_exposure: Money | None = None
    #: CONSUMER_CREDIT only: an approved request strictly below this is approved automatically.
    auto_approve_below: Money | None = None


@dataclass(frozen=True, slots=True)
class DealFacts:
    """What is known about a deal when it is scored."""

    line: ProductLine
    requested: Money
    #: ``None``: the bureau call failed for good.
    report: CreditReport | None
    #: ``None``: not applicable (an organisation) or the call failed; see ``identity_required``.
    identity: IdentityVerification | None
    identity_required: bool
    #: Declared monthly income (consumer); ``None`` if not declared.
    monthly_income: Money | None
    #: The pledged goods' value (warehouse receipt); ``None`` if not valued.
    collateral_value: Money | None
    #: The funder's open exposure on the deal's core enterprise, this request included (order
    #: financing); ``None`` if not applicable or not known.
    core_enterprise_exposure: Money | None


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict with what was observed, the limit it was held against (both as
    displayed to a reviewer) and one sentence explaining it."""

    code: RuleCode
    outcome: RuleOutcome
    observed: str | None
    limit: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Assessment:
    """The scorecard's answer for a deal."""

    recommendation: Recommendation
    #: One per rule evaluated, in :class:`RuleCode` order.
    results: tuple[RuleResult, ...]
    auto_approve: bool

    @property
    def reasons(self) -> tuple[RuleResult, ...]:
        """The results behind a DECLINE or REFER: the FAIL and UNKNOWN ones, in order."""
        return tuple(r for r in self.results if r.outcome is not RuleOutcome.PASS)


# -- display ------------------------------------------------------------------------------------


def format_money(amount: Money) -> str:
    """``"CNY 1,200.00"``: the currency, then the amount with thousands separators and exactly
    the currency's decimals."""
    text = amount.to_decimal_string()
    sign = "-" if text.startswith("-") else ""
    whole, dot, fraction = text.lstrip("-").partition(".")
    return f"{amount.currency} {sign}{int(whole):,}{dot}{fraction}"


def format_bps(bps: int) -> str:
    """Basis points as a percentage with two decimals: 4825 -> ``"48.25%"``."""
    sign = "-" if bps < 0 else ""
    whole, hundredths = divmod(abs(bps), 100)
    return f"{sign}{whole}.{hundredths:02d}%"


# -- rules --------------------------------------------------------------------------------------


def _identity(facts: DealFacts) -> RuleResult:
    verification = facts.identity
    if verification is None:
        return RuleResult(
            RuleCode.IDENTITY,
            RuleOutcome.UNKNOWN,
            None,
            None,
            "No identity verification is available: the verification did not complete.",
        )
    failed = [
        check
        for check, passed in (
            ("resident ID not in the register", verification.id_number_valid),
            ("name does not match the register", verification.name_matches),
            ("liveness check failed", verification.liveness_passed),
        )
        if not passed
    ]
    if failed:
        return RuleResult(
            RuleCode.IDENTITY,
            RuleOutcome.FAIL,
            "; ".join(failed),
            None,
            f"The applicant's identity is not verified: {'; '.join(failed)}.",
        )
    return RuleResult(
        RuleCode.IDENTITY,
        RuleOutcome.PASS,
        "all checks passed",
        None,
        "The resident ID, the name and the liveness check were all verified.",
    )


def _fraud(facts: DealFacts) -> RuleResult:
    report, verification = facts.report, facts.identity
    found: list[str] = []
    if report is not None and report.fraud_alerts:
        found.append("bureau: " + ", ".join(a.code for a in report.fraud_alerts))
    if verification is not None and verification.fraud_alerts:
        found.append("identity: " + ", ".join(verification.fraud_alerts))
    if found:
        return RuleResult(
            RuleCode.FRAUD,
            RuleOutcome.FAIL,
            "; ".join(found),
            None,
            f"A fraud alert stands against the applicant ({'; '.join(found)}).",
        )
    if report is None and verification is None:
        return RuleResult(
            RuleCode.FRAUD,
            RuleOutcome.UNKNOWN,
            None,
            None,
            "Neither a credit report nor an identity verification is available to check for "
            "fraud alerts.",
        )
    checked = " and ".join(
        name
        for name, present in (
            ("credit report", report is not None),
            ("identity verification", verification is not None),
        )
        if present
    )
    return RuleResult(
        RuleCode.FRAUD,
        RuleOutcome.PASS,
        "none",
        None,
        f"The {checked} carries no fraud alert.",
    )


def _score(code: RuleCode, minimum: int, report: CreditReport | None) -> RuleResult:
    limit = str(minimum)
    if report is None:
        return RuleResult(
            code, RuleOutcome.UNKNOWN, None, limit, "No credit report is available to score."
        )
    if report.score is None:
        why = (
            "the bureau holds too little history to score (thin file)"
            if report.file is CreditFile.THIN
            else "the bureau returned no score"
        )
        return RuleResult(code, RuleOutcome.UNKNOWN, None, limit, f"No credit score: {why}.")
    observed = str(report.score)
    if report.score < minimum:
        return RuleResult(
            code,
            RuleOutcome.FAIL,
            observed,
            limit,
            f"The credit score {report.score} is below the minimum of {minimum}.",
        )
    return RuleResult(
        code,
        RuleOutcome.PASS,
        observed,
        limit,
        f"The credit score {report.score} meets the minimum of {minimum}.",
    )


def _delinquencies(maximum: int, report: CreditReport | None) -> RuleResult:
    code, limit = RuleCode.CURRENT_DELINQUENCIES, str(maximum)
    if report is None:
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            "No credit report is available to count delinquencies.",
        )
    count = len(report.current_delinquencies)
    if count > maximum:
        return RuleResult(
            code,
            RuleOutcome.FAIL,
            str(count),
            limit,
            f"{count} delinquencies are still unpaid, more than the {maximum} allowed.",
        )
    return RuleResult(
        code,
        RuleOutcome.PASS,
        str(count),
        limit,
        f"{count} delinquencies are still unpaid, within the {maximum} allowed.",
    )


def _ratio_bps(numerator: Money, denominator: Money) -> int:
    # Exact: minor units are integers, and round_ratio rounds the true quotient half-up.
    return round_ratio(numerator.amount_minor * BPS_PER_UNIT, denominator.amount_minor)


def _ratio_verdict(code: RuleCode, bps: int, maximum: int, what: str) -> RuleResult:
    observed, limit = format_bps(bps), format_bps(maximum)
    if bps > maximum:
        return RuleResult(
            code,
            RuleOutcome.FAIL,
            observed,
            limit,
            f"The {what} of {observed} is above the maximum of {limit}.",
        )
    return RuleResult(
        code,
        RuleOutcome.PASS,
        observed,
        limit,
        f"The {what} of {observed} is within the maximum of {limit}.",
    )


def _debt_to_income(maximum: int, facts: DealFacts) -> RuleResult:
    code, limit = RuleCode.DEBT_TO_INCOME, format_bps(maximum)
    report, income = facts.report, facts.monthly_income
    if report is None:
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            "No credit report is available for the existing debt service.",
        )
    if income is None:
        return RuleResult(code, RuleOutcome.UNKNOWN, None, limit, "No monthly income was declared.")
    if not income.is_positive():
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            f"The declared monthly income of {format_money(income)} is not positive, so no "
            "debt-to-income ratio exists.",
        )
    foreign = sorted({d.monthly_payment.currency for d in report.debts} - {income.currency})
    if foreign:
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            f"Debts in {', '.join(foreign)} cannot be compared with the income declared in "
            f"{income.currency}.",
        )
    bps = _ratio_bps(report.monthly_debt_service(income.currency), income)
    return _ratio_verdict(code, bps, maximum, "debt-to-income ratio (existing debts)")


def _ltv(maximum: int, facts: DealFacts) -> RuleResult:
    code, limit = RuleCode.LTV, format_bps(maximum)
    value, requested = facts.collateral_value, facts.requested
    if value is None:
        return RuleResult(
            code, RuleOutcome.UNKNOWN, None, limit, "The pledged goods have not been valued."
        )
    if value.currency != requested.currency:
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            f"The collateral is valued in {value.currency} and the request is in "
            f"{requested.currency}: they cannot be compared.",
        )
    if not value.is_positive():
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            f"The collateral value of {format_money(value)} is not positive, so no "
            "loan-to-value ratio exists.",
        )
    return _ratio_verdict(code, _ratio_bps(requested, value), maximum, "loan-to-value ratio")


def _exposure(maximum: Money, facts: DealFacts) -> RuleResult:
    code, limit = RuleCode.CORE_ENTERPRISE_EXPOSURE, format_money(maximum)
    exposure = facts.core_enterprise_exposure
    if exposure is None:
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            None,
            limit,
            "The funder's exposure on the core enterprise is not known.",
        )
    observed = format_money(exposure)
    if exposure.currency != maximum.currency:
        return RuleResult(
            code,
            RuleOutcome.UNKNOWN,
            observed,
            limit,
            f"The exposure is in {exposure.currency} and the maximum in {maximum.currency}: "
            "they cannot be compared.",
        )
    if exposure > maximum:
        return RuleResult(
            code,
            RuleOutcome.FAIL,
            observed,
            limit,
            f"The exposure on the core enterprise, this request included, of {observed} is "
            f"above the maximum of {limit}.",
        )
    return RuleResult(
        code,
        RuleOutcome.PASS,
        observed,
        limit,
        f"The exposure on the core enterprise, this request included, of {observed} is "
        f"within the maximum of {limit}.",
    )


# -- the scorecard ------------------------------------------------------------------------------


def _results(rules: ScorecardRules, facts: DealFacts) -> tuple[RuleResult, ...]:
    # Appended in RuleCode order: each rule that applies to this line and is configured.
    consumer = facts.line is ProductLine.CONSUMER_CREDIT
    results: list[RuleResult] = []
    if facts.identity_required:
        results.append(_identity(facts))
    results.append(_fraud(facts))
    if rules.min_bureau_score is not None:
        results.append(_score(RuleCode.BUREAU_SCORE, rules.min_bureau_score, facts.report))
    if consumer and rules.min_credit_score is not None:
        results.append(_score(RuleCode.CREDIT_SCORE_MINIMUM, rules.min_credit_score, facts.report))
    if rules.max_current_delinquencies is not None:
        results.append(_delinquencies(rules.max_current_delinquencies, facts.report))
    if consumer and rules.max_debt_to_income_bps is not None:
        results.append(_debt_to_income(rules.max_debt_to_income_bps, facts))
    if facts.line is ProductLine.WAREHOUSE_RECEIPT_PLEDGE and rules.max_ltv_bps is not None:
        results.append(_ltv(rules.max_ltv_bps, facts))
    if facts.line is ProductLine.ORDER_FINANCING and rules.max_core_enterprise_exposure is not None:
        results.append(_exposure(rules.max_core_enterprise_exposure, facts))
    return tuple(results)


def _recommendation(results: tuple[RuleResult, ...]) -> Recommendation:
    outcomes = {r.outcome for r in results}
    if RuleOutcome.FAIL in outcomes:
        return Recommendation.DECLINE
    if RuleOutcome.UNKNOWN in outcomes:
        return Recommendation.REFER
    return Recommendation.APPROVE


def _auto_approve(rules: ScorecardRules, facts: DealFacts, recommendation: Recommendation) -> bool:
    threshold = rules.auto_approve_below
    return (
        facts.line is ProductLine.CONSUMER_CREDIT
        and recommendation is Recommendation.APPROVE
        and threshold is not None
        and threshold.currency == facts.requested.currency
        and facts.requested < threshold
    )


def evaluate(rules: ScorecardRules, facts: DealFacts) -> Assessment:
    """Judge ``facts`` against ``rules`` (see the module docstring for every rule, the
    recommendation and auto-approval). Never raises for missing or incomparable data: such a
    rule is UNKNOWN."""
    results = _results(rules, facts)
    recommendation = _recommendation(results)
    return Assessment(
        recommendation=recommendation,
        results=results,
        auto_approve=_auto_approve(rules, facts, recommendation),
    )
