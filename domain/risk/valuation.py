"""Collateral valuation of a warehouse-receipt pledge: the pure rule, its stored form, and the
integration call that applies it (:class:`ValuationPort`).

The rule (:func:`value_pledge`). The value of a pledge is the sum over its receipts of
quantity x unit price. A receipt's unit price is, in order:

1. the funder's latest recorded price of the receipt's commodity, in the deal's currency and
   per the receipt's unit, if it is at most :data:`MAX_PRICE_AGE` old (source ``FUNDER``);
2. else the price feed's quote of the commodity in the deal's currency, if it is per the
   receipt's unit (else the receipt is unvalued: ``UNIT_MISMATCH``) and at most
   :data:`MAX_PRICE_AGE` old (else ``STALE_PRICE``: a feed's price is judged by the same
   age as the funder's own) (source ``FEED``);
3. a receipt without a commodity code is unvalued (``NO_COMMODITY_CODE``), and so is one whose
   commodity the feed does not quote (``UNKNOWN_COMMODITY``) or not in the deal's currency
   (``UNSUPPORTED_CURRENCY``).

Rounding: a receipt's quantity is ``NUMERIC(20, 6)`` and a price is in minor units; their
product is computed exactly (a decimal context wide enough for any such product) and rounded
half-up to the minor unit ONCE per receipt. The total is the sum of those rounded lines, so
each line shown is exactly what the total adds up. ``complete`` says every receipt was valued;
an incomplete valuation's total covers the valued receipts only.

The call (:class:`ValuationPort`). ``prepare`` reads the deal's receipts (the funder sees the
receipts its deals name) and the funder's latest prices of their commodities, in the funder's
scope; ``call`` asks the feed for the commodities without a fresh funder price, one quote per
commodity, concurrently. A feed that does not quote a commodity leaves its receipts unvalued:
that is an answer, not a failure. Any other refusal is a
:class:`~domain.integration_calls.ports.PermanentFailure`; a timeout, a 5xx or a malformed
answer propagates and is retried.

Pure except :class:`ValuationPort.prepare` (through the repositories) and the feed it calls.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.collateral import repository as collateral
from domain.deals import repository as deals
from domain.integration_calls.ports import CallRequest, PermanentFailure
from domain.kernel.clock import utcnow
from domain.kernel.money import Money
from domain.prices import repository as prices
from domain.products.models import ProductLine
from domain.risk.ports import (
    CommodityPriceFeed,
    PriceQuote,
    PriceQuoteRequest,
    RequestRejected,
)

__all__ = [
    "MAX_PRICE_AGE",
    "CollateralValuation",
    "PriceSource",
    "ReceiptToValue",
    "UnitPrice",
    "Unvalued",
    "ValuationLine",
    "ValuationPort",
    "codes_to_quote",
    "line_value",
    "valuation_from_json",
    "valuation_to_json",
    "value_pledge",
]

#: The oldest price a valuation uses, the funder's or the feed's.
MAX_PRICE_AGE: Final = timedelta(days=7)
#: What an attempt may take beyond the feed client's own timeout (reading the receipts and
#: prices, recording): as for the risk checks.
LEASE_MARGIN_SECONDS: Final = 10.0
VERSION: Final = 1
#: Feed refusals that mean "no price for this receipt", not "the call is wrong".
UNQUOTED_CODES: Final = frozenset({"UNKNOWN_COMMODITY", "UNSUPPORTED_CURRENCY"})

# quantity has at most 20 digits and a minor-unit price at most 19: 60 digits hold any
# product exactly, so the only rounding is the one half-up step per receipt.
_EXACT_PRECISION: Final = 60


class PriceSource(StrEnum):
    """Whose price valued a receipt."""

    FUNDER = "FUNDER"
    FEED = "FEED"


class Unvalued(StrEnum):
    """Why a receipt has no value."""

    NO_COMMODITY_CODE = "NO_COMMODITY_CODE"
    UNKNOWN_COMMODITY = "UNKNOWN_COMMODITY"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    UNIT_MISMATCH = "UNIT_MISMATCH"
    STALE_PRICE = "STALE_PRICE"


@dataclass(frozen=True, slots=True)
class ReceiptToValue:
    """What the rule needs of a receipt."""

    receipt_id: uuid.UUID
    number: str
    commodity_code: str | None
    quantity: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """A price of one ``unit`` of a commodity: the funder's recorded one or a feed's quote."""

    commodity_code: str
    price: Money
    unit: str
    as_of: datetime
    source: PriceSource
    #: The funder's price row ID, or the feed's quote ID.
    reference: str
    #: The market or publication the price comes from.
    market: str

    @classmethod
    def of_quote(cls, quote: PriceQuote) -> UnitPrice:
        """A feed's quote as a unit price."""
        return cls(
            commodity_code=quote.commodity_code,
            price=quote.price,
            unit=quote.unit,
            as_of=quote.as_of,
            source=PriceSource.FEED,
            reference=quote.quote_id,
            market=quote.source,
        )


