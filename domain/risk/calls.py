"""The risk checks as integration calls: a credit report pull and an identity verification,
each an :class:`~domain.integration_calls.ports.IntegrationPort` over its domain port.

``prepare`` reads what the call sends, in the tenant's service scope: the deal's applicant
(a person's decrypted resident ID and name, or an enterprise's social credit code and name),
the recorded credit consent and the liveness capture. What it reads stays in memory for the
one attempt and is never stored. ``call`` asks the provider with the call's idempotency
reference as the idempotency key, so an attempt repeated after a killed worker gets the same
report back instead of a second inquiry, and returns the stored form of the answer
(:mod:`domain.risk.results`).

A refusal no retry changes (no consent, a refused request, no liveness capture for an
identity check) is a :class:`~domain.integration_calls.ports.PermanentFailure`; a timeout, an
unreachable provider or a malformed answer propagates and is retried with backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.deals import repository as deals
from domain.deals.models import Deal
from domain.integration_calls.ports import CallRequest, PermanentFailure
from domain.kernel.crypto import PersonalDataCipher
from domain.parties import repository as parties
from domain.risk.ports import (
    ConsentReference,
    ConsentRequired,
    CreditBureau,
    CreditReportRequest,
    IdentityRequest,
    IdentityVerifier,
    RequestRejected,
)
from domain.risk.results import report_to_json, verification_to_json

__all__ = ["BureauPort", "IdentityPort", "consent_reference"]

#: What an attempt may take beyond the provider client's own timeout (reading the applicant,
#: recording): the attempt's lease on its row is this much longer than the client waits.
LEASE_MARGIN_SECONDS = 10.0


def consent_reference(deal_id: str) -> str:
    """Where the bureau is told the consent is recorded: the deal that holds it."""
    return f"deal:{deal_id}"


async def _deal(session: AsyncSession, request: CallRequest) -> Deal:
    deal = (await deals.deals_by_ids(session, [request.deal_id])).get(request.deal_id)
    if deal is None or deal.tenant_id != request.tenant_id:
        raise PermanentFailure("the deal is not visible to its funder")
    return deal


def _consent(deal: Deal) -> dict[str, str] | None:
    if deal.consent_given_at is None or deal.consent_method is None:
        return None
    return {
        "reference": consent_reference(str(deal.id)),
        "text_version": deal.consent_text_version or "",
        "method": deal.consent_method.value,
        "given_at": deal.consent_given_at.isoformat(),
    }


async def _applicant(
    session: AsyncSession, cipher: PersonalDataCipher, deal: Deal
) -> dict[str, str]:
    """The applicant as a provider is sent it: a person or an enterprise."""
    if deal.applicant_person_id is not None:
        person = (await parties.persons_by_ids(session, [deal.applicant_person_id])).get(
            deal.applicant_person_id
        )
        if person is None:
            raise PermanentFailure("the applicant is not visible to the funder")
        return {
            "resident_id": cipher.decrypt(person.resident_id_encrypted),
            "full_name": person.full_name,
        }
    if deal.applicant_organization_id is not None:
        org = (await parties.organizations_by_ids(session, [deal.applicant_organization_id])).get(
            deal.applicant_organization_id
        )
        if org is None:
            raise PermanentFailure("the applicant is not visible to the funder")
        return {"social_credit_code": org.social_credit_code, "full_name": org.name}
    raise PermanentFailure("the deal names no applicant")  # pragma: no cover - a CHECK forbids


def _refused(error: RequestRejected | ConsentRequired) -> PermanentFailure:
    code = getattr(error, "code", "CONSENT_REQUIRED")
    return PermanentFailure(f"{error.kind.value} refused the request: {code}")


class BureauPort:
    """The credit report pull of a deal's applicant (a person's or an enterprise's report)."""

    def __init__(
        self, bureau: CreditBureau, cipher: PersonalDataCipher, *, client_timeout: float
    ) -> None:
        self._bureau = bureau
        self._cipher = cipher
        self.timeout_seconds = client_timeout + LEASE_MARGIN_SECONDS

    async def prepare(self, session: AsyncSession, request: CallRequest) -> Mapping[str, Any]:
        """The applicant and the recorded consent."""
        deal = await _deal(session, request)
        return {**await _applicant(session, self._cipher, deal), "consent": _consent(deal)}

    async def call(self, request: CallRequest, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Pull the report; its stored form."""
        consent = inputs["consent"]
        pull = CreditReportRequest(
            resident_id=inputs.get("resident_id"),
            social_credit_code=inputs.get("social_credit_code"),
            full_name=inputs["full_name"],
            consent=None
            if consent is None
            else ConsentReference(
                reference=consent["reference"],
                text_version=consent["text_version"],
                method=consent["method"],
                given_at=datetime.fromisoformat(consent["given_at"]),
            ),
            idempotency_key=str(request.idempotency_reference),
        )
        try:
            report = await self._bureau.pull_report(pull)
        except (RequestRejected, ConsentRequired) as exc:
            raise _refused(exc) from None
        return report_to_json(report)


class IdentityPort:
    """The identity verification of a deal's applicant person: resident ID and name against
    the register, and the liveness capture the applicant completed."""

    def __init__(
        self, verifier: IdentityVerifier, cipher: PersonalDataCipher, *, client_timeout: float
    ) -> None:
        self._verifier = verifier
        self._cipher = cipher
        self.timeout_seconds = client_timeout + LEASE_MARGIN_SECONDS

    async def prepare(self, session: AsyncSession, request: CallRequest) -> Mapping[str, Any]:
        """The applicant person and the liveness capture reference."""
        deal = await _deal(session, request)
        if deal.applicant_person_id is None:
            raise PermanentFailure("identity verification is of a person; the applicant is not")
        if not deal.liveness_session:
            raise PermanentFailure("the application records no liveness capture")
        return {
            **await _applicant(session, self._cipher, deal),
            "liveness_session": deal.liveness_session,
        }

    async def call(self, request: CallRequest, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Verify; the stored form of the verdict."""
        try:
            verdict = await self._verifier.verify(
                IdentityRequest(
                    resident_id=inputs["resident_id"],
                    full_name=inputs["full_name"],
                    liveness_session=inputs["liveness_session"],
                    idempotency_key=str(request.idempotency_reference),
                )
            )
        except RequestRejected as exc:
            raise _refused(exc) from None
        return verification_to_json(verdict)
