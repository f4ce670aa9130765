"""The backoff of actors that call a provider and keep their attempts on the row: the wait
after a failed attempt, by Dramatiq's exponential rule without jitter (2 s, 4 s, 8 s, ...),
so that the wait a row records is the wait the message is delayed by."""

from __future__ import annotations

from collections.abc import Callable

from dramatiq.common import compute_backoff

#: The wait after the first failed attempt.
MIN_BACKOFF_MS = 2_000


def exponential(max_backoff_ms: int) -> Callable[[int], int]:
    """The wait (ms) after failed attempt ``attempt`` (1-based), at most ``max_backoff_ms``."""

    def backoff_ms(attempt: int) -> int:
        _, delay = compute_backoff(
            attempt - 1, factor=MIN_BACKOFF_MS, jitter=False, max_backoff=max_backoff_ms
        )
        return int(delay)

    return backoff_ms


__all__ = ["MIN_BACKOFF_MS", "exponential"]