@dataclass(frozen=True, slots=True)
class ValuationLine:
    """One receipt's valuation: its price and value, or why it has none."""

    receipt_id: uuid.UUID
    number: str
    commodity_code: str | None
    quantity: Decimal
    unit: str
    #: The price used (None when unvalued).
    price: UnitPrice | None
    value: Money | None
    reason: Unvalued | None

    @property
    def valued(self) -> bool:
        """Whether the receipt has a value."""
        return self.value is not None


@dataclass(frozen=True, slots=True)
class CollateralValuation:
    """A pledge's value: the sum of its valued lines, and whether every receipt is valued."""

    total: Money
    complete: bool
    valued_at: datetime
    lines: tuple[ValuationLine, ...]


# -- the rule ---------------------------------------------------------------------------------


def is_fresh(as_of: datetime, now: datetime) -> bool:
    """Whether a price set at ``as_of`` may still value collateral at ``now``."""
    return now - as_of <= MAX_PRICE_AGE


def line_value(quantity: Decimal, unit_price: Money) -> Money:
    """``quantity`` x ``unit_price``, multiplied exactly and rounded half-up to the minor
    unit once (e.g. 120.5 x 3,456.78 = 416,541.99 exactly 416,541.990; 0.333333 x 0.10 =
    0.0333333 rounds to 0.03)."""
    with localcontext() as ctx:
        ctx.prec = _EXACT_PRECISION
        exact = quantity * unit_price.to_decimal()
        return Money.from_decimal(exact, unit_price.currency, rounding=ROUND_HALF_UP)


def _fresh_funder_price(
    receipt: ReceiptToValue,
    funder_prices: Mapping[tuple[str, str], UnitPrice],
    currency: str,
    now: datetime,
) -> UnitPrice | None:
    if receipt.commodity_code is None:
        return None
    found = funder_prices.get((receipt.commodity_code, receipt.unit))
    if found is None or found.price.currency != currency or not is_fresh(found.as_of, now):
        return None
    return found


def codes_to_quote(
    receipts: Iterable[ReceiptToValue],
    funder_prices: Mapping[tuple[str, str], UnitPrice],
    currency: str,
    now: datetime,
) -> list[str]:
    """The commodities to ask the feed about: those of receipts without a fresh funder
    price (in ``currency``, per their unit), each once, sorted."""
    return sorted(
        {
            r.commodity_code
            for r in receipts
            if r.commodity_code is not None
            and _fresh_funder_price(r, funder_prices, currency, now) is None
        }
    )


def _line(
    receipt: ReceiptToValue,
    price: UnitPrice | None,
    reason: Unvalued | None,
) -> ValuationLine:
    return ValuationLine(
        receipt_id=receipt.receipt_id,
        number=receipt.number,
        commodity_code=receipt.commodity_code,
        quantity=receipt.quantity,
        unit=receipt.unit,
        price=price,
        value=None if price is None else line_value(receipt.quantity, price.price),
        reason=reason,
    )


