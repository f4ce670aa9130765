"""Every statement of every list query of the API, as the API runs it (its loaders included),
planned by PostgreSQL as the application role under the request's own bound scope: no
sequential scan of an application table, no index walked whole for a condition on a later
column (an index is entered through its first column, or read in order for a keyset page), and
no sub-plan that reads a table (a policy that queries another table expands into one per row;
the per-statement settings are init plans that read none).

Sequential scans are priced out (``enable_seqscan = off``) so that on this small data set a
seq scan in a plan means no index serves the statement, not that the table is small."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from tests.read_path_support import CONNECTIONS, analyze, read_world

pytestmark = pytest.mark.timeout(300)


def _nodes(plan: dict[str, Any], inside_subplan: bool = False) -> Iterator[tuple[dict, bool]]:
    sub = inside_subplan or plan.get("Parent Relationship") in ("SubPlan", "InitPlan")
    yield plan, sub
    for child in plan.get("Plans", []):
        yield from _nodes(child, sub)


#: Index name -> (its table, its first column).
Leading = dict[str, tuple[str, str]]


async def _leading_columns(owner: AsyncEngine) -> Leading:
    """The table and first column of every index of the public schema."""
    async with owner.connect() as conn:
        rows = await conn.execute(
            text(
                "select c.relname, t.relname, a.attname from pg_index i"
                " join pg_class c on c.oid = i.indexrelid"
                " join pg_class t on t.oid = i.indrelid"
                " join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'"
                " left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]"
            )
        )
        return {r[0]: (r[1], r[2] or "") for r in rows}


def _entered(condition: str, index: str, leading: Leading) -> bool:
    """Whether ``condition`` constrains the first column of ``index`` or, failing that, of
    another index of its table (on a table of a few rows every index costs the same page, and
    the planner's pick among them is a tie; what matters is that one index serves)."""
    table, _ = leading.get(index, ("", ""))
    firsts = {first for name, (t, first) in leading.items() if t == table and first}
    if not firsts:
        return True
    return any(re.search(rf"\b{re.escape(first)}\b", condition) for first in firsts)


def problems_of(plan: dict[str, Any], leading: Leading) -> list[str]:
    """What is wrong with one plan, in words."""
    found = []
    for node, in_subplan in _nodes(plan):
        kind, relation = node["Node Type"], node.get("Relation Name")
        if kind == "Seq Scan":
            found.append(f"sequential scan of {relation}")
        if in_subplan and relation is not None:
            found.append(f"{node.get('Parent Relationship', 'sub-plan')} reading {relation}")
        condition = node.get("Index Cond")
        index = node.get("Index Name")
        if condition and index and not _entered(condition, index, leading):
            found.append(f"{index} walked whole for {condition}")
    return found


@pytest.fixture
def captured(app_state: AppState) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    engine = app_state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    yield statements
    event.remove(engine, "before_cursor_execute", capture)


async def _explain(
    app_state: AppState, statements: list[tuple[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """EXPLAIN each data statement as the application role, after the request's own scope
    bind (the first statement of its transaction)."""
    bind = [s for s in statements if "set_config('app.tenant_id'" in s[0]]
    assert bind, "the request bound no scope"
    data = [s for s in statements if "set_config(" not in s[0]]
    assert data, "the request ran no data statement"
    plans = []
    async with app_state.engine.connect() as conn:
        await conn.exec_driver_sql(bind[0][0], bind[0][1])
        await conn.exec_driver_sql("set local enable_seqscan = off")
        for sql, params in data:
            result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params)
            raw = result.scalar_one()
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            plans.append((sql, plan))
        await conn.rollback()
    return plans


@pytest.mark.parametrize("connection", list(CONNECTIONS))
async def test_list_query_plans_use_their_indexes(
    connection: str,
    uncapped_client: httpx.AsyncClient,
    app_state: AppState,
    owner_engine: AsyncEngine,
    captured: list[tuple[str, Any]],
) -> None:
    world = await read_world(uncapped_client, app_state)
    await analyze(owner_engine)
    leading = await _leading_columns(owner_engine)
    plans = []
    after = None
    while True:  # every page, so that every shape of row is loaded once
        captured.clear()
        found = await world.list(connection, 100, after)
        assert found["edges"], "the page is empty: nothing was planned"
        plans += await _explain(app_state, list(captured))
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    report = [(_short(sql), problems_of(plan, leading)) for sql, plan in plans]
    bad = [f"{sql}: {'; '.join(p)}" for sql, p in report if p]
    assert not bad, "\n".join(bad)


def _short(sql: str) -> str:
    # The table and the condition say which statement it is.
    return re.sub(r"\s+", " ", sql.split("FROM", 1)[-1])[:300]


def test_the_checks_catch_what_they_are_for() -> None:
    # Hand-written plans of the shapes this test exists to refuse.
    leading = {
        "ix_deal_events_deal": ("deal_events", "tenant_id"),
        "pk_deal_events": ("deal_events", "tenant_id"),
    }
    walked = {
        "Node Type": "Index Scan",
        "Relation Name": "deal_events",
        "Index Name": "ix_deal_events_deal",
        "Index Cond": "(deal_id = ANY ($1))",
    }
    entered = walked | {"Index Cond": "((tenant_id = ANY ($1)) AND (deal_id = ANY ($2)))"}
    nested = {
        "Node Type": "Index Scan",
        "Relation Name": "products",
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Parent Relationship": "SubPlan",
                "Relation Name": "deals",
            },
            {"Node Type": "Result", "Parent Relationship": "InitPlan"},
        ],
    }
    assert problems_of(walked, leading) == [
        "ix_deal_events_deal walked whole for (deal_id = ANY ($1))"
    ]
    assert problems_of(entered, leading) == []
    assert problems_of(nested, leading) == ["SubPlan reading deals"]
    assert problems_of({"Node Type": "Seq Scan", "Relation Name": "deals"}, leading) == [
        "sequential scan of deals"
    ]
