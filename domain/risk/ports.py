"""What the risk context needs from outside: a credit bureau, an identity verifier and a
commodity price feed.

Each port is a :class:`typing.Protocol` with one call. A call returns a frozen result or raises
one of the typed errors below; nothing else escapes an adapter, so a caller (a job) decides by
type alone whether to retry (:attr:`ProviderError.retryable`) or record a final failure. An
adapter makes one attempt per call: retries, backoff and their bounds belong to the job that
calls it, which also records each attempt.

Pure: no I/O, no provider names, no HTTP. Amounts are :class:`~domain.kernel.money.Money`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from domain.kernel.money import Money

__all__ = [
    "AnswerNotAuthentic",
    "CommodityPriceFeed",
    "ConsentReference",
    "ConsentRequired",
    "CreditBureau",
    "CreditFile",
    "CreditReport",
    "CreditReportRequest",
    "DebtKind",
    "Delinquency",
    "FraudAlert",
    "IdentityRequest",
    "IdentityVerification",
    "IdentityVerifier",
    "Inquiry",
    "MalformedAnswer",
    "OpenDebt",
    "PriceQuote",
    "PriceQuoteRequest",
    "ProviderError",
    "ProviderKind",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RequestRejected",
    "RiskProviders",
]


class ProviderKind(StrEnum):
    """Which kind of outside service answered (or failed to)."""

    CREDIT_BUREAU = "CREDIT_BUREAU"
    IDENTITY = "IDENTITY"
    PRICE_FEED = "PRICE_FEED"
    PAYMENT_RAIL = "PAYMENT_RAIL"
    #: Not a risk provider: the e-signature service, which speaks the same signed protocol
    #: (its port is ``domain.contracts.esign_ports``).
    ESIGNATURE = "ESIGNATURE"
    #: Not a risk provider: the movable-property pledge registry (its port is
    #: ``domain.pledges.ports``).
    PLEDGE_REGISTRY = "PLEDGE_REGISTRY"


# -- errors -------------------------------------------------------------------------------------


class ProviderError(Exception):
    """A call to an outside provider gave no usable answer.

    ``request_id`` is the ID the call was sent with (``None`` when nothing was sent), so a
    failure can be found in the provider's logs.
    """

    #: Whether the same call may succeed later (the job retries it, within its bound).
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, kind: ProviderKind, request_id: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only fields do not survive the default (positional) pickling, and a
        # failure may cross a process boundary on its way to the job that records it.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[ProviderError], message: str, fields: dict[str, Any]) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


class ProviderTimeout(ProviderError):
    """No whole answer within the configured time (connecting, sending or reading)."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered with a server error (5xx)."""

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderKind,
        request_id: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, kind=kind, request_id=request_id)
        #: The HTTP status, or ``None`` when no answer arrived (refused or reset connection).
        self.status = status


class MalformedAnswer(ProviderError):
    """An answer arrived but is not what the protocol promises (shape, types, values).
    Retryable: a provider's bad deploy is usually rolled back, and the job's bound stops it."""


class AnswerNotAuthentic(MalformedAnswer):
    """The answer's signature is missing, invalid, stale or not for this request: its content
    may have been changed on the way and is not used."""


