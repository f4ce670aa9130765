"""Time zones are validated against the installed tz database, listed once per process."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator

import pytest

from domain.kernel.errors import DomainError, ErrorCode
from tenants import policy


@pytest.fixture
def listings(monkeypatch) -> Iterator[list[int]]:
    """Counts the listings of the tz database, starting from an empty cache."""
    calls: list[int] = []
    real = zoneinfo.available_timezones

    def counting() -> set[str]:
        calls.append(1)
        return real()

    monkeypatch.setattr(policy, "available_timezones", counting)
    policy.known_time_zones.cache_clear()
    yield calls
    policy.known_time_zones.cache_clear()


def test_time_zones_are_listed_once(listings) -> None:
    for _ in range(3):
        assert policy.validate_time_zone("Asia/Shanghai") == "Asia/Shanghai"
        assert policy.validate_time_zone("Europe/London") == "Europe/London"
        with pytest.raises(DomainError):
            policy.validate_time_zone("Mars/Olympus_Mons")
    assert len(listings) == 1


@pytest.mark.parametrize(
    "name", ["Asia/Shanghai", "Asia/Hong_Kong", "America/New_York", "UTC", "Etc/GMT-8"]
)
def test_iana_names_are_accepted(name) -> None:
    assert policy.validate_time_zone(name) == name


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus_Mons", "asia/shanghai", "Asia/Shanghai ", "../etc/passwd", "+08:00"]
)
def test_other_names_are_refused(name) -> None:
    with pytest.raises(DomainError) as raised:
        policy.validate_time_zone(name)
    assert raised.value.code == ErrorCode.INVALID_TIME_ZONE
    assert raised.value.field == "timeZone"


def test_the_cached_set_is_the_tz_database() -> None:
    assert policy.known_time_zones() == zoneinfo.available_timezones()
