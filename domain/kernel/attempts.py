"""Whether a delivery of a job that calls a provider may start an attempt, for rows that keep
their attempts, lease and backoff themselves (payouts, pledge filings and cancellations).

``due`` is the row's next attempt time: the lease of the attempt under way, or the end of the
backoff after a failed one; ``None`` once the last attempt's failure was recorded. Pure."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Claim(StrEnum):
    """What a delivery may do with the row."""

    #: Ask the provider.
    SEND = "SEND"
    #: Nothing: the provider answered already, or the row is final.
    DONE = "DONE"
    #: Nothing yet: another attempt holds it, or its backoff has not run out.
    NOT_DUE = "NOT_DUE"
    #: Nothing: every attempt is spent and the outcome is still unknown.
    EXHAUSTED = "EXHAUSTED"


def claim(
    *, finished: bool, attempts: int, max_attempts: int, due: datetime | None, now: datetime
) -> Claim:
    """Whether a delivery at ``now`` starts an attempt of a row (``finished`` when its call
    needs no attempt any more)."""
    if finished:
        return Claim.DONE
    if due is None:
        return Claim.EXHAUSTED
    if due > now:
        return Claim.NOT_DUE
    if attempts >= max_attempts:
        return Claim.EXHAUSTED
    return Claim.SEND


__all__ = ["Claim", "claim"]
