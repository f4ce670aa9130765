"""GraphQL types of deals: the application, its timeline and connections."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.calendars.types import BusinessDayConvention
from api.collateral.types import PurchaseOrderNode, WarehouseReceiptNode
from api.contracts.types import ContractType
from api.loans.types import LoanNode
from api.parties.types import DealApplicant, OrganizationNode, PersonNode
from api.pledges.types import PledgeType
from api.prefetch import Prefetched, kept, node_fields, related
from api.products.types import (
    CalendarWarning,
    ProductLine,
    ProductNode,
    ProductVersionType,
    QuoteInstallment,
    TermUnit,
    encode_cursor,
    installments_of,
    warnings_of,
)
from api.relay import load_node, load_node_list, load_nodes
from api.reviews.types import DealReviewType
from api.risk.types import CreditReport, IdentityVerification, RiskAssessment, RiskCheck
from api.risk.valuation_types import CollateralValuation
from api.scalars import MoneyType
from api.tenancy.types import TenantNode, UserNode
from domain.contracts.policy import contract_visible
from domain.deals import models, policy, service
from domain.integration_calls.models import CallState, IntegrationKind
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.loans.policy import loan_visible
from domain.pledges import service as pledges
from domain.reviews.policy import reviews_visible
from domain.risk.policy import risk_visible

DealStatus = strawberry.enum(
    models.DealStatus,
    description="Where a deal is in its lifecycle: DRAFT -> SUBMITTED -> FIRST_REVIEW -> "
    "SECOND_REVIEW -> APPROVED -> SIGNING -> SIGNED -> DISBURSING -> ACTIVE -> SETTLED, with "
    "RETURNED, REJECTED, WITHDRAWN, EXPIRED, OVERDUE, COLLECTIONS, SOLD and WRITTEN_OFF.",
)
DealChannel = strawberry.enum(
    models.DealChannel,
    description="How an application reached the funder: a partner app, the funder's own app, "
    "or the applicant directly.",
)
ConsentMethod = strawberry.enum(
    models.ConsentMethod, description="How the applicant gave its credit consent."
)
DealActorKind = strawberry.enum(
    models.ActorKind,
    name="DealActorKind",
    description="Who made a change on a deal: the applicant, the partner app it came "
    "through, the funder, the platform operator or the system.",
)


@strawberry.type(description="What the applicant asks for.")
class LoanRequest:
    amount: MoneyType = strawberry.field(description="The amount applied for.")
    term: int = strawberry.field(description="The term, in the product's term unit.")
    term_unit: TermUnit = strawberry.field(description="Months or days.")  # type: ignore[valid-type]
    purpose: str = strawberry.field(description="What the money is for.")
    monthly_income: MoneyType | None = strawberry.field(
        description="The applicant's declared monthly income, if declared."
    )


@strawberry.type(description="The applicant's authorisation to pull credit reports.")
class CreditConsent:
    given_at: datetime = strawberry.field(description="When the consent was given.")
    text_version: str = strawberry.field(description="The version of the consent text agreed.")
    method: ConsentMethod = strawberry.field(description="How it was given.")  # type: ignore[valid-type]


@strawberry.type(
    name="DealTimelineEntry",
    description="One change of a deal: its creation, an edit or a transition, by whom and when.",
)
class DealTimelineEntry:
    action: str = strawberry.field(
        description="What happened: deal.create, deal.update, deal.submit, deal.withdraw, ..."
    )
    from_status: DealStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="The status before; null for the creation."
    )
    to_status: DealStatus = strawberry.field(description="The status after.")  # type: ignore[valid-type]
    occurred_at: datetime = strawberry.field(description="When it happened.")
    actor_kind: DealActorKind = strawberry.field(description="Who made the change.")  # type: ignore[valid-type]
    actor_client_id: str | None = strawberry.field(
        description="The OAuth client the change came through."
    )
    note: str | None = strawberry.field(description="A note, e.g. why a deal was withdrawn.")
    actor_user_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> DealTimelineEntry:
        # An ORM row or a plain one: only the columns are read.
        return cls(
            action=row.action,
            from_status=row.from_status,
            to_status=row.to_status,
            occurred_at=row.occurred_at,
            actor_kind=row.actor_kind,
            actor_client_id=row.actor_client_id,
            note=row.note,
            actor_user_pk=row.actor_user_id,
        )

    @strawberry.field(
        description="The user who made the change, when you may see that user (the funder's "
        "own staff, yourself); null otherwise."
    )
    async def actor_user(self, info: Info) -> UserNode | None:
        return await load_node(info, UserNode, self.actor_user_pk)


@strawberry.type(description="A deal's repayment schedule, as its product version shapes it.")
class DealSchedule:
    start_date: date = strawberry.field(description="Value date interest runs from.")
    maturity_date: date = strawberry.field(description="Due date of the last instalment.")
    business_day_convention: BusinessDayConvention = strawberry.field(  # type: ignore[valid-type]
        description="How due dates were moved off non-working days."
    )
    installments: list[QuoteInstallment] = strawberry.field(description="The schedule.")
    calendar_warnings: list[CalendarWarning] = strawberry.field(
        description="Due dates placed beyond the known calendar."
    )
    total_interest: MoneyType = strawberry.field(description="Interest over the whole term.")
    total_repayable: MoneyType = strawberry.field(description="Sum of all instalments.")


@strawberry.type(
    name="Deal",
    description="A financing case from application to closure: the applicant, the loan "
    "request, the credit consent, the collateral, the product version it was applied under "
    "and its timeline.",
)
class DealNode(relay.Node, Prefetched):
    id: relay.NodeID[str]
    status: DealStatus = strawberry.field(description="Where the deal is in its lifecycle.")  # type: ignore[valid-type]
    product_line: ProductLine = strawberry.field(description="The product line.")  # type: ignore[valid-type]
    channel: DealChannel = strawberry.field(description="How the application arrived.")  # type: ignore[valid-type]
    channel_client_id: str = strawberry.field(
        description="The OAuth client the application came through."
    )
    product_version: int = strawberry.field(
        description="The version of the product's terms the deal was applied under (kept "
        "when the product publishes a newer one)."
    )
    request: LoanRequest = strawberry.field(description="The loan request.")
    consent: CreditConsent | None = strawberry.field(
        description="The applicant's credit consent; required before submission."
    )
    created_at: datetime = strawberry.field(description="When the application was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    submitted_at: datetime | None = strawberry.field(description="When it was last submitted.")
    withdrawn_at: datetime | None = strawberry.field(description="When it was withdrawn.")
    withdrawal_reason: str | None = strawberry.field(description="Why it was withdrawn.")
    liveness_session: str | None = strawberry.field(
        description="The identity provider's reference of the applicant's face capture."
    )
    # An ORM instance (a mutation's) or a plain row (a page's): only columns are read.
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> DealNode:
        consent = None
        if row.consent_given_at and row.consent_text_version and row.consent_method:
            consent = CreditConsent(
                given_at=row.consent_given_at,
                text_version=row.consent_text_version,
                method=row.consent_method,
            )
        return cls(
            id=str(row.id),
            status=row.status,
            product_line=row.product_line,
            channel=row.channel,
            channel_client_id=row.channel_client_id,
            product_version=row.product_version,
            request=LoanRequest(
                amount=MoneyType.of(Money(row.amount_minor, row.currency)),
                term=row.term,
                term_unit=row.term_unit,
                purpose=row.purpose,
                monthly_income=None
                if row.monthly_income_minor is None
                else MoneyType.of(Money(row.monthly_income_minor, row.currency)),
            ),
            liveness_session=row.liveness_session,
            consent=consent,
            created_at=row.created_at,
            updated_at=row.updated_at,
            submitted_at=row.submitted_at,
            withdrawn_at=row.withdrawn_at,
            withdrawal_reason=row.withdrawal_reason,
            row=row,
        )

    @strawberry.field(description="The funder the application is made to.")
    async def funder(self, info: Info) -> TenantNode | None:
        return await load_node(info, TenantNode, self.row.tenant_id)

    @strawberry.field(
        description="The product applied for, in its current state, when you may see it (its "
        "funder's staff always; others while it is listed). The terms the deal applied under "
        "are in `terms`."
    )
    async def product(self, info: Info) -> ProductNode | None:
        return await load_node(info, ProductNode, self.row.product_id)

    @strawberry.field(
        description="The terms of the exact product version the deal was applied under."
    )
    async def terms(self, info: Info) -> ProductVersionType | None:
        key = (self.row.tenant_id, self.row.product_id, self.row.product_version)
        row = await info.context.loaders.deal_versions.load(key)
        return ProductVersionType.from_row(row) if row is not None else None

    @strawberry.field(description="Who applies: a person or a company.")
    def applicant(self, info: Info) -> DealApplicant | None:
        # Loaded with the page (api.prefetch), or one at a time for a deal reached otherwise.
        return kept(self, "applicant", lambda: self._applicant(info))  # type: ignore[return-value]

    async def _applicant(self, info: Info) -> PersonNode | OrganizationNode | None:
        if self.row.applicant_person_id is not None:
            return await load_node(info, PersonNode, self.row.applicant_person_id)
        return await load_node(info, OrganizationNode, self.row.applicant_organization_id)

    @strawberry.field(description="The partner whose app the application came through, if any.")
    async def partner(self, info: Info) -> OrganizationNode | None:
        return await load_node(info, OrganizationNode, self.row.channel_organization_id)

    @strawberry.field(
        description="The purchase order financed (ORDER_FINANCING); needs collateral:read."
    )
    async def purchase_order(self, info: Info) -> PurchaseOrderNode | None:
        return await load_node(info, PurchaseOrderNode, self.row.purchase_order_id)

    @strawberry.field(
        description="The warehouse receipts pledged (WAREHOUSE_RECEIPT_PLEDGE), in the order "
        "given; needs collateral:read."
    )
    async def warehouse_receipts(self, info: Info) -> list[WarehouseReceiptNode]:
        return await load_node_list(info, WarehouseReceiptNode, self.row.warehouse_receipt_ids)

    @strawberry.field(
        description="The schedule the request would repay on under the deal's product version: "
        "its business-day convention and holiday calendar move each due date, and interest of "
        "a shifted period accrues to the unadjusted scheduled date. Null when the request "
        "makes no schedule."
    )
    async def repayment_schedule(
        self,
        info: Info,
        start_date: Annotated[
            date | None,
            strawberry.argument(
                description="Value date; today in the funder's time zone when omitted."
            ),
        ] = None,
    ) -> DealSchedule | None:
        async with info.context.db() as session:
            found = await service.repayment_schedule(
                session, info.context.actor, deal=self.row, start_date=start_date
            )
        if found is None:
            return None
        schedule = found.schedule
        return DealSchedule(
            start_date=schedule.terms.start_date,
            maturity_date=schedule.maturity_date,
            business_day_convention=schedule.terms.business_day_rule,
            installments=installments_of(schedule, found.calendar_known),
            calendar_warnings=warnings_of(found.calendar_warnings),
            total_interest=MoneyType.of(schedule.total_interest),
            total_repayable=MoneyType.of(schedule.total_payment),
        )

    @strawberry.field(description="Every change of the deal, oldest first, with who and when.")
    def timeline(self, info: Info) -> list[DealTimelineEntry]:
        return kept(self, "timeline", lambda: self._timeline(info))  # type: ignore[return-value]

    async def _timeline(self, info: Info) -> list[DealTimelineEntry]:
        rows = await info.context.loaders.deal_events.load((self.row.tenant_id, self.row.id))
        return [DealTimelineEntry.from_row(r) for r in rows or []]

    async def _risk_checks(self, info: Info) -> list[Any]:
        # The funder's own staff with risk:read only, whichever path reached the deal.
        if not risk_visible(info.context.actor, self.row.tenant_id):
            return []
        rows = await info.context.loaders.risk_checks.load((self.row.tenant_id, self.row.id))
        return list(rows or [])

    async def _result(self, info: Info, kind: IntegrationKind) -> dict[str, Any] | None:
        for call in await self._risk_checks(info):
            if call.kind is kind and call.state is CallState.SUCCEEDED:
                result: dict[str, Any] | None = call.result
                return result
        return None

    @strawberry.field(
        description="The checks the deal needs from outside providers (credit report, "
        "identity, collateral valuation), each with its state and attempts. Only the funder's "
        "staff holding risk:read see them; empty for everyone else."
    )
    async def risk_checks(self, info: Info) -> list[RiskCheck]:
        return [RiskCheck.from_row(r) for r in await self._risk_checks(info)]

    @strawberry.field(
        description="The applicant's credit report once the bureau answered (a person's, or "
        "the applicant enterprise's). The funder's staff with risk:read only; null otherwise."
    )
    async def credit_report(self, info: Info) -> CreditReport | None:
        stored = await self._result(info, IntegrationKind.BUREAU)
        return None if stored is None else CreditReport.of(stored)

    @strawberry.field(
        description="The applicant person's identity verification once the verifier answered. "
        "The funder's staff with risk:read only; null otherwise."
    )
    async def identity_verification(self, info: Info) -> IdentityVerification | None:
        stored = await self._result(info, IntegrationKind.IDENTITY)
        return None if stored is None else IdentityVerification.of(stored)

    @strawberry.field(
        description="The value of the pledged goods once valued (warehouse-receipt pledges): "
        "the funder's own recent commodity prices first, else the price feed's. The funder's "
        "staff with risk:read only; null otherwise."
    )
    async def collateral_valuation(self, info: Info) -> CollateralValuation | None:
        stored = await self._result(info, IntegrationKind.VALUATION)
        return None if stored is None else CollateralValuation.of(stored)

    @strawberry.field(
        description="The scorecard's verdict on the latest submission, once every risk check "
        "was final. The funder's staff with risk:read only; null otherwise."
    )
    async def risk_assessment(self, info: Info) -> RiskAssessment | None:
        if not risk_visible(info.context.actor, self.row.tenant_id):
            return None
        row = await info.context.loaders.risk_assessments.load((self.row.tenant_id, self.row.id))
        return None if row is None else RiskAssessment.of(row)

    @strawberry.field(
        description="The deal's reviews, by round and stage (FIRST, SECOND): who holds or "
        "decided each, the decisions, notes and approved terms. The funder's internal record: "
        "only its own principals holding deals:read see them; empty for everyone else."
    )
    async def reviews(self, info: Info) -> list[DealReviewType]:
        if not reviews_visible(info.context.actor, self.row.tenant_id):
            return []
        rows = await info.context.loaders.deal_reviews.load((self.row.tenant_id, self.row.id))
        return [DealReviewType.from_row(r) for r in rows or []]

    @strawberry.field(
        description="The deal's current contract (its latest version that is not VOID), once "
        "prepared: to the funder's staff, and to the applicant, who will sign it; null to "
        "anyone else, and before a contract is prepared."
    )
    async def contract(self, info: Info) -> ContractType | None:
        row = self.row
        if not contract_visible(
            info.context.actor,
            tenant_id=row.tenant_id,
            applicant_person_id=row.applicant_person_id,
            applicant_organization_id=row.applicant_organization_id,
        ):
            return None
        found = await info.context.loaders.deal_contracts.load((row.tenant_id, row.id))
        return None if found is None else ContractType.from_row(found)

    @strawberry.field(
        description="The loan the deal became once its payout settled (ACTIVE and after): "
        "principal, value and maturity dates, the fixed schedule and the ledger balances. "
        "The funder's staff only; null before the settlement and for everyone else."
    )
    async def loan(self, info: Info) -> LoanNode | None:
        if not loan_visible(info.context.actor, self.row.tenant_id):
            return None
        row = await info.context.loaders.deal_loans.load((self.row.tenant_id, self.row.id))
        return None if row is None else LoanNode.from_row(row)

    @strawberry.field(
        description="The pledges of a warehouse-receipt deal's receipts, requested once the "
        "deal is SIGNED: registry filing and the warehouse's custody confirmation, both "
        "needed before disbursement. The funder's staff and the platform; empty for everyone "
        "else. Query cost: a list of up to 20."
    )
    async def pledges(self, info: Info) -> list[PledgeType]:
        async with info.context.db() as session:
            rows = await pledges.pledges_of_deal(session, info.context.actor, self.row)
        return [PledgeType.from_row(r) for r in rows]

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[DealNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.deals,
            scope=Scope.DEALS_READ,
            to_node=cls.from_row,
            visible=policy.deal_visible,
        )


# -- connections ----------------------------------------------------------------------------------


@strawberry.type(description="A deal and its cursor in a connection.")
class DealEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this deal.")
    node: DealNode = strawberry.field(description="The deal.")


@strawberry.type(description="A page of deals, oldest first.")
class DealConnection:
    edges: list[DealEdge] = strawberry.field(description="The deals of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


async def with_related(info: Info, page: DealConnection) -> DealConnection:
    """``page`` with the applicants and timelines its nodes show loaded for the whole page
    (:mod:`api.prefetch`): one batch each, through the fields' own loaders and read rules."""
    nodes = [edge.node for edge in page.edges]
    wanted = node_fields(info) if nodes else frozenset()
    if "applicant" in wanted:
        persons = await related(info, PersonNode, (n.row.applicant_person_id for n in nodes))
        companies = await related(
            info, OrganizationNode, (n.row.applicant_organization_id for n in nodes)
        )
        for n in nodes:
            person, company = n.row.applicant_person_id, n.row.applicant_organization_id
            n.keep(
                "applicant",
                persons.get(person) if person is not None else companies.get(company),
            )
    if "timeline" in wanted:
        keys = [(n.row.tenant_id, n.row.id) for n in nodes]
        timelines = await info.context.loaders.deal_events.load_many(keys)
        for n, rows in zip(nodes, timelines, strict=True):
            n.keep("timeline", [DealTimelineEntry.from_row(r) for r in rows or []])
    return page


def deal_connection(rows: Sequence[Any], first: int, prefix: str) -> DealConnection:
    """A connection from up to ``first + 1`` rows (the extra one only says there is more)."""
    edges = [
        DealEdge(
            cursor=encode_cursor(prefix, r.created_at, r.tenant_id, r.id),
            node=DealNode.from_row(r),
        )
        for r in rows[:first]
    ]
    return DealConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > first,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


__all__ = [
    "ConsentMethod",
    "DealChannel",
    "DealConnection",
    "DealNode",
    "DealStatus",
    "DealTimelineEntry",
    "deal_connection",
]
