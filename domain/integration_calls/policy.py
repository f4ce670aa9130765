"""Pure rules of integration calls: which calls a deal needs, whether an attempt may start,
and what a failed attempt leaves behind. No I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from domain.integration_calls.models import CallState, IntegrationKind
from domain.products.models import ProductLine

#: Attempts a call may have before it is FAILED (a worker killed during an attempt counts).
MAX_ATTEMPTS = 5
MAX_ERROR_LENGTH = 1000
#: A call no port of the process answers is looked at again this much later (another
#: process, or a later deploy, may have the port): the sweeper does not re-send it meanwhile.
NO_PORT_RECHECK = timedelta(minutes=5)

#: The calls a submitted deal needs, by product line: the applicant's credit report (a
#: person's for consumer credit, the applicant enterprise's otherwise), the identity check of
#: the applicant person (an enterprise's identity is its registered code, checked when it was
#: onboarded), and the valuation of pledged goods.
KINDS_BY_LINE: dict[ProductLine, tuple[IntegrationKind, ...]] = {
    ProductLine.CONSUMER_CREDIT: (IntegrationKind.BUREAU, IntegrationKind.IDENTITY),
    ProductLine.ORDER_FINANCING: (IntegrationKind.BUREAU,),
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE: (IntegrationKind.BUREAU, IntegrationKind.VALUATION),
}


def kinds_for(line: ProductLine) -> tuple[IntegrationKind, ...]:
    """The integration calls a deal of ``line`` needs on submission."""
    return KINDS_BY_LINE[line]


class ClaimDecision(StrEnum):
    """What a delivery of a call's message may do with the row."""

    #: Start an attempt.
    RUN = "RUN"
    #: Nothing: the call has succeeded or failed for good (a repeated delivery).
    FINISHED = "FINISHED"
    #: Not yet: another attempt holds its lease, or a failed one's backoff has not passed.
    NOT_DUE = "NOT_DUE"
    #: No attempt left: the last one never reported (its worker died); the call fails.
    EXHAUSTED = "EXHAUSTED"


def claim_decision(
    state: CallState, attempts: int, max_attempts: int, next_attempt_at: datetime, now: datetime
) -> ClaimDecision:
    """Whether a delivery at ``now`` may start an attempt of a call in this state. A RUNNING
    call whose lease (``next_attempt_at``) has run out lost its worker: it may be taken again,
    and that lost attempt counts."""
    if state in (CallState.SUCCEEDED, CallState.FAILED):
        return ClaimDecision.FINISHED
    if next_attempt_at > now:
        return ClaimDecision.NOT_DUE
    if attempts >= max_attempts:
        return ClaimDecision.EXHAUSTED
    return ClaimDecision.RUN


def state_after_failure(attempts: int, max_attempts: int, *, permanent: bool) -> CallState:
    """PENDING for another attempt, or FAILED when the error is permanent or none is left."""
    if permanent or attempts >= max_attempts:
        return CallState.FAILED
    return CallState.PENDING


def error_text(error: BaseException) -> str:
    """What the row keeps of an error: its type and message, bounded."""
    message = str(error).strip()
    described = type(error).__name__ + (f": {message}" if message else "")
    return described[:MAX_ERROR_LENGTH]