def value_receipt(
    receipt: ReceiptToValue,
    *,
    currency: str,
    funder_prices: Mapping[tuple[str, str], UnitPrice],
    feed_quotes: Mapping[str, UnitPrice | Unvalued],
    now: datetime,
) -> ValuationLine:
    """One receipt's line (the rule in the module docstring)."""
    if receipt.commodity_code is None:
        return _line(receipt, None, Unvalued.NO_COMMODITY_CODE)
    funder = _fresh_funder_price(receipt, funder_prices, currency, now)
    if funder is not None:
        return _line(receipt, funder, None)
    quote = feed_quotes.get(receipt.commodity_code, Unvalued.UNKNOWN_COMMODITY)
    if isinstance(quote, Unvalued):
        return _line(receipt, None, quote)
    if quote.price.currency != currency:
        return _line(receipt, None, Unvalued.UNSUPPORTED_CURRENCY)
    if quote.unit != receipt.unit:
        return _line(receipt, None, Unvalued.UNIT_MISMATCH)
    if not is_fresh(quote.as_of, now):
        return _line(receipt, None, Unvalued.STALE_PRICE)
    return _line(receipt, quote, None)


def value_pledge(
    receipts: Iterable[ReceiptToValue],
    *,
    currency: str,
    funder_prices: Iterable[UnitPrice],
    feed_quotes: Mapping[str, UnitPrice | Unvalued],
    now: datetime,
) -> CollateralValuation:
    """The pledge's valuation in ``currency`` at ``now``. ``funder_prices`` are the funder's
    latest price per (commodity, unit) (a later one of the same pair wins); ``feed_quotes``
    the feed's answer per commodity asked, a quote or why there is none."""
    latest: dict[tuple[str, str], UnitPrice] = {}
    for p in funder_prices:
        key = (p.commodity_code, p.unit)
        if key not in latest or p.as_of > latest[key].as_of:
            latest[key] = p
    lines = tuple(
        value_receipt(r, currency=currency, funder_prices=latest, feed_quotes=feed_quotes, now=now)
        for r in receipts
    )
    return CollateralValuation(
        total=Money.sum((line.value for line in lines if line.value is not None), currency),
        complete=all(line.valued for line in lines),
        valued_at=now,
        lines=lines,
    )


# -- stored form ------------------------------------------------------------------------------


def _money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"minor": value.amount_minor, "currency": value.currency}


def _read_money(data: dict[str, Any] | None) -> Money | None:
    return None if data is None else Money(int(data["minor"]), str(data["currency"]))


def valuation_to_json(valuation: CollateralValuation) -> dict[str, Any]:
    """The stored form of ``valuation`` (``integration_calls.result``): versioned, money as
    minor units with its currency, quantities as decimal strings, moments as ISO 8601."""
    return {
        "v": VERSION,
        "total": _money(valuation.total),
        "complete": valuation.complete,
        "valued_at": valuation.valued_at.isoformat(),
        "lines": [
            {
                "receipt_id": str(line.receipt_id),
                "number": line.number,
                "commodity_code": line.commodity_code,
                "quantity": format(line.quantity, "f"),
                "unit": line.unit,
                "unit_price": None if line.price is None else _money(line.price.price),
                "source": None if line.price is None else line.price.source.value,
                "as_of": None if line.price is None else line.price.as_of.isoformat(),
                "reference": None if line.price is None else line.price.reference,
                "market": None if line.price is None else line.price.market,
                "value": _money(line.value),
                "reason": None if line.reason is None else line.reason.value,
            }
            for line in valuation.lines
        ],
    }


def _read_line(data: dict[str, Any]) -> ValuationLine:
    unit_price = _read_money(data["unit_price"])
    price = (
        None
        if unit_price is None
        else UnitPrice(
            commodity_code=str(data["commodity_code"]),
            price=unit_price,
            unit=str(data["unit"]),
            as_of=datetime.fromisoformat(data["as_of"]),
            source=PriceSource(data["source"]),
            reference=str(data["reference"]),
            market=str(data["market"]),
        )
    )
    return ValuationLine(
        receipt_id=uuid.UUID(data["receipt_id"]),
        number=str(data["number"]),
        commodity_code=None if data["commodity_code"] is None else str(data["commodity_code"]),
        quantity=Decimal(data["quantity"]),
        unit=str(data["unit"]),
        price=price,
        value=_read_money(data["value"]),
        reason=None if data["reason"] is None else Unvalued(data["reason"]),
    )


