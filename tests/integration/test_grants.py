"""The application role holds exactly the privileges its use cases need (least privilege):
the expected grants are declared here, table by table and column by column, and compared with
what PostgreSQL's catalog says the role holds, directly or through PUBLIC. Any extra privilege
fails, and so does any declared one that is missing (a use case would break)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

# Table privileges (besides column-level UPDATE below). Every table is read and appended to;
# nothing is ever deleted by the application, and only what a use case changes is updatable.
TABLES: dict[str, frozenset[str]] = {
    "alembic_version": frozenset({"SELECT"}),
    **{
        table: frozenset({"SELECT", "INSERT"})
        for table in (
            "tenants",
            "organizations",
            "persons",
            "users",
            "memberships",
            "oauth_clients",
            "refresh_tokens",
            "audit_log",
            "events",
            "products",
            "product_versions",
            "purchase_orders",
            "warehouse_receipts",
            "receipt_claims",
            "documents",
            "deals",
            "deal_events",
            "purchase_order_claims",
            "idempotency_keys",
            "party_agents",
            "tenant_customers",
            "calendar_days",
            "integration_calls",
            "deal_reviews",
            "risk_assessments",
            # Append-only (0015): a new price is a new row.
            "commodity_prices",
            # The ledger (0017): a correction is a reversing entry, never a change.
            "ledger_accounts",
            "journal_entries",
            "journal_lines",
            # The inbox of provider callbacks (0018): received events are never deleted.
            "webhook_events",
            # A contract's versions (0019); only the voiding columns change.
            "contracts",
            # Disbursement (0020): payouts and the loans they open.
            "payouts",
            "loans",
            # Pledges (0022): a pledge's filing, custody and release are columns of its row.
            "pledges",
        )
    },
}

# Column-level UPDATE: exactly the columns some use case changes.
UPDATABLE: dict[str, frozenset[str]] = {
    "tenants": frozenset({"status"}),
    "users": frozenset({"status", "disabled_at"}),
    "oauth_clients": frozenset({"status", "disabled_at"}),
    "refresh_tokens": frozenset({"revoked_at"}),
    "events": frozenset({"published_at"}),
    "products": frozenset(
        {"name", "status", "current_version", "updated_at", "published_at", "retired_at"}
    ),
    "product_versions": frozenset(
        {
            "currency",
            "min_amount_minor",
            "max_amount_minor",
            "term_unit",
            "allowed_terms",
            "annual_rate",
            "repayment_method",
            "day_count",
            "business_day_convention",
            "holiday_calendar",
            "origination_fee_kind",
            "origination_fee_flat_minor",
            "origination_fee_rate",
            "late_penalty_daily_rate",
            "late_penalty_basis",
            "late_penalty_grace_days",
            "prepayment_penalty_rate",
            "prepayment_free_allowance",
            "max_advance_rate",
            "eligible_core_enterprise_ids",
            "max_ltv",
            "haircut",
            "accepted_warehouse_ids",
            "min_borrower_age",
            "max_borrower_age",
            "min_credit_score",
            "scorecard_min_bureau_score",
            "scorecard_max_current_delinquencies",
            "scorecard_max_debt_to_income",
            "scorecard_max_exposure_minor",
            "scorecard_auto_approve_below_minor",
            "approval_validity_days",
        }
    ),
    "purchase_orders": frozenset(
        {"status", "decided_by_user_id", "decided_at", "decision_note", "updated_at"}
    ),
    "warehouse_receipts": frozenset(
        {"status", "cancelled_by_user_id", "cancelled_at", "cancellation_reason", "updated_at"}
    ),
    "receipt_claims": frozenset({"released_at"}),
    "purchase_order_claims": frozenset({"released_at"}),
    "documents": frozenset({"purchase_order_id", "warehouse_receipt_id", "attached_at"}),
    "deals": frozenset(
        {
            "status",
            "updated_at",
            "currency",
            "amount_minor",
            "term",
            "purpose",
            "consent_given_at",
            "consent_text_version",
            "consent_method",
            "purchase_order_id",
            "warehouse_receipt_ids",
            "submitted_at",
            "withdrawn_at",
            "withdrawal_reason",
            "monthly_income_minor",
            "liveness_session",
        }
    ),
    "idempotency_keys": frozenset({"response", "completed_at"}),
    "party_agents": frozenset({"revoked_at"}),
    "tenant_customers": frozenset({"revoked_at"}),
    "calendar_days": frozenset(
        {"working", "label", "updated_at", "updated_by_user_id", "removed_at"}
    ),
    # A call's progress (0009); what it is for (deal, kind, reference) never changes.
    "integration_calls": frozenset(
        {
            "state",
            "attempts",
            "next_attempt_at",
            "last_error",
            "result",
            "updated_at",
            "finished_at",
        }
    ),
    # What was done with a received callback (0018); what was received never changes.
    "webhook_events": frozenset({"processed_at", "outcome"}),
    # A payout's progress (0020); what it pays, to whom and under which key never changes.
    "payouts": frozenset(
        {
            "state",
            "provider_payout_id",
            "attempts",
            "next_attempt_at",
            "last_error",
            "failure_reason",
            "updated_at",
            "sent_at",
            "settled_at",
        }
    ),
    # A loan's status (0020); what was lent and its schedule never change.
    "loans": frozenset({"status", "updated_at"}),
    # A pledge's filing, custody and release (0022) and its cancellation at the registry
    # (0027); its deal, receipt and warehouse never change.
    "pledges": frozenset(
        {
            "status",
            "registration_id",
            "filing_number",
            "registered_at",
            "confirmed_at",
            "confirmed_by_user_id",
            "released_at",
            "released_by_user_id",
            "refusal_code",
            "attempts",
            "next_attempt_at",
            "last_error",
            "deregistered_at",
            "deregister_attempts",
            "deregister_next_attempt_at",
            "deregister_last_error",
            "updated_at",
        }
    ),
    # A review's claim and decision (migration 0011); its deal, stage and round never change.
    "deal_reviews": frozenset(
        {
            "assignee_id",
            "claimed_at",
            "decision",
            "notes",
            "decided_by",
            "decided_at",
            "system_decision",
            "approved_amount_minor",
            "approved_currency",
            "approved_rate",
            "expires_at",
        }
    ),
    # Voiding a version (0019); its terms, digest and document never change.
    "contracts": frozenset(
        {
            "status",
            "voided_at",
            "void_reason",
            # Its envelope and signing outcome (0021).
            "envelope_id",
            "signers",
            "sent_at",
            "signed_at",
            "signed_sha256",
            "signed_document_key",
            # Its envelope's attempts, lease, resends and failure (0023).
            "envelope_attempts",
            "envelope_next_attempt_at",
            "envelope_last_error",
            "envelope_seen_at",
            "resends",
            "failure_reason",
        }
    ),
}

# Functions that run with their owner's rights (SECURITY DEFINER): each is callable by the
# application role and nobody else (not PUBLIC).
DEFINER_FUNCTIONS = frozenset(
    {
        "app_deal_visible",
        "app_acts_for",
        "app_person_seen",
        "app_organization_seen",
        "app_is_member",
        "app_deal_party_of",
        "app_order_related",
        "app_receipt_related",
        "app_order_visible",
        "app_receipt_visible",
        "purge_idempotency_keys",
    }
)


async def _rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _role_oid(engine: Any, role: str) -> int:
    return int((await _rows(engine, "select oid from pg_roles where rolname = :r", r=role))[0][0])


async def test_table_privileges_are_exactly_the_declared_ones(owner_engine, settings) -> None:
    oid = await _role_oid(owner_engine, settings.app_db_role)
    rows = await _rows(
        owner_engine,
        """
        select c.relname, a.privilege_type
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        cross join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
        where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S')
          and a.grantee in (:o, 0)
        """,
        o=oid,
    )
    held: dict[str, set[str]] = {}
    for table, privilege in rows:
        held.setdefault(table, set()).add(privilege)
    assert held == {t: set(p) for t, p in TABLES.items()}


async def test_column_updates_are_exactly_the_declared_ones(owner_engine, settings) -> None:
    oid = await _role_oid(owner_engine, settings.app_db_role)
    rows = await _rows(
        owner_engine,
        """
        select c.relname, att.attname, a.privilege_type
        from pg_attribute att
        join pg_class c on c.oid = att.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        cross join lateral aclexplode(att.attacl) a
        where n.nspname = 'public' and att.attnum > 0 and not att.attisdropped
          and att.attacl is not null and a.grantee in (:o, 0)
        """,
        o=oid,
    )
    updatable: dict[str, set[str]] = {}
    for table, column, privilege in rows:
        assert privilege == "UPDATE", f"{table}.{column}: unexpected {privilege}"
        updatable.setdefault(table, set()).add(column)
    assert updatable == {t: set(c) for t, c in UPDATABLE.items()}
    # And each declared column exists (a renamed column would drop a grant silently).
    for table, columns in UPDATABLE.items():
        present = {
            r[0]
            for r in await _rows(
                owner_engine,
                "select column_name from information_schema.columns where table_name = :t",
                t=table,
            )
        }
        assert columns <= present, (table, columns - present)


async def test_definer_functions_are_the_application_roles_alone(owner_engine, settings) -> None:
    oid = await _role_oid(owner_engine, settings.app_db_role)
    rows = await _rows(
        owner_engine,
        """
        select p.proname,
               exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       where a.grantee = 0 and a.privilege_type = 'EXECUTE'),
               has_function_privilege(cast(:o as oid), p.oid, 'EXECUTE'),
               p.proowner <> cast(:o as oid),
               coalesce(array_to_string(p.proconfig, ','), '')
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prosecdef and p.prorettype <> 'trigger'::regtype
        """,
        o=oid,
    )
    assert {r[0] for r in rows} == DEFINER_FUNCTIONS
    for name, public, callable_by_app, owned_by_other, config in rows:
        assert not public, f"{name} is executable by PUBLIC"
        assert callable_by_app, f"{name} is not executable by the application role"
        assert owned_by_other, f"{name} is owned by the application role"
        assert "search_path=" in config, f"{name} has no fixed search_path"


async def test_definer_triggers_have_a_fixed_search_path(owner_engine) -> None:
    """Trigger functions that write what the application role may not (the ``listed``
    flags) run as their owner; none can be called directly, and each fixes its search_path."""
    rows = await _rows(
        owner_engine,
        """
        select p.proname, coalesce(array_to_string(p.proconfig, ','), '')
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prosecdef and p.prorettype = 'trigger'::regtype
        """,
    )
    assert {r[0] for r in rows} == {"products_sync_listed", "tenants_relist_products"}
    assert all("search_path=" in config for _, config in rows)
