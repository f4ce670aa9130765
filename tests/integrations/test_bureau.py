"""The credit bureau client against the sandbox bureau over loopback HTTP: each outcome maps
to its report or typed error. Expected figures are the sandbox's fixed data, added up by hand
(see integrations/README.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.kernel.money import Money
from domain.risk.ports import (
    AnswerNotAuthentic,
    ConsentReference,
    ConsentRequired,
    CreditFile,
    CreditReportRequest,
    DebtKind,
    MalformedAnswer,
    ProviderKind,
    ProviderTimeout,
    ProviderUnavailable,
    RequestRejected,
    RiskProviders,
)
from integrations.http import SignedJsonClient
from integrations.sandboxes import SandboxServer
from tests.integrations.conftest import GOOD_ID, HANG_SECONDS, eventually

CONSENT = ConsentReference(
    reference="deal:6f1c2a4e-0000-4000-8000-000000000001",
    text_version="credit-consent-2026-01",
    method="ONLINE_CHECKBOX",
    given_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
)


def pull(name: str, *, consent: ConsentReference | None = CONSENT, key: str | None = None):
    return CreditReportRequest(
        resident_id=GOOD_ID, full_name=name, consent=consent, idempotency_key=key
    )


def cny(amount: str) -> Money:
    return Money.parse(amount, "CNY")


async def test_a_good_file(providers: RiskProviders, sandbox: SandboxServer) -> None:
    report = await providers.bureau.pull_report(pull("Zhang Min"))

    assert report.file is CreditFile.FULL
    assert report.score == 742
    assert report.score_model == "SANDBOX-CREDIT-2"
    assert [(d.kind, d.balance) for d in report.debts] == [
        (DebtKind.CREDIT_CARD, cny("8650.00")),
        (DebtKind.MORTGAGE, cny("612400.00")),
    ]
    assert report.debts[0].credit_limit == cny("50000.00")
    assert report.debts[1].credit_limit is None
    assert report.debts[1].opened_on == date(2020, 3, 1)
    # 865.00 + 4,380.00
    assert report.monthly_debt_service("CNY") == cny("5245.00")
    # One late payment, cured since.
    assert [(d.days_past_due, d.current) for d in report.delinquencies] == [(35, False)]
    assert report.current_delinquencies == ()
    assert [(i.inquirer, i.inquired_on) for i in report.inquiries] == [
        ("Ping An Consumer Finance", date(2026, 9, 14))
    ]
    assert report.fraud_alerts == ()
    assert report.report_id.startswith("CR-")
    # The request ID the client sent is the one the bureau logged, under the configured key.
    received = sandbox.log.find(report.request_id)
    assert received is not None
    assert received.key_id == sandbox.credentials[ProviderKind.CREDIT_BUREAU].key_id
    assert received.outcome == "200"


async def test_a_thin_file_has_no_score(providers: RiskProviders) -> None:
    report = await providers.bureau.pull_report(pull("Li Wei thin"))
    assert report.file is CreditFile.THIN
    assert report.score is None
    assert report.score_model is None
    assert report.debts == ()
    assert report.monthly_debt_service("CNY") == cny("0")
    assert len(report.inquiries) == 1


async def test_a_delinquent_file(providers: RiskProviders) -> None:
    report = await providers.bureau.pull_report(pull("Wang Fang DELINQUENT"))
    assert report.score == 561
    assert [(d.account_kind, d.days_past_due) for d in report.current_delinquencies] == [
        (DebtKind.CONSUMER_LOAN, 95),
        (DebtKind.CREDIT_CARD, 62),
    ]
    # 6,450.00 + 2,980.00 still unpaid; the cured 1,200.00 is not.
    unpaid = Money.sum((d.amount_past_due for d in report.current_delinquencies), "CNY")
    assert unpaid == cny("9430.00")
    # 2,150.00 + 1,490.00
    assert report.monthly_debt_service("CNY") == cny("3640.00")
    assert len(report.inquiries) == 3


async def test_a_fraud_alert(providers: RiskProviders) -> None:
    report = await providers.bureau.pull_report(pull("Chen Jie fraud"))
    assert report.score == 701
    assert [(a.code, a.reported_on) for a in report.fraud_alerts] == [
        ("IDENTITY_THEFT_REPORTED", date(2026, 7, 2))
    ]


async def test_a_server_error_is_unavailable(providers: RiskProviders) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await providers.bureau.pull_report(pull("Zhao Lei unavailable"))
    assert caught.value.status == 503
    assert caught.value.retryable
    assert caught.value.kind is ProviderKind.CREDIT_BUREAU
    assert caught.value.request_id is not None


async def test_a_malformed_answer(providers: RiskProviders) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        await providers.bureau.pull_report(pull("Sun Li malformed"))
    # Authentic (signed by the bureau) but broken: not a signature failure.
    assert not isinstance(caught.value, AnswerNotAuthentic)
    assert "score" in str(caught.value)
    assert caught.value.retryable


async def test_a_held_answer_times_out(impatient: RiskProviders, sandbox: SandboxServer) -> None:
    # Held for HANG_SECONDS and then answered with a good report: only a client that gave up
    # on its own raises here.
    with pytest.raises(ProviderTimeout) as caught:
        await impatient.bureau.pull_report(pull("Zhou Xun timeout"))
    assert caught.value.retryable
    received = sandbox.log.find(str(caught.value.request_id))
    assert received is not None and received.outcome == "timeout"
    # The client closed its connection: the sandbox saw it go long before its hang ended.
    assert eventually(lambda: received.abandoned, within=HANG_SECONDS / 2)


async def test_a_trickled_answer_times_out_as_a_whole(impatient: RiskProviders) -> None:
    # Each byte arrives well within the per-read timeout; the whole answer would take minutes.
    with pytest.raises(ProviderTimeout):
        await impatient.bureau.pull_report(pull("Wu Di trickle"))


async def test_an_invalid_resident_id_is_rejected(providers: RiskProviders) -> None:
    request = CreditReportRequest(
        resident_id="110105194912310021", full_name="Zhang Min", consent=CONSENT
    )
    with pytest.raises(RequestRejected) as caught:
        await providers.bureau.pull_report(request)
    assert (caught.value.status, caught.value.code) == (422, "INVALID_RESIDENT_ID")
    assert not caught.value.retryable


@pytest.mark.parametrize(
    "consent",
    [
        None,
        ConsentReference(
            reference="  ", text_version="v1", method="SMS_CODE", given_at=CONSENT.given_at
        ),
    ],
    ids=["none", "blank-reference"],
)
async def test_no_pull_without_consent(
    providers: RiskProviders, sandbox: SandboxServer, consent: ConsentReference | None
) -> None:
    before = len(sandbox.log.entries())
    with pytest.raises(ConsentRequired) as caught:
        await providers.bureau.pull_report(pull("Zhang Min", consent=consent))
    assert not caught.value.retryable
    assert caught.value.request_id is None
    # Nothing reached the bureau.
    assert len(sandbox.log.entries()) == before


async def test_the_bureau_itself_refuses_a_pull_without_consent(sandbox: SandboxServer) -> None:
    # A client that skipped the check (signed correctly) is refused by the bureau too.
    client = SignedJsonClient(
        kind=ProviderKind.CREDIT_BUREAU,
        base_url=sandbox.url(ProviderKind.CREDIT_BUREAU),
        credentials=sandbox.credentials[ProviderKind.CREDIT_BUREAU],
        timeout=5,
    )
    try:
        with pytest.raises(RequestRejected) as caught:
            await client.call(
                "POST",
                "/v1/credit-reports",
                payload={"subject": {"resident_id": GOOD_ID, "name": "Zhang Min"}},
            )
    finally:
        await client.aclose()
    assert (caught.value.status, caught.value.code) == (400, "CONSENT_REQUIRED")


async def test_a_repeated_idempotency_key_gets_the_same_report(
    providers: RiskProviders, sandbox: SandboxServer
) -> None:
    first = await providers.bureau.pull_report(pull("Zhang Min", key="pull-1"))
    again = await providers.bureau.pull_report(pull("Zhang Min", key="pull-1"))
    other = await providers.bureau.pull_report(pull("Zhang Min", key="pull-2"))
    assert again.report_id == first.report_id
    assert again.request_id != first.request_id  # a new call, signed and answered anew
    assert other.report_id != first.report_id
    replayed = sandbox.log.find(again.request_id)
    assert replayed is not None and replayed.outcome == "replayed"


async def test_an_idempotency_key_is_not_reused_for_another_subject(
    providers: RiskProviders,
) -> None:
    await providers.bureau.pull_report(pull("Zhang Min", key="pull-3"))
    with pytest.raises(RequestRejected) as caught:
        await providers.bureau.pull_report(pull("Li Wei thin", key="pull-3"))
    assert (caught.value.status, caught.value.code) == (422, "IDEMPOTENCY_KEY_REUSED")
