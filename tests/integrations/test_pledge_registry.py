"""The pledge registry client against the sandbox registry over loopback HTTP: a filing, its
state read back, refusals (another filing of the same goods, an invalid party, a refusal chosen
by the receipt number), an unavailable registry, and a timed-out filing retried under the same
idempotency key giving one filing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.kernel.money import Money
from domain.pledges.ports import (
    MalformedRegistryAnswer,
    Party,
    RegistrationNotFound,
    RegistrationRefused,
    RegistrationRequest,
    RegistrationStatus,
    RegistryTimeout,
    RegistryUnavailable,
)
from integrations.pledge_registry.client import pledge_registry
from integrations.sandboxes import SandboxServer
from tests.collateral_support import social_credit_code
from tests.integrations.conftest import sandbox_settings


def _request(
    number: str = "WR-0001", reference: str = "pledge-1", **kw: object
) -> RegistrationRequest:
    values: dict[str, object] = {
        "pledgor": Party("Jinhai Metals", social_credit_code(1)),
        "pledgee_name": "Bank A",
        "warehouse": Party("Yangshan Bonded Depot", social_credit_code(2)),
        "receipt_number": number,
        "goods_description": "Copper cathode, grade A",
        "quantity": Decimal("25.5"),
        "unit": "t",
        # 25.5 t x 68,000.00 = 1,734,000.00
        "declared_value": Money.parse("1734000.00", "CNY"),
        "reference": reference,
        "idempotency_key": reference,
    }
    values.update(kw)
    return RegistrationRequest(**values)  # type: ignore[arg-type]


async def test_a_filing_and_its_state() -> None:
    with SandboxServer(latency=0.0) as sandbox:
        registry = pledge_registry(sandbox_settings(sandbox))
        try:
            filed = await registry.register(_request())
            assert filed.status is RegistrationStatus.REGISTERED
            assert filed.reference == "pledge-1"
            assert filed.filing_number.startswith("DJ")
            again = await registry.registration(filed.registration_id)
            assert (again.filing_number, again.status) == (filed.filing_number, filed.status)
            with pytest.raises(RegistrationNotFound):
                await registry.registration("RG-NOPE")
            # The same goods filed again under another reference: refused, final.
            with pytest.raises(RegistrationRefused) as caught:
                await registry.register(_request(reference="pledge-2"))
            assert (caught.value.code, caught.value.retryable) == ("ALREADY_REGISTERED", False)
        finally:
            await registry.aclose()
        assert len(sandbox.registry.filings()) == 1


async def test_refusals_and_failures_chosen_by_test_values() -> None:
    with SandboxServer(latency=0.0) as sandbox:
        registry = pledge_registry(sandbox_settings(sandbox))
        try:
            with pytest.raises(RegistrationRefused) as caught:
                await registry.register(_request("WR-REFUSE-1", "p-refuse"))
            assert caught.value.code == "REGISTRATION_REFUSED"
            bad_party = Party("Nobody", "not-a-code")
            with pytest.raises(RegistrationRefused) as caught:
                await registry.register(_request("WR-2", "p-party", pledgor=bad_party))
            assert caught.value.code == "INVALID_PARTY"
            with pytest.raises(RegistryUnavailable) as unavailable:
                await registry.register(_request("WR-UNAVAILABLE-3", "p-down"))
            assert unavailable.value.retryable
            with pytest.raises(MalformedRegistryAnswer):
                await registry.register(_request("WR-MALFORMED-4", "p-malformed"))
        finally:
            await registry.aclose()
        # Only the malformed answer's filing was made (its answer lacked the number).
        assert [f["reference"] for f in sandbox.registry.filings()] == ["p-malformed"]


async def test_a_timed_out_filing_retried_under_its_key_is_filed_once() -> None:
    with SandboxServer(latency=0.0, hang_seconds=5.0) as sandbox:
        registry = pledge_registry(sandbox_settings(sandbox, provider_timeout_seconds=0.5))
        try:
            request = _request("WR-TIMEOUT-5", "p-timeout")
            with pytest.raises(RegistryTimeout) as caught:
                await registry.register(request)
            assert caught.value.retryable
            # The registry filed it all the same; the retry gets that filing back.
            (first,) = sandbox.registry.filings("p-timeout")
            retried = await registry.register(request)
            assert retried.registration_id == first["registration_id"]
            assert retried.filing_number == first["filing_number"]
        finally:
            await registry.aclose()
        assert len(sandbox.registry.filings("p-timeout")) == 1


async def test_a_cancelled_filing_frees_the_goods() -> None:
    with SandboxServer(latency=0.0) as sandbox:
        registry = pledge_registry(sandbox_settings(sandbox))
        try:
            filed = await registry.register(_request())
            cancelled = await registry.cancel(filed.registration_id, idempotency_key="p1:cancel")
            assert cancelled.status is RegistrationStatus.CANCELLED
            assert (cancelled.registration_id, cancelled.filing_number) == (
                filed.registration_id,
                filed.filing_number,
            )
            # The same key again: the same answer, nothing else happens.
            again = await registry.cancel(filed.registration_id, idempotency_key="p1:cancel")
            assert (again.registration_id, again.status) == (
                filed.registration_id,
                RegistrationStatus.CANCELLED,
            )
            state = await registry.registration(filed.registration_id)
            assert state.status is RegistrationStatus.CANCELLED
            # The same goods under another reference are filed now.
            refiled = await registry.register(_request(reference="pledge-2"))
            assert refiled.status is RegistrationStatus.REGISTERED
            assert refiled.registration_id != filed.registration_id
            with pytest.raises(RegistrationNotFound) as caught:
                await registry.cancel("RG-NOPE", idempotency_key="nope:cancel")
            assert caught.value.retryable is False
        finally:
            await registry.aclose()
        statuses = sorted(f["status"] for f in sandbox.registry.filings())
        assert statuses == ["CANCELLED", "REGISTERED"]


async def test_cancellation_failures_chosen_by_test_values() -> None:
    with SandboxServer(latency=0.0) as sandbox:
        registry = pledge_registry(sandbox_settings(sandbox))
        try:
            down = await registry.register(_request("WR-CANCELUNAVAILABLE", "p-down"))
            with pytest.raises(RegistryUnavailable) as unavailable:
                await registry.cancel(down.registration_id, idempotency_key="p-down:cancel")
            assert unavailable.value.retryable is True
            # Nothing was cancelled: the filing stands.
            assert sandbox.registry.filings("p-down")[0]["status"] == "REGISTERED"
            refused = await registry.register(_request("WR-CANCELREFUSE", "p-refuse"))
            with pytest.raises(RegistrationRefused) as caught:
                await registry.cancel(refused.registration_id, idempotency_key="p-refuse:cancel")
            assert (caught.value.code, caught.value.retryable) == ("CANCELLATION_REFUSED", False)
            spoiled = await registry.register(_request("WR-CANCELMALFORMED", "p-bad"))
            with pytest.raises(MalformedRegistryAnswer):
                await registry.cancel(spoiled.registration_id, idempotency_key="p-bad:cancel")
            # The cancellation was made; only its answer was spoiled.
            assert sandbox.registry.filings("p-bad")[0]["status"] == "CANCELLED"
        finally:
            await registry.aclose()
