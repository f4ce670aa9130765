"""CPU cost of computing a document's query cost, against validating the same document,
measured in the same run.

Every query and mutation is validated by graphql-core and then costed (``api.cost``) before
it executes; validation is the baseline, work the server does anyway. Documents: a small
viewer query, a connection with nested lists, 30 aliased quotes, and a document of fragments
on every Node type. Each figure is the median of several rounds of CPU time
(``time.process_time``), in microseconds per call; ``x validate`` divides the cost
computation by the validation of the same document. Usage::

    .venv/bin/python bench/query_cost.py [--rounds 7] [--budget 0.3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import graphql

from api.cost import CostModel
from api.schema import NODE_TYPES, build_schema
from lendgraph.settings import Settings

QUOTE = (
    'quote(productId: $id, amount: {amount: "10000.00", currency: "CNY"}, term: 12) '
    "{ quote { apr installments { dueDate total { amount } } } userErrors { code } }"
)
VARIABLES = {"id": "x"}
DOCUMENTS = {
    "viewer": "{ viewer { kind user { email memberships { roles tenant { name } } } } }",
    "nested lists": """
        { deals(first: 50) { edges { node {
            id status product { name funder { name } }
            warehouseReceipts { documents { id } owner { name } }
            timeline { occurredAt actorUser { email } }
        } } pageInfo { hasNextPage endCursor } } }""",
    "30 quotes": "query($id: ID!) { " + " ".join(f"q{i}: {QUOTE}" for i in range(30)) + " }",
    "node fragments": "query($id: ID!) { node(id: $id) { id "
    + " ".join(f"... on {name} {{ __typename }}" for name in NODE_TYPES)
    + " } }",
}


def cpu_us(call: Callable[[], object], rounds: int, budget: float) -> float:
    """Median CPU microseconds per call over ``rounds`` rounds of about ``budget`` s."""
    calls = 1
    while True:  # calls per round, so that a round takes about the budget
        started = time.process_time()
        for _ in range(calls):
            call()
        spent = time.process_time() - started
        if spent >= budget / 10:
            break
        calls *= 4
    calls = max(1, int(calls * budget / max(spent, 1e-9)))
    figures = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            call()
        figures.append((time.process_time() - started) / calls * 1e6)
    return statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.3)
    args = parser.parse_args()
    schema = build_schema(Settings(environment="test"))._schema
    model = CostModel(schema)
    print(f"{'document':<16} {'cost':>6} {'validate us':>12} {'cost us':>9} {'x validate':>11}")
    for name, text in DOCUMENTS.items():
        document = graphql.parse(text)
        assert not graphql.validate(schema, document), name
        validate = cpu_us(lambda d=document: graphql.validate(schema, d), args.rounds, args.budget)
        costed = cpu_us(
            lambda d=document: model.requested(d, None, VARIABLES), args.rounds, args.budget
        )
        total = model.requested(document, None, VARIABLES)
        print(f"{name:<16} {total:>6} {validate:>12.1f} {costed:>9.1f} {costed / validate:>11.2f}")


if __name__ == "__main__":
    main()
