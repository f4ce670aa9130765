"""Integration calls and the outbox's notifications.

``integration_calls``: each call a deal needs from an outside provider (a credit bureau
report, an identity check, a collateral valuation) is a row with its state, attempts and the
time of its next attempt, written in the transaction that submits the deal. The broker only
rings the bell: a worker claims the row (``FOR UPDATE SKIP LOCKED``), and a sweeper re-sends
the rows whose next attempt is overdue, so a lost message only delays a call. One row per
``(deal, kind)``; ``idempotency_reference`` is what the provider sees on every attempt of it.

Tenant-owned like every deal row: ``(tenant_id, id)`` is the key and ``(tenant_id, deal_id)``
points at the deal. The funder's scope (its staff and its service principal, which the workers
use) reads and progresses its rows; the applicant's side may only request calls on a deal it
sees, as new PENDING rows, and reads none (their results are the funder's). The application
role may update only the columns a call's progress changes, and delete nothing.

``events``: a row trigger sends ``pg_notify('lendgraph_events', ...)`` with the event's IDs
and type (never its payload, which may exceed NOTIFY's 8000 bytes). PostgreSQL delivers
notifications at commit, so a transaction that rolls back tells no listener anything.
Listeners see every tenant's notifications: they re-read what they need under their own scope.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


P = "(SELECT app_is_platform())"
T = "(SELECT app_tenant_id())"

TABLE_SQL = """
CREATE TABLE integration_calls (
    tenant_id uuid NOT NULL CONSTRAINT fk_integration_calls_tenant_id_tenants
        REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    kind varchar(32) NOT NULL CONSTRAINT ck_integration_calls_integration_kind
        CHECK (kind IN ('BUREAU', 'IDENTITY', 'VALUATION')),
    state varchar(32) NOT NULL DEFAULT 'PENDING' CONSTRAINT ck_integration_calls_call_state
        CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error varchar(1000),
    result jsonb,
    idempotency_reference uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT pk_integration_calls PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_integration_calls_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT uq_integration_calls_deal_kind UNIQUE (tenant_id, deal_id, kind),
    CONSTRAINT uq_integration_calls_idempotency_reference UNIQUE (idempotency_reference),
    CONSTRAINT ck_integration_calls_attempts
        CHECK (attempts >= 0 AND max_attempts > 0 AND attempts <= max_attempts),
    CONSTRAINT ck_integration_calls_succeeded
        CHECK ((state = 'SUCCEEDED') = (result IS NOT NULL)),
    CONSTRAINT ck_integration_calls_failed CHECK (state <> 'FAILED' OR last_error IS NOT NULL),
    CONSTRAINT ck_integration_calls_finished
        CHECK ((state IN ('SUCCEEDED', 'FAILED')) = (finished_at IS NOT NULL))
);
CREATE INDEX ix_integration_calls_id ON integration_calls (id);
-- The sweeper's queue: unfinished calls by the time they are due.
CREATE INDEX ix_integration_calls_due ON integration_calls (next_attempt_at)
    WHERE state IN ('PENDING', 'RUNNING')
"""

POLICIES_SQL = f"""
CREATE POLICY integration_calls_read ON integration_calls FOR SELECT
    USING (tenant_id = {T} OR {P});
CREATE POLICY integration_calls_request ON integration_calls FOR INSERT
    WITH CHECK ((tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id))
                AND state = 'PENDING' AND attempts = 0 AND result IS NULL
                AND last_error IS NULL AND finished_at IS NULL);
CREATE POLICY integration_calls_progress ON integration_calls FOR UPDATE
    USING (tenant_id = {T} OR {P}) WITH CHECK (tenant_id = {T} OR {P})
"""

NOTIFY_SQL = """
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM pg_notify('lendgraph_events', json_build_object(
        'id', NEW.id, 'tenant_id', NEW.tenant_id, 'type', NEW.type,
        'aggregate_type', NEW.aggregate_type, 'aggregate_id', NEW.aggregate_id)::text);
    RETURN NULL;
END
$$
"""

UPDATABLE = "state, attempts, next_attempt_at, last_error, result, updated_at, finished_at"


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLE_SQL)
    op.execute("ALTER TABLE integration_calls ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE integration_calls FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ({UPDATABLE}) ON integration_calls TO {role}")
    op.execute(NOTIFY_SQL)
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events"
        " FOR EACH ROW EXECUTE FUNCTION events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS events_notify()")
    op.execute("DROP TABLE IF EXISTS integration_calls")
