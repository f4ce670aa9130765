"""The risk scorecard: each rule's PASS / FAIL / UNKNOWN, its boundaries and rounding, the
recommendation's precedence and auto-approval. Expected values are worked out by hand in the
comments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from domain.kernel.money import Money
from domain.products.models import ProductLine
from domain.risk.ports import (
    CreditFile,
    CreditReport,
    DebtKind,
    Delinquency,
    FraudAlert,
    IdentityVerification,
    OpenDebt,
)
from domain.risk.scorecard import (
    Assessment,
    DealFacts,
    Recommendation,
    RuleCode,
    RuleOutcome,
    RuleResult,
    ScorecardRules,
    evaluate,
    format_bps,
    format_money,
)

PASS, FAIL, UNKNOWN = RuleOutcome.PASS, RuleOutcome.FAIL, RuleOutcome.UNKNOWN
CONSUMER = ProductLine.CONSUMER_CREDIT
ORDER = ProductLine.ORDER_FINANCING
WAREHOUSE = ProductLine.WAREHOUSE_RECEIPT_PLEDGE


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def debt(monthly_minor: int, currency: str = "CNY") -> OpenDebt:
    return OpenDebt(
        kind=DebtKind.CONSUMER_LOAN,
        lender="Bank",
        balance=Money(monthly_minor * 12, currency),
        monthly_payment=Money(monthly_minor, currency),
        opened_on=date(2024, 1, 1),
    )


def delinquency(*, current: bool) -> Delinquency:
    return Delinquency(
        account_kind=DebtKind.CREDIT_CARD,
        days_past_due=35,
        amount_past_due=cny(50_000),
        reported_on=date(2026, 11, 1),
        current=current,
    )


def report(
    score: int | None = 700,
    *,
    file: CreditFile = CreditFile.FULL,
    debts: tuple[OpenDebt, ...] = (),
    delinquencies: tuple[Delinquency, ...] = (),
    fraud: tuple[str, ...] = (),
) -> CreditReport:
    return CreditReport(
        report_id="RPT-1",
        request_id="req-1",
        generated_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
        file=file,
        score=score,
        score_model=None if score is None else "bureau-v5",
        debts=debts,
        delinquencies=delinquencies,
        fraud_alerts=tuple(FraudAlert(code=c, reported_on=date(2026, 6, 1)) for c in fraud),
    )


def identity(
    *,
    id_valid: bool = True,
    name: bool = True,
    liveness: bool = True,
    fraud: tuple[str, ...] = (),
) -> IdentityVerification:
    return IdentityVerification(
        verification_id="IDV-1",
        request_id="req-2",
        checked_at=datetime(2026, 12, 4, 9, 1, tzinfo=UTC),
        id_number_valid=id_valid,
        name_matches=name,
        liveness_passed=liveness,
        liveness_score=Decimal("0.97") if liveness else Decimal("0.20"),
        fraud_alerts=fraud,
    )


def consumer(**changes: object) -> DealFacts:
    """A clean consumer deal: verified person, score 700, no debts, income CNY 10,000.00."""
    facts = DealFacts(
        line=CONSUMER,
        requested=cny(2_000_000),
        report=report(),
        identity=identity(),
        identity_required=True,
        monthly_income=cny(1_000_000),
        collateral_value=None,
        core_enterprise_exposure=None,
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def organisation(line: ProductLine, **changes: object) -> DealFacts:
    """A clean organisation deal: no identity check, score 700."""
    facts = DealFacts(
        line=line,
        requested=cny(10_000_000),
        report=report(),
        identity=None,
        identity_required=False,
        monthly_income=None,
        collateral_value=None,
        core_enterprise_exposure=None,
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def result(assessment: Assessment, code: RuleCode) -> RuleResult:
    matches = [r for r in assessment.results if r.code is code]
    assert len(matches) == 1, [r.code for r in assessment.results]
    return matches[0]


def codes(assessment: Assessment) -> list[RuleCode]:
    return [r.code for r in assessment.results]


NO_RULES = ScorecardRules()


# -- display ------------------------------------------------------------------------------------


def test_money_and_ratios_are_displayed_for_a_reviewer() -> None:
    assert format_money(cny(120_000)) == "CNY 1,200.00"
    assert format_money(cny(5)) == "CNY 0.05"
    assert format_money(cny(-123_456_789)) == "CNY -1,234,567.89"
    assert format_money(Money(1_500_000, "JPY")) == "JPY 1,500,000"
    assert format_bps(4825) == "48.25%"
    assert format_bps(5) == "0.05%"
    assert format_bps(10_000) == "100.00%"


# -- identity -----------------------------------------------------------------------------------


def test_a_verified_identity_passes() -> None:
    got = result(evaluate(NO_RULES, consumer()), RuleCode.IDENTITY)
    assert got.outcome is PASS
    assert got.observed == "all checks passed"


def test_a_missing_verification_is_unknown_and_refers() -> None:
    assessment = evaluate(NO_RULES, consumer(identity=None))
    assert result(assessment, RuleCode.IDENTITY).outcome is UNKNOWN
    # The report is there and clean, so FRAUD can still be judged.
    assert result(assessment, RuleCode.FRAUD).outcome is PASS
    assert assessment.recommendation is Recommendation.REFER


def test_each_failed_check_fails_identity() -> None:
    for verification, observed in (
        (identity(id_valid=False), "resident ID not in the register"),
        (identity(name=False), "name does not match the register"),
        (identity(liveness=False), "liveness check failed"),
        (
            identity(name=False, liveness=False),
            "name does not match the register; liveness check failed",
        ),
    ):
        assessment = evaluate(NO_RULES, consumer(identity=verification))
        got = result(assessment, RuleCode.IDENTITY)
        assert (got.outcome, got.observed) == (FAIL, observed)
        assert assessment.recommendation is Recommendation.DECLINE


def test_identity_not_required_for_an_organisation_gives_no_identity_result() -> None:
    assessment = evaluate(NO_RULES, organisation(ORDER))
    assert codes(assessment) == [RuleCode.FRAUD]
    assert assessment.recommendation is Recommendation.APPROVE


# -- fraud --------------------------------------------------------------------------------------


def test_fraud_on_the_identity_only_declines_and_identity_itself_passes() -> None:
    # Every identity check passed; only the verifier's alert stands. It is FRAUD's failure,
    # not reported a second time under IDENTITY.
    verification = identity(fraud=("ID_REPORTED_STOLEN",))
    assert not verification.verified
    assessment = evaluate(NO_RULES, consumer(identity=verification))
    assert result(assessment, RuleCode.IDENTITY).outcome is PASS
    fraud = result(assessment, RuleCode.FRAUD)
    assert (fraud.outcome, fraud.observed) == (FAIL, "identity: ID_REPORTED_STOLEN")
    assert assessment.recommendation is Recommendation.DECLINE
    assert assessment.reasons == (fraud,)


def test_fraud_on_the_report_declines() -> None:
    assessment = evaluate(NO_RULES, consumer(report=report(fraud=("SYNTHETIC_ID",))))
    fraud = result(assessment, RuleCode.FRAUD)
    assert (fraud.outcome, fraud.observed) == (FAIL, "bureau: SYNTHETIC_ID")
    assert assessment.recommendation is Recommendation.DECLINE


def test_fraud_alerts_of_both_sources_are_shown() -> None:
    facts = consumer(report=report(fraud=("A", "B")), identity=identity(fraud=("C",)))
    fraud = result(evaluate(NO_RULES, facts), RuleCode.FRAUD)
    assert fraud.observed == "bureau: A, B; identity: C"


def test_fraud_is_judged_on_the_identity_when_the_report_is_missing() -> None:
    facts = consumer(report=None)
    assert result(evaluate(NO_RULES, facts), RuleCode.FRAUD).outcome is PASS
    facts = consumer(report=None, identity=identity(fraud=("X",)))
    assert result(evaluate(NO_RULES, facts), RuleCode.FRAUD).outcome is FAIL


def test_fraud_alert_fails_even_when_the_other_source_is_missing() -> None:
    facts = organisation(ORDER, report=report(fraud=("SHELL_COMPANY",)))
    assessment = evaluate(NO_RULES, facts)
    assert result(assessment, RuleCode.FRAUD).outcome is FAIL
    assert assessment.recommendation is Recommendation.DECLINE


def test_fraud_is_unknown_only_without_report_and_identity() -> None:
    assessment = evaluate(NO_RULES, organisation(ORDER, report=None))
    fraud = result(assessment, RuleCode.FRAUD)
    assert (fraud.outcome, fraud.observed) == (UNKNOWN, None)
    assert assessment.recommendation is Recommendation.REFER


# -- scores -------------------------------------------------------------------------------------


def test_bureau_score_at_the_minimum_passes_and_one_below_fails() -> None:
    rules = ScorecardRules(min_bureau_score=620)
    at = result(evaluate(rules, consumer(report=report(620))), RuleCode.BUREAU_SCORE)
    assert (at.outcome, at.observed, at.limit) == (PASS, "620", "620")
    below = result(evaluate(rules, consumer(report=report(619))), RuleCode.BUREAU_SCORE)
    assert (below.outcome, below.observed, below.limit) == (FAIL, "619", "620")


def test_a_thin_file_is_unknown_and_refers() -> None:
    rules = ScorecardRules(min_bureau_score=600)
    assessment = evaluate(rules, consumer(report=report(None, file=CreditFile.THIN)))
    got = result(assessment, RuleCode.BUREAU_SCORE)
    assert (got.outcome, got.observed, got.limit) == (UNKNOWN, None, "600")
    assert "thin file" in got.detail
    assert assessment.recommendation is Recommendation.REFER
    assert assessment.reasons == (got,)


def test_a_missing_report_makes_the_score_unknown() -> None:
    rules = ScorecardRules(min_bureau_score=600)
    got = result(evaluate(rules, consumer(report=None)), RuleCode.BUREAU_SCORE)
    assert got.outcome is UNKNOWN


def test_the_consumer_credit_score_minimum_applies_to_the_bureau_score() -> None:
    rules = ScorecardRules(min_bureau_score=550, min_credit_score=650)
    assessment = evaluate(rules, consumer(report=report(640)))
    assert result(assessment, RuleCode.BUREAU_SCORE).outcome is PASS
    got = result(assessment, RuleCode.CREDIT_SCORE_MINIMUM)
    assert (got.outcome, got.observed, got.limit) == (FAIL, "640", "650")
    at = result(evaluate(rules, consumer(report=report(650))), RuleCode.CREDIT_SCORE_MINIMUM)
    assert at.outcome is PASS
    thin = evaluate(rules, consumer(report=report(None, file=CreditFile.THIN)))
    assert result(thin, RuleCode.CREDIT_SCORE_MINIMUM).outcome is UNKNOWN


def test_the_credit_score_minimum_is_consumer_only() -> None:
    rules = ScorecardRules(min_credit_score=650)
    assessment = evaluate(rules, organisation(ORDER, report=report(500)))
    assert codes(assessment) == [RuleCode.FRAUD]
    assert assessment.recommendation is Recommendation.APPROVE


# -- delinquencies ------------------------------------------------------------------------------


def test_only_current_delinquencies_count() -> None:
    rules = ScorecardRules(max_current_delinquencies=1)
    # One uncured and two cured: 1 current, at the maximum.
    at = report(
        delinquencies=(
            delinquency(current=True),
            delinquency(current=False),
            delinquency(current=False),
        )
    )
    got = result(evaluate(rules, consumer(report=at)), RuleCode.CURRENT_DELINQUENCIES)
    assert (got.outcome, got.observed, got.limit) == (PASS, "1", "1")
    over = report(delinquencies=(delinquency(current=True), delinquency(current=True)))
    got = result(evaluate(rules, consumer(report=over)), RuleCode.CURRENT_DELINQUENCIES)
    assert (got.outcome, got.observed, got.limit) == (FAIL, "2", "1")


def test_delinquencies_apply_to_organisations_and_need_a_report() -> None:
    rules = ScorecardRules(max_current_delinquencies=0)
    facts = organisation(WAREHOUSE, report=report(delinquencies=(delinquency(current=True),)))
    assert result(evaluate(rules, facts), RuleCode.CURRENT_DELINQUENCIES).outcome is FAIL
    facts = organisation(WAREHOUSE, report=None)
    assert result(evaluate(rules, facts), RuleCode.CURRENT_DELINQUENCIES).outcome is UNKNOWN


# -- debt to income -----------------------------------------------------------------------------


def dti(max_bps: int, income_minor: int, *payments: int) -> RuleResult:
    facts = consumer(
        monthly_income=cny(income_minor), report=report(debts=tuple(debt(p) for p in payments))
    )
    return result(
        evaluate(ScorecardRules(max_debt_to_income_bps=max_bps), facts), RuleCode.DEBT_TO_INCOME
    )


def test_dti_exactly_at_the_maximum_passes_and_one_bps_over_fails() -> None:
    # 3,000.00 + 2,000.00 over 10,000.00 = 50.00% = 5000 bps.
    at = dti(5000, 1_000_000, 300_000, 200_000)
    assert (at.outcome, at.observed, at.limit) == (PASS, "50.00%", "50.00%")
    # 5,001.00 over 10,000.00 = 5001 bps.
    over = dti(5000, 1_000_000, 300_000, 200_100)
    assert (over.outcome, over.observed) == (FAIL, "50.01%")


def test_dti_rounds_half_up_to_whole_basis_points() -> None:
    # 100.00 / 300.00 = 3333.33... bps -> 3333: at a 3333 cap it passes (rounding up would fail).
    third = dti(3333, 30_000, 10_000)
    assert (third.outcome, third.observed) == (PASS, "33.33%")
    # 200.00 / 300.00 = 6666.66... bps -> 6667: over a 6666 cap (truncating would pass).
    two_thirds = dti(6666, 30_000, 20_000)
    assert (two_thirds.outcome, two_thirds.observed) == (FAIL, "66.67%")
    # 100.01 / 200.00 = 5000.5 bps, a tie -> 5001 (half-even would give 5000 and pass).
    tie = dti(5000, 20_000, 10_001)
    assert (tie.outcome, tie.observed) == (FAIL, "50.01%")


def test_dti_without_debts_is_zero() -> None:
    got = dti(4000, 1_000_000)
    assert (got.outcome, got.observed) == (PASS, "0.00%")


def test_dti_is_unknown_without_income_or_report() -> None:
    rules = ScorecardRules(max_debt_to_income_bps=5000)
    no_income = evaluate(rules, consumer(monthly_income=None))
    got = result(no_income, RuleCode.DEBT_TO_INCOME)
    assert (got.outcome, got.observed, got.limit) == (UNKNOWN, None, "50.00%")
    assert no_income.recommendation is Recommendation.REFER
    no_report = result(evaluate(rules, consumer(report=None)), RuleCode.DEBT_TO_INCOME)
    assert no_report.outcome is UNKNOWN


def test_dti_is_unknown_for_a_zero_income() -> None:
    got = dti(5000, 0, 10_000)
    assert got.outcome is UNKNOWN


def test_dti_with_a_debt_in_another_currency_is_unknown_not_an_error() -> None:
    rules = ScorecardRules(max_debt_to_income_bps=5000)
    facts = consumer(report=report(debts=(debt(10_000), debt(5_000, "USD"))))
    got = result(evaluate(rules, facts), RuleCode.DEBT_TO_INCOME)
    assert got.outcome is UNKNOWN
    assert "USD" in got.detail and "CNY" in got.detail


def test_dti_is_consumer_only() -> None:
    rules = ScorecardRules(max_debt_to_income_bps=1)
    facts = organisation(ORDER, monthly_income=cny(100), report=report(debts=(debt(1_000_000),)))
    assert codes(evaluate(rules, facts)) == [RuleCode.FRAUD]


# -- loan to value ------------------------------------------------------------------------------


def ltv(max_bps: int, requested_minor: int, value: Money | None) -> RuleResult:
    facts = organisation(WAREHOUSE, requested=cny(requested_minor), collateral_value=value)
    return result(evaluate(ScorecardRules(max_ltv_bps=max_bps), facts), RuleCode.LTV)


def test_ltv_at_the_maximum_passes_and_one_bps_over_fails() -> None:
    # 70,000.00 / 100,000.00 = 7000 bps.
    at = ltv(7000, 7_000_000, cny(10_000_000))
    assert (at.outcome, at.observed, at.limit) == (PASS, "70.00%", "70.00%")
    # 70,010.00 / 100,000.00 = 7001 bps.
    over = ltv(7000, 7_001_000, cny(10_000_000))
    assert (over.outcome, over.observed) == (FAIL, "70.01%")


def test_ltv_rounds_half_up_to_whole_basis_points() -> None:
    # 1,000.00 / 3,000.00 = 3333.33... -> 3333 passes a 3333 cap.
    assert (ltv(3333, 100_000, cny(300_000)).outcome) is PASS
    # 2,000.00 / 3,000.00 = 6666.66... -> 6667 fails a 6666 cap.
    two_thirds = ltv(6666, 200_000, cny(300_000))
    assert (two_thirds.outcome, two_thirds.observed) == (FAIL, "66.67%")
    # 100.01 / 200.00 = 5000.5 -> 5001 fails a 5000 cap.
    assert ltv(5000, 10_001, cny(20_000)).outcome is FAIL


def test_ltv_is_unknown_without_a_usable_valuation() -> None:
    missing = ltv(7000, 100_000, None)
    assert (missing.outcome, missing.observed, missing.limit) == (UNKNOWN, None, "70.00%")
    foreign = ltv(7000, 100_000, Money(1_000_000, "USD"))
    assert foreign.outcome is UNKNOWN
    assert "USD" in foreign.detail and "CNY" in foreign.detail
    assert ltv(7000, 100_000, cny(0)).outcome is UNKNOWN


def test_ltv_is_warehouse_receipt_only() -> None:
    rules = ScorecardRules(max_ltv_bps=1)
    facts = organisation(ORDER, collateral_value=cny(1))
    assert codes(evaluate(rules, facts)) == [RuleCode.FRAUD]


# -- core enterprise exposure -------------------------------------------------------------------


def exposure(limit: Money, observed: Money | None) -> RuleResult:
    facts = organisation(ORDER, core_enterprise_exposure=observed)
    rules = ScorecardRules(max_core_enterprise_exposure=limit)
    return result(evaluate(rules, facts), RuleCode.CORE_ENTERPRISE_EXPOSURE)


def test_exposure_at_the_maximum_passes_and_one_fen_over_fails() -> None:
    at = exposure(cny(500_000_000), cny(500_000_000))
    assert (at.outcome, at.observed, at.limit) == (PASS, "CNY 5,000,000.00", "CNY 5,000,000.00")
    over = exposure(cny(500_000_000), cny(500_000_001))
    assert (over.outcome, over.observed) == (FAIL, "CNY 5,000,000.01")


def test_exposure_is_unknown_when_not_known_or_in_another_currency() -> None:
    assert exposure(cny(100), None).outcome is UNKNOWN
    foreign = exposure(cny(500_000_000), Money(100, "USD"))
    assert (foreign.outcome, foreign.observed) == (UNKNOWN, "USD 1.00")


def test_exposure_is_order_financing_only() -> None:
    rules = ScorecardRules(max_core_enterprise_exposure=cny(1))
    facts = organisation(WAREHOUSE, core_enterprise_exposure=cny(1_000_000))
    assert codes(evaluate(rules, facts)) == [RuleCode.FRAUD]


# -- recommendation and results -----------------------------------------------------------------

ALL_RULES = ScorecardRules(
    min_bureau_score=600,
    min_credit_score=650,
    max_current_delinquencies=0,
    max_debt_to_income_bps=5000,
    max_ltv_bps=7000,
    max_core_enterprise_exposure=cny(500_000_000),
    auto_approve_below=cny(5_000_000),
)


def test_results_follow_rulecode_order_and_skip_unconfigured_rules() -> None:
    assessment = evaluate(ALL_RULES, consumer())
    assert codes(assessment) == [
        RuleCode.IDENTITY,
        RuleCode.FRAUD,
        RuleCode.BUREAU_SCORE,
        RuleCode.CREDIT_SCORE_MINIMUM,
        RuleCode.CURRENT_DELINQUENCIES,
        RuleCode.DEBT_TO_INCOME,
    ]
    only_dti = evaluate(ScorecardRules(max_debt_to_income_bps=5000), consumer())
    assert codes(only_dti) == [RuleCode.IDENTITY, RuleCode.FRAUD, RuleCode.DEBT_TO_INCOME]
    warehouse = evaluate(ALL_RULES, organisation(WAREHOUSE, collateral_value=cny(100_000_000)))
    assert codes(warehouse) == [
        RuleCode.FRAUD,
        RuleCode.BUREAU_SCORE,
        RuleCode.CURRENT_DELINQUENCIES,
        RuleCode.LTV,
    ]


def test_all_pass_approves_with_no_reasons() -> None:
    assessment = evaluate(ALL_RULES, consumer())
    assert all(r.outcome is PASS for r in assessment.results)
    assert assessment.recommendation is Recommendation.APPROVE
    assert assessment.reasons == ()


def test_a_failure_declines_even_with_unknowns() -> None:
    # Thin file: both score rules UNKNOWN; one current delinquency over a max of 0: FAIL.
    facts = consumer(
        report=report(None, file=CreditFile.THIN, delinquencies=(delinquency(current=True),))
    )
    assessment = evaluate(ALL_RULES, facts)
    assert assessment.recommendation is Recommendation.DECLINE
    assert [(r.code, r.outcome) for r in assessment.reasons] == [
        (RuleCode.BUREAU_SCORE, UNKNOWN),
        (RuleCode.CREDIT_SCORE_MINIMUM, UNKNOWN),
        (RuleCode.CURRENT_DELINQUENCIES, FAIL),
    ]
    assert assessment.auto_approve is False


def test_unknowns_without_failures_refer() -> None:
    assessment = evaluate(ALL_RULES, consumer(monthly_income=None))
    assert assessment.recommendation is Recommendation.REFER
    assert [r.code for r in assessment.reasons] == [RuleCode.DEBT_TO_INCOME]
    assert assessment.auto_approve is False


# -- auto-approval ------------------------------------------------------------------------------


def test_auto_approve_strictly_below_the_threshold_only() -> None:
    rules = ScorecardRules(auto_approve_below=cny(5_000_000))
    below = evaluate(rules, consumer(requested=cny(4_999_999)))
    assert below.recommendation is Recommendation.APPROVE and below.auto_approve is True
    equal = evaluate(rules, consumer(requested=cny(5_000_000)))
    assert equal.recommendation is Recommendation.APPROVE and equal.auto_approve is False


def test_no_auto_approve_without_a_threshold_or_in_another_currency() -> None:
    assert evaluate(NO_RULES, consumer(requested=cny(1))).auto_approve is False
    rules = ScorecardRules(auto_approve_below=Money(5_000_000, "USD"))
    assert evaluate(rules, consumer(requested=cny(1))).auto_approve is False


def test_no_auto_approve_unless_approved() -> None:
    rules = ScorecardRules(auto_approve_below=cny(5_000_000))
    referred = evaluate(rules, consumer(requested=cny(100), identity=None))
    assert referred.recommendation is Recommendation.REFER
    assert referred.auto_approve is False


def test_auto_approve_is_refused_for_other_lines() -> None:
    rules = ScorecardRules(auto_approve_below=cny(5_000_000))
    for line in (ORDER, WAREHOUSE):
        assessment = evaluate(rules, organisation(line, requested=cny(100)))
        assert assessment.recommendation is Recommendation.APPROVE
        assert assessment.auto_approve is False
