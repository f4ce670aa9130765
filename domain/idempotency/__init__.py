"""Idempotency keys: a retried mutation replays its first answer instead of acting twice."""
