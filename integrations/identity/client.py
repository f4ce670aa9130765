"""The identity verification client: ``POST /v1/verifications`` (protocol in
``integrations/README.md``). Implements :class:`domain.risk.ports.IdentityVerifier`."""

from __future__ import annotations

from typing import Any

from domain.risk.ports import (
    IdentityRequest,
    IdentityVerification,
    MalformedAnswer,
    ProviderKind,
)
from integrations.answers import Fields, Malformed
from integrations.http import ProviderClient

__all__ = ["HttpIdentityVerifier"]

KIND = ProviderKind.IDENTITY


def read_verification(data: Any, request_id: str) -> IdentityVerification:
    """An :class:`IdentityVerification` from the verifier's JSON. Raises :class:`Malformed`."""
    answer = Fields(data, "verification")
    checks = answer.object("checks")
    liveness = checks.object("liveness")
    score = liveness.decimal("score")
    if not 0 <= score <= 1:
        raise Malformed("liveness score outside 0-1")
    result = IdentityVerification(
        verification_id=answer.text("verification_id"),
        request_id=request_id,
        checked_at=answer.moment("checked_at"),
        id_number_valid=checks.flag("id_number_valid"),
        name_matches=checks.flag("name_matches"),
        liveness_passed=liveness.flag("passed"),
        liveness_score=score,
        fraud_alerts=answer.strings("alerts"),
    )
    # The verifier's own verdict must agree with its checks; a disagreement is a broken answer,
    # not something to pick a side in.
    verdict = answer.text("result")
    if verdict not in ("VERIFIED", "NOT_VERIFIED"):
        raise Malformed(f"unknown result {verdict[:20]!r}")
    if (verdict == "VERIFIED") != result.verified:
        raise Malformed("result disagrees with the checks")
    return result


class HttpIdentityVerifier(ProviderClient):
    """An :class:`~domain.risk.ports.IdentityVerifier` over the verifier's HTTP API."""

    kind = KIND

    async def verify(self, request: IdentityRequest) -> IdentityVerification:
        """Check the resident ID and name against the register and the liveness session."""
        answer = await self._client.call(
            "POST",
            "/v1/verifications",
            payload={
                "resident_id": request.resident_id,
                "name": request.full_name,
                "liveness": {"session_id": request.liveness_session},
            },
            idempotency_key=request.idempotency_key,
        )
        try:
            return read_verification(answer.data, answer.request_id)
        except Malformed as exc:
            raise MalformedAnswer(str(exc), kind=KIND, request_id=answer.request_id) from None