class RequestRejected(ProviderError):
    """The provider refused the request (4xx): wrong credentials, invalid input, unknown
    commodity. Sending it again unchanged gets the same answer."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderKind,
        request_id: str | None = None,
        status: int,
        code: str,
    ):
        super().__init__(message, kind=kind, request_id=request_id)
        self.status = status
        #: The provider's reason, e.g. ``UNAUTHENTICATED``, ``INVALID_RESIDENT_ID``.
        self.code = code


class ConsentRequired(ProviderError):
    """A credit report was asked for without a recorded consent; nothing was sent."""

    retryable: ClassVar[bool] = False


# -- credit bureau ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentReference:
    """The applicant's recorded credit consent that authorises a report pull. The bureau keeps
    it with its own record of the inquiry."""

    #: Where the consent is recorded, e.g. the deal that holds it.
    reference: str
    #: Version of the consent text the applicant agreed to.
    text_version: str
    #: How it was given (``ONLINE_CHECKBOX``, ``SMS_CODE``, ...).
    method: str
    given_at: datetime


@dataclass(frozen=True, slots=True)
class CreditReportRequest:
    """Whose report, under which consent. ``consent`` is ``None`` when none is recorded: an
    adapter then raises :class:`ConsentRequired` without calling out.

    The subject is a person (``resident_id``) or an enterprise (``social_credit_code``, its
    unified social credit code, for the bureau's enterprise credit report); exactly one is
    given, with the subject's registered name."""

    resident_id: str | None
    full_name: str
    consent: ConsentReference | None
    #: Why the report is pulled (recorded as the inquiry's reason at the bureau).
    purpose: str = "LOAN_APPLICATION"
    #: The same key gets the same report back instead of a second inquiry (a retried pull).
    idempotency_key: str | None = None
    social_credit_code: str | None = None

    def __post_init__(self) -> None:
        if (self.resident_id is None) == (self.social_credit_code is None):
            raise ValueError("a report is of a person or of an enterprise: name exactly one")

    @property
    def has_consent(self) -> bool:
        """Whether a usable consent is attached."""
        return self.consent is not None and bool(self.consent.reference.strip())


class CreditFile(StrEnum):
    """How much history the bureau holds."""

    #: Enough history to score.
    FULL = "FULL"
    #: Too little history for a score (no or very few accounts).
    THIN = "THIN"


class DebtKind(StrEnum):
    """Kinds of open credit accounts."""

    CREDIT_CARD = "CREDIT_CARD"
    MORTGAGE = "MORTGAGE"
    AUTO_LOAN = "AUTO_LOAN"
    CONSUMER_LOAN = "CONSUMER_LOAN"
    BUSINESS_LOAN = "BUSINESS_LOAN"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class OpenDebt:
    """An open account and what is owed on it."""

    kind: DebtKind
    lender: str
    balance: Money
    #: The agreed instalment (for cards, the minimum payment).
    monthly_payment: Money
    opened_on: date
    #: Revolving accounts only.
    credit_limit: Money | None = None


@dataclass(frozen=True, slots=True)
class Delinquency:
    """A payment that was (or still is) past due."""

    account_kind: DebtKind
    days_past_due: int
    amount_past_due: Money
    reported_on: date
    #: Still unpaid (``False``: cured since).
    current: bool


@dataclass(frozen=True, slots=True)
class Inquiry:
    """Someone else pulled this report."""

    inquirer: str
    reason: str
    inquired_on: date


@dataclass(frozen=True, slots=True)
class FraudAlert:
    """A warning the bureau holds against the identity (reported theft, synthetic identity)."""

    code: str
    reported_on: date


@dataclass(frozen=True, slots=True)
class CreditReport:
    """A credit report as the bureau gave it. Kept with the deal and shown only to the funder."""

    #: The bureau's reference for this report.
    report_id: str
    #: The ID the pull was sent with.
    request_id: str
    generated_at: datetime
    file: CreditFile
    #: ``None`` on a thin file.
    score: int | None
    #: Which scoring model produced ``score``.
    score_model: str | None
    debts: tuple[OpenDebt, ...] = ()
    delinquencies: tuple[Delinquency, ...] = ()
    inquiries: tuple[Inquiry, ...] = ()
    fraud_alerts: tuple[FraudAlert, ...] = ()

    @property
    def current_delinquencies(self) -> tuple[Delinquency, ...]:
        """Delinquencies not yet cured."""
        return tuple(d for d in self.delinquencies if d.current)

    def monthly_debt_service(self, currency: str) -> Money:
        """What the open debts in ``currency`` cost a month (the numerator of debt-to-income).
        Debts in other currencies raise :class:`~domain.kernel.money.CurrencyMismatch`."""
        return Money.sum((d.monthly_payment for d in self.debts), currency)


@runtime_checkable
class CreditBureau(Protocol):
    """Pulls credit reports."""

    async def pull_report(self, request: CreditReportRequest) -> CreditReport:
        """The subject's report. Raises :class:`ConsentRequired` (nothing sent) without a
        consent, otherwise one of the :class:`ProviderError` kinds when no report comes."""
        ...


# -- identity -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentityRequest:
    """A person to verify: resident ID and name against the register, and a liveness capture
    (a face session the applicant completed in the provider's capture flow)."""

    resident_id: str
    full_name: str
    liveness_session: str
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityVerification:
    """The verifier's answer. ``verified`` only when every check passed and no alert stands."""

    verification_id: str
    request_id: str
    checked_at: datetime
    #: The resident ID exists in the register.
    id_number_valid: bool
    #: The register's name for that ID is the name given.
    name_matches: bool
    liveness_passed: bool
    #: The verifier's liveness confidence, 0 to 1.
    liveness_score: Decimal
    #: Reasons to suspect fraud (reported lost or stolen ID, a face seen with another ID, ...).
    fraud_alerts: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        """Every check passed and there is no fraud alert."""
        return (
            self.id_number_valid
            and self.name_matches
            and self.liveness_passed
            and not self.fraud_alerts
        )


@runtime_checkable
class IdentityVerifier(Protocol):
    """Verifies that an applicant is who they say they are, and present."""

    async def verify(self, request: IdentityRequest) -> IdentityVerification:
        """The checks' outcome; a :class:`ProviderError` kind when no answer comes."""
        ...


# -- collateral prices --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceQuoteRequest:
    """The current price of a commodity (an exchange or spot-market code)."""

    commodity_code: str
    currency: str


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """A price for one unit of a commodity, as the feed quoted it."""

    quote_id: str
    request_id: str
    commodity_code: str
    #: Price of one ``unit``.
    price: Money
    #: The unit priced, e.g. ``t`` (tonne) or ``kg``.
    unit: str
    #: When the market set this price (it may be older than the answer).
    as_of: datetime
    #: Which market or publication the price comes from.
    source: str

    def age_days(self, now: datetime) -> int:
        """Whole days between the price and ``now`` (staleness is the valuation rule's call)."""
        return (now - self.as_of).days


@runtime_checkable
class CommodityPriceFeed(Protocol):
    """Quotes commodity prices for valuing pledged goods."""

    async def quote(self, request: PriceQuoteRequest) -> PriceQuote:
        """The latest price; a :class:`ProviderError` kind when none comes (an unknown
        commodity is :class:`RequestRejected`)."""
        ...


@dataclass(frozen=True, slots=True)
class RiskProviders:
    """The adapters a deployment uses for each port."""

    bureau: CreditBureau
    identity: IdentityVerifier
    price_feed: CommodityPriceFeed
