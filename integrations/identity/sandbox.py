"""A sandbox identity verifier: a real HTTP service speaking the verification protocol
(``integrations/README.md``), for tests and ``lendgraph dev``.

The outcome is chosen by the last word of the name (case-insensitive): ``MISMATCH`` (the
register has another name for the ID), ``SPOOF`` (liveness failed), ``FRAUD`` (the ID is
reported stolen), ``TIMEOUT``, ``TRICKLE``, ``UNAVAILABLE`` (503), ``MALFORMED`` (a signed
answer whose verdict contradicts its checks); anything else verifies. A resident ID that fails
its check digit is refused (422 ``INVALID_RESIDENT_ID``), and so is a missing liveness session.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from stdnum.cn import ric

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
    "MISMATCH",
    "SPOOF",
    "FRAUD",
    "TIMEOUT",
    "TRICKLE",
    "UNAVAILABLE",
    "MALFORMED",
)


def outcome_of(name: str) -> str:
    """The outcome a name asks for."""
    return last_word_outcome(name, OUTCOMES)


def _verification(outcome: str) -> dict[str, Any]:
    name_matches = outcome != "MISMATCH"
    live = outcome != "SPOOF"
    alerts = ["ID_REPORTED_STOLEN"] if outcome == "FRAUD" else []
    verified = name_matches and live and not alerts
    return {
        "verification_id": f"IV-{uuid.uuid4().hex[:16].upper()}",
        "checked_at": datetime.now(UTC).isoformat(),
        # The malformed answer says VERIFIED over checks that do not add up to it.
        "result": "VERIFIED" if verified or outcome == "MALFORMED" else "NOT_VERIFIED",
        "checks": {
            "id_number_valid": True,
            "name_matches": name_matches and outcome != "MALFORMED",
            "liveness": {"passed": live, "score": "0.987" if live else "0.112"},
        },
        "alerts": alerts,
    }


async def _verify(call: Call) -> Reply:
    data = call.data if isinstance(call.data, dict) else {}
    resident_id, name = data.get("resident_id"), data.get("name")
    liveness = data.get("liveness")
    if not isinstance(resident_id, str) or not isinstance(name, str):
        return Reply.refuse(400, "INVALID_REQUEST", "resident_id and name are required")
    if not isinstance(liveness, dict) or not str(liveness.get("session_id") or "").strip():
        return Reply.refuse(400, "LIVENESS_REQUIRED", "liveness.session_id is required")
    if not ric.is_valid(resident_id):
        return Reply.refuse(422, "INVALID_RESIDENT_ID", "not a valid resident ID")
    outcome = outcome_of(name)
    if outcome in TRANSPORT_FAILURES:
        return Reply.failing(outcome, _verification("GOOD"))
    return Reply.ok(_verification(outcome))


def create_app(provider: SandboxProvider) -> Starlette:
    """The verifier's routes behind ``provider``'s checks."""
    return Starlette(
        routes=[Route("/v1/verifications", provider.endpoint(_verify), methods=["POST"])]
    )
