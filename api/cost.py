"""Query cost, computed before execution and charged against a per-client leaky bucket, as
Shopify's GraphQL Admin API does.

Every query or mutation's cost is computed from its parsed, validated document and its
variables before any resolver runs (:class:`CostModel`):

- scalars, enums and ``__typename`` cost 0, and so does introspection;
- an object costs 1 (an interface or union: its costliest possible type), except the value
  objects in :data:`FREE_TYPES`, which come with their parent (``Money``, ``PageInfo``,
  ``UserError``, a quote's instalments...);
- a connection costs 2 plus ``first`` (or ``last``) times the cost of one edge, whose ``node``
  costs 1 plus what it selects (a size the resolver refuses, outside 1 to 100, counts as 0);
- a list of objects costs its declared size (:data:`LIST_SIZES`; ``nodes`` the number of IDs
  given) times the cost of one item;
- fields in :data:`FIELD_WEIGHTS` cost their declared weight instead of 1 (``quote``: 50);
- every mutation field costs :data:`MUTATION_COST` (10) plus what its payload selects.

Fragments are expanded where they apply and every alias counts, as the executor would run
them; ``@skip`` and ``@include`` are honoured. An operation over the maximum (the setting
``max_query_cost``, or the bucket's capacity if smaller) is refused with ``MAX_COST_EXCEEDED``
and nothing runs. Otherwise its requested cost is taken from the caller's bucket
(:class:`BucketStore`; per token's client and user, or per remote address when anonymous): an
empty bucket refuses it with ``THROTTLED`` (HTTP 429 with ``Retry-After``). After execution the
bucket gets back the difference between the requested and the actual cost, counted on what
was returned (the real number of edges and items). Every response to a valid document reports
``extensions.cost``."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
    value_from_ast_untyped,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from api.pagination import MAX_PAGE
from domain.deals.policy import MAX_RECEIPTS
from tenants.tokens import Principal

MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
THROTTLED = "THROTTLED"

OBJECT_COST: Final = 1
CONNECTION_COST: Final = 2
MUTATION_COST: Final = 10
#: Fields whose work is out of proportion to what they return; the weight replaces the 1 an
#: object costs. A quote builds a schedule and solves for two APRs.
#: A schedule is computed for each (a deal's schedule as dear as a quote's).
FIELD_WEIGHTS: Final[Mapping[str, int]] = {"Query.quote": 50, "Deal.repaymentSchedule": 50}
#: Value objects computed with (or stored in) their parent: nothing is loaded for them.
FREE_TYPES: Final = frozenset(
    {
        "Money",
        "PageInfo",
        "UserError",
        "Quote",
        "QuoteInstallment",
        "CalendarWarning",
        "DealSchedule",
        "LoanRequest",
        "CreditConsent",
        "OriginationFee",
        "LatePenalty",
        "PrepaymentPenalty",
        "ConsumerEligibility",
        "OrderFinancingTerms",
        "WarehousePledgeTerms",
    }
)
#: How many items each list of objects is counted as before execution: its cap where the
#: domain enforces one, otherwise an assumed size (the actual cost counts the real number).
LIST_SIZES: Final[Mapping[str, int]] = {
    "Deal.warehouseReceipts": MAX_RECEIPTS,
    # One pledge per receipt of the deal.
    "Deal.pledges": MAX_RECEIPTS,
    "Deal.timeline": 50,
    # One check per kind; a report's lists are as the bureau keeps them (a few accounts).
    "Deal.riskChecks": 3,
    # Two reviews a round; a deal returned and resubmitted a few times has a few rounds.
    "Deal.reviews": 10,
    "CreditReport.debts": 20,
    "CreditReport.delinquencies": 20,
    "CreditReport.inquiries": 20,
    "CreditReport.fraudAlerts": 5,
    "RiskAssessment.results": 8,
    "CollateralValuation.lines": MAX_RECEIPTS,
    # A contract's schedule: at most 60 monthly instalments (products offer 1-60 months).
    "ContractTermsSummary.schedule": 60,
    # Borrower, core enterprise (order financing), funder.
    "Contract.signers": 3,
    # A loan's fixed schedule (at most 60 monthly instalments) and its balances by account.
    "Loan.schedule": 60,
    "Loan.balances": 12,
    # A loan's newest entries (api.context.NEWEST_ENTRIES), a few lines each.
    "Loan.ledgerEntries": 50,
    "LedgerEntry.lines": 10,
    # One per currency the funder lends in; a line per account kind.
    "Query.trialBalance": 3,
    "TrialBalance.lines": 12,
    "RiskAssessment.reasons": 8,
    "Product.versions": 20,
    "PurchaseOrder.documents": 20,
    "WarehouseReceipt.documents": 20,
    "OrderFinancingTerms.eligibleCoreEnterprises": 20,
    "WarehousePledgeTerms.acceptedWarehouses": 20,
    "User.memberships": 10,
    # An official year has some 30 entries (holidays and make-up working days).
    "Query.calendarDays": 40,
}
#: Lists as long as one of their arguments.
SIZED_BY_ARGUMENT: Final[Mapping[str, str]] = {"Query.nodes": "ids"}
#: A list of objects not declared above (a test keeps this from happening).
DEFAULT_LIST_SIZE: Final = MAX_PAGE

_ESTIMATE: Final = object()  # walking the document, not a result


# --- the cost of a document --------------------------------------------------------------


def is_connection(type_: GraphQLCompositeType) -> bool:
    """A Relay connection type: ``edges`` and ``pageInfo``."""
    return (
        is_object_type(type_)
        and type_.name.endswith("Connection")
        and {"edges", "pageInfo"} <= set(type_.fields)
    )


@dataclass(frozen=True)
class _Operation:
    schema: GraphQLSchema
    operation: OperationDefinitionNode
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]


class CostModel:
    """The requested and actual cost of operations on one schema (pure: no I/O)."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def requested(
        self,
        document: DocumentNode,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> int:
        """The cost of the selected operation, before execution. ``document`` is valid."""
        op = self._operation(document, operation_name, variables)
        return _Walk(op).root(_ESTIMATE)

    def actual(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        data: Mapping[str, Any],
    ) -> int:
        """The cost of what the operation returned in ``data``."""
        op = self._operation(document, operation_name, variables)
        return _Walk(op).root(data)

    def _operation(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> _Operation:
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            raise ValueError(f"no operation {operation_name!r} in the document")
        given = dict(variables or {})
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in given and definition.default_value is not None:
                given[name] = value_from_ast_untyped(definition.default_value)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return _Operation(self.schema, operation, fragments, given)


class _Walk:
    """One walk over an operation, of the document alone or of the document and its result."""

    def __init__(self, op: _Operation) -> None:
        self.op = op
        self.schema = op.schema
        # A result repeats the same selections once per item: what they select (the fields
        # that can cost anything, collected) and how each is counted depend only on the
        # type and the nodes, so each is worked out once per walk.
        self._costly: dict[tuple[str, tuple[int, ...]], list[tuple[str, list[FieldNode]]]] = {}
        self._plans: dict[tuple[str, tuple[int, ...], bool], _Plan] = {}

    def root(self, data: object) -> int:
        kind = self.op.operation.operation
        root = self.schema.get_root_type(kind)
        assert root is not None
        mutation = kind is OperationType.MUTATION
        return self.fields_of(root, [self.op.operation.selection_set], data, None, mutation)

    def composite(
        self,
        type_: GraphQLCompositeType,
        selection_sets: list[SelectionSetNode],
        data: object,
        page: int | None,
    ) -> int:
        if is_abstract_type(type_):
            # The runtime type is one of these; count the costliest.
            possible = self.schema.get_possible_types(type_)
            return max((self.fields_of(t, selection_sets, data, page) for t in possible), default=0)
        assert isinstance(type_, GraphQLObjectType)
        return self.fields_of(type_, selection_sets, data, page)

    def fields_of(
        self,
        type_: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        data: object,
        page: int | None,
        mutation: bool = False,
    ) -> int:
        total = 0
        for key, nodes in self.costly_fields(type_, selection_sets):
            if data is _ESTIMATE:
                value: object = _ESTIMATE
            elif isinstance(data, Mapping) and key in data:
                value = data[key]
            else:
                continue  # not returned (another runtime type's field)
            total += self.field(type_, nodes, value, page, mutation)
        return total

    def costly_fields(
        self, type_: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> list[tuple[str, list[FieldNode]]]:
        """The collected fields of ``type_`` that may cost something: neither leaves nor
        ``__typename`` and introspection, which cost 0."""
        memo = (type_.name, tuple(map(id, selection_sets)))
        found = self._costly.get(memo)
        if found is None:
            found = self._costly[memo] = [
                (key, nodes)
                for key, nodes in self.collect(type_, selection_sets).items()
                if not nodes[0].name.value.startswith("__")
                and not is_leaf_type(get_named_type(type_.fields[nodes[0].name.value].type))
            ]
        return found

    def plan(self, parent: GraphQLObjectType, nodes: list[FieldNode], mutation: bool) -> _Plan:
        """How a composite field is counted, whatever it returns."""
        memo = (parent.name, tuple(map(id, nodes)), mutation)
        found = self._plans.get(memo)
        if found is not None:
            return found
        name = nodes[0].name.value
        definition = parent.fields[name]
        named = get_named_type(definition.type)
        assert isinstance(named, GraphQLCompositeType)
        key = f"{parent.name}.{name}"
        connection = is_connection(named)
        edges = _is_list(definition.type) and is_connection(parent) and name == "edges"
        found = self._plans[memo] = _Plan(
            named=named,
            subsets=[n.selection_set for n in nodes if n.selection_set],
            inner_page=self.page_size(nodes[0]) if connection else None,
            weight=0 if edges else self.weight(key, named, mutation, connection),
            listed=_is_list(definition.type),
            edges=edges,
            size=self.list_size(key, nodes[0]) if _is_list(definition.type) else 0,
        )
        return found

    def field(
        self,
        parent: GraphQLObjectType,
        nodes: list[FieldNode],
        value: object,
        page: int | None,
        mutation: bool,
    ) -> int:
        plan = self.plan(parent, nodes, mutation)
        named, subsets, inner_page, weight = plan.named, plan.subsets, plan.inner_page, plan.weight
        if not plan.listed:
            if value is None:
                return weight
            return weight + self.composite(named, subsets, value, inner_page)
        size = (page if page is not None else 0) if plan.edges else plan.size
        if value is _ESTIMATE:
            return size * (weight + self.composite(named, subsets, _ESTIMATE, inner_page))
        if not isinstance(value, list):
            return 0
        return sum(
            weight + self.composite(named, subsets, item, inner_page)
            for item in value
            if item is not None
        )

    @staticmethod
    def weight(key: str, named: GraphQLCompositeType, mutation: bool, connection: bool) -> int:
        if key in FIELD_WEIGHTS:
            return FIELD_WEIGHTS[key]
        if mutation:
            return MUTATION_COST
        if connection:
            return CONNECTION_COST
        if named.name in FREE_TYPES or named.name.endswith("Edge"):
            return 0
        return OBJECT_COST

    def list_size(self, key: str, node: FieldNode) -> int:
        if key in SIZED_BY_ARGUMENT:
            value = self.argument(node, SIZED_BY_ARGUMENT[key])
            if isinstance(value, list):
                return len(value)
            return 1 if value is not None else 0  # a single value is a list of one
        return LIST_SIZES.get(key, DEFAULT_LIST_SIZE)

    def page_size(self, node: FieldNode) -> int:
        """``first`` or ``last``. A size outside 1 to the page cap counts as none: every
        connection's resolver refuses it (``check_first``) before loading anything, with an
        error that says more than a cost would; so does the executor a size that is not a
        number."""
        sizes = [self.argument(node, name) for name in ("first", "last")]
        usable = [
            s
            for s in sizes
            if isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_PAGE
        ]
        return max(usable, default=0)

    def argument(self, node: FieldNode, name: str) -> object:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self.value(argument.value)
        return None

    def value(self, node: ValueNode) -> object:
        if isinstance(node, VariableNode):
            return self.op.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return [self.value(v) for v in node.values]
        return value_from_ast_untyped(node, dict(self.op.variables))

    # The executor's field collection (CollectFields in the spec), without its bookkeeping.
    def collect(
        self, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._collect(type_, selection_set, fields, visited)
        return fields

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self.applies(condition.name.value, type_):
                    self._collect(type_, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.op.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self.applies(fragment.type_condition.name.value, type_):
                    self._collect(type_, fragment.selection_set, fields, visited)

    def applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        conditional = self.schema.get_type(condition)
        if conditional is type_:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(conditional, type_)

    def included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            condition = next((a.value for a in directive.arguments if a.name.value == "if"), None)
            if isinstance(condition, BooleanValueNode):
                flag = condition.value
            elif isinstance(condition, VariableNode):
                flag = bool(self.op.variables.get(condition.name.value))
            else:
                continue
            if flag == (name == "skip"):
                return False
        return True


@dataclass(frozen=True)
class _Plan:
    """How one composite field of a walk is counted (:meth:`_Walk.plan`)."""

    named: GraphQLCompositeType
    subsets: list[SelectionSetNode]
    inner_page: int | None
    weight: int
    listed: bool
    edges: bool  # a connection's edges: as many as the page, at no cost of their own
    size: int


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


# --- buckets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleStatus:
    """A bucket as ``extensions.cost.throttleStatus`` reports it."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    def as_json(self) -> dict[str, float | int]:
        """Shopify's field names; the available points rounded down."""
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": math.floor(self.currently_available),
            "restoreRate": self.restore_rate,
        }


@dataclass(frozen=True)
class Take:
    """The answer to a charge: granted or not, the bucket after it, and when not granted,
    the whole seconds until the bucket holds enough."""

    granted: bool
    status: ThrottleStatus
    retry_after: int = 0


class BucketStore(Protocol):
    """Leaky buckets by key: ``capacity`` points each, refilled at ``restore_rate`` points a
    second. :class:`MemoryBuckets` keeps them in the process; a shared store (Redis, say)
    would implement the same three calls atomically."""

    capacity: float
    restore_rate: float

    async def take(self, key: str, cost: int) -> Take:
        """Take ``cost`` points if the bucket holds them; otherwise take nothing."""
        ...

    async def settle(self, key: str, taken: int, actual: int) -> ThrottleStatus:
        """Give back ``taken - actual`` points (or take the excess) once the cost is known."""
        ...

    async def status(self, key: str) -> ThrottleStatus:
        """The bucket, unchanged."""
        ...


@dataclass
class _Level:
    points: float
    at: float


class MemoryBuckets:
    """Buckets in this process's memory: a client's budget is per process, so with N API
    processes behind a load balancer a client gets up to N times the rate. A full bucket is
    the same as none, so full ones are dropped when the table grows past ``max_keys``."""

    def __init__(
        self,
        capacity: float,
        restore_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.capacity = capacity
        self.restore_rate = restore_rate
        self.clock = clock
        self.max_keys = max_keys
        self._levels: dict[str, _Level] = {}

    def _level(self, key: str) -> _Level:
        now = self.clock()
        level = self._levels.get(key)
        if level is None:
            if len(self._levels) >= self.max_keys:
                self._drop_full(now)
            level = self._levels[key] = _Level(self.capacity, now)
        else:
            restored = (now - level.at) * self.restore_rate
            level.points = min(self.capacity, level.points + restored)
            level.at = now
        return level

    def _drop_full(self, now: float) -> None:
        for key, level in list(self._levels.items()):
            if level.points + (now - level.at) * self.restore_rate >= self.capacity:
                del self._levels[key]

    def _status(self, level: _Level) -> ThrottleStatus:
        return ThrottleStatus(self.capacity, level.points, self.restore_rate)

    async def take(self, key: str, cost: int) -> Take:
        """Take ``cost`` points if the bucket holds them (no await in between: atomic on
        the event loop)."""
        level = self._level(key)
        if level.points >= cost:
            level.points -= cost
            return Take(True, self._status(level))
        wait = (cost - level.points) / self.restore_rate if self.restore_rate > 0 else math.inf
        retry_after = math.ceil(wait) if math.isfinite(wait) else 2**31 - 1
        return Take(False, self._status(level), max(1, retry_after))

    async def settle(self, key: str, taken: int, actual: int) -> ThrottleStatus:
        """Give back what was taken beyond the actual cost."""
        level = self._level(key)
        level.points = min(self.capacity, max(0.0, level.points + taken - actual))
        return self._status(level)

    async def status(self, key: str) -> ThrottleStatus:
        """The bucket as it is now."""
        return self._status(self._level(key))


def bucket_key(principal: Principal | None, client_address: str | None) -> str:
    """Whose bucket a request draws on: the token's client and user (a service account has no
    user), or the remote address of an anonymous caller."""
    if principal is not None:
        return f"client:{principal.client_id}:user:{principal.user_id or '-'}"
    return f"address:{client_address or 'unknown'}"


# --- the extension -------------------------------------------------------------------------


def _refusal(message: str, code: str, **extra: Any) -> GraphQLExecutionResult:
    return GraphQLExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": code, **extra})]
    )


class QueryCost(SchemaExtension):
    """Computes, checks and charges each operation's cost before it executes, settles the
    bucket after, and reports ``extensions.cost``. A context without an application state
    (a bare schema in a test) is not metered."""

    def __init__(self, max_cost: int) -> None:
        super().__init__()
        self.max_cost = max_cost
        self.report: dict[str, Any] | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        state = getattr(context, "state", None)
        buckets: BucketStore | None = getattr(state, "buckets", None)
        if (
            buckets is None
            or ec.graphql_document is None
            or ec.result is not None
            # The schema has no subscriptions yet; a refusal could not stop one here anyway
            # (Strawberry subscribes whatever the extensions set).
            or ec.operation_type is StrawberryOperationType.SUBSCRIPTION
        ):
            yield
            return
        key = bucket_key(context.principal, getattr(context, "client_address", None))
        model = CostModel(ec.schema._schema)
        requested = model.requested(ec.graphql_document, ec.operation_name, ec.variables)
        limit = min(self.max_cost, math.floor(buckets.capacity))
        if requested > limit:
            status = await buckets.status(key)
            ec.result = _refusal(
                f"Query cost is {requested}, which exceeds the single query maximum of "
                f"{limit}; ask for fewer items (first/last) or fewer expensive fields",
                MAX_COST_EXCEEDED,
                cost=requested,
                maxCost=limit,
            )
            self.report = self._cost(requested, None, status)
            yield
            return
        take = await buckets.take(key, requested)
        if not take.granted:
            ec.result = _refusal(
                f"Throttled: the query costs {requested} and "
                f"{math.floor(take.status.currently_available)} points are available; "
                f"retry in {take.retry_after} s",
                THROTTLED,
                retryAfter=take.retry_after,
            )
            self.report = self._cost(requested, None, take.status)
            yield
            return
        yield
        actual = self._actual(model, requested)
        status = await buckets.settle(key, requested, actual)
        self.report = self._cost(requested, actual, status)

    def _actual(self, model: CostModel, requested: int) -> int:
        ec = self.execution_context
        result = ec.result
        data = getattr(result, "data", None)
        errors = getattr(result, "errors", None)
        if data is None:
            # Refused variables: nothing ran. Otherwise a null bubbled up to the root and
            # what ran cannot be told from the answer: no refund.
            ran = any(e.path is not None for e in errors or [])
            return requested if ran else 0
        assert ec.graphql_document is not None
        return model.actual(ec.graphql_document, ec.operation_name, ec.variables, data)

    @staticmethod
    def _cost(requested: int, actual: int | None, status: ThrottleStatus) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status.as_json(),
        }

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.report} if self.report is not None else {}


def retry_after(result: object) -> int | None:
    """Seconds after which a ``THROTTLED`` result may be retried (the HTTP status is then
    429 with ``Retry-After``); None for any other result."""
    for error in getattr(result, "errors", None) or ():
        extensions = getattr(error, "extensions", None) or {}
        if extensions.get("code") == THROTTLED:
            return int(extensions.get("retryAfter", 1))
    return None