def valuation_from_json(data: dict[str, Any]) -> CollateralValuation:
    """The valuation stored as ``data``; ValueError (or KeyError) for anything else."""
    if data.get("v") != VERSION:
        raise ValueError(f"unknown stored result version: {data.get('v')!r}")
    total = _read_money(data["total"])
    if total is None:
        raise ValueError("a valuation has a total")
    return CollateralValuation(
        total=total,
        complete=bool(data["complete"]),
        valued_at=datetime.fromisoformat(data["valued_at"]),
        lines=tuple(_read_line(line) for line in data["lines"]),
    )


# -- the integration call ---------------------------------------------------------------------


class ValuationPort:
    """The collateral valuation of a warehouse-receipt pledge (an
    :class:`~domain.integration_calls.ports.IntegrationPort` of kind VALUATION)."""

    def __init__(
        self,
        price_feed: CommodityPriceFeed,
        *,
        client_timeout: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._feed = price_feed
        self._clock = clock
        # The feed is asked once per commodity, all at once: one client timeout in all.
        self.timeout_seconds = client_timeout + LEASE_MARGIN_SECONDS

    async def prepare(self, session: AsyncSession, request: CallRequest) -> Mapping[str, Any]:
        """The deal's currency, its receipts and the funder's latest prices of their
        commodities, read in the funder's scope."""
        deal = (await deals.deals_by_ids(session, [request.deal_id])).get(request.deal_id)
        if deal is None or deal.tenant_id != request.tenant_id:
            raise PermanentFailure("the deal is not visible to its funder")
        if deal.product_line is not ProductLine.WAREHOUSE_RECEIPT_PLEDGE:
            raise PermanentFailure("only a warehouse-receipt pledge is valued")
        ids = list(deal.warehouse_receipt_ids or [])
        if not ids:
            raise PermanentFailure("the deal pledges no receipts")
        found = await collateral.receipts_by_ids(session, ids)
        if len(found) != len(set(ids)):
            raise PermanentFailure("a receipt of the deal is not visible to its funder")
        receipts = [
            ReceiptToValue(
                receipt_id=r.id,
                number=r.number,
                commodity_code=r.commodity_code,
                quantity=r.quantity,
                unit=r.unit,
            )
            for r in (found[i] for i in dict.fromkeys(ids))
        ]
        rows = await prices.latest_prices(
            session,
            tenant_id=request.tenant_id,
            currency=deal.currency,
            commodity_codes={r.commodity_code for r in receipts if r.commodity_code},
        )
        funder_prices = [
            UnitPrice(
                commodity_code=row.commodity_code,
                price=row.price,
                unit=row.unit,
                as_of=row.as_of,
                source=PriceSource.FUNDER,
                reference=str(row.id),
                market=row.source,
            )
            for row in rows
        ]
        return {"currency": deal.currency, "receipts": receipts, "funder_prices": funder_prices}

    async def _quote(self, code: str, currency: str) -> UnitPrice | Unvalued:
        try:
            return UnitPrice.of_quote(await self._feed.quote(PriceQuoteRequest(code, currency)))
        except RequestRejected as exc:
            if exc.code in UNQUOTED_CODES:
                return Unvalued(exc.code)
            raise PermanentFailure(f"{exc.kind.value} refused the request: {exc.code}") from None

    async def call(self, request: CallRequest, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Quote what the funder has no fresh price for; the stored valuation."""
        now = self._clock()
        currency: str = inputs["currency"]
        receipts: list[ReceiptToValue] = list(inputs["receipts"])
        funder_prices: list[UnitPrice] = list(inputs["funder_prices"])
        latest = {(p.commodity_code, p.unit): p for p in funder_prices}
        codes = codes_to_quote(receipts, latest, currency, now)
        # Every quote is awaited (none is left running); the first failure is the call's.
        answers = await asyncio.gather(
            *(self._quote(code, currency) for code in codes), return_exceptions=True
        )
        quotes: dict[str, UnitPrice | Unvalued] = {}
        for code, answer in zip(codes, answers, strict=True):
            if isinstance(answer, BaseException):
                raise answer
            quotes[code] = answer
        valuation = value_pledge(
            receipts,
            currency=currency,
            funder_prices=funder_prices,
            feed_quotes=quotes,
            now=now,
        )
        return valuation_to_json(valuation)
