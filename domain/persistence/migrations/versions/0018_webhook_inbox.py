"""The inbox of provider callbacks (``/webhooks/<provider>``).

``webhook_events``: one row per event a provider called back with, ``(provider, event_id)``
unique, so that a repeated delivery (a retry, a provider's duplicate, two at once) is applied
once: the row is inserted in the transaction that applies the event's effect, and a second
insertion of the same event finds the first (or waits for it to commit or roll back). It keeps
what came (the event's type, the SHA-256 of the raw body, the event as JSON) and what was done
(``processed_at``, ``outcome``: ``applied``, ``ignored``, ``refused: <code>`` or a handler's
own word such as ``superseded``).

Platform-owned, not a tenant's: a provider calls on behalf of every funder, and the row is
written before anyone knows which tenant the event is about. Row-level security lets only the
platform scope read, insert and update it; the application role may SELECT and INSERT, and
UPDATE only ``processed_at`` and ``outcome`` (what was received never changes), never DELETE.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


P = "(SELECT app_is_platform())"

TABLE_SQL = """
CREATE TABLE webhook_events (
    id uuid NOT NULL,
    provider varchar(32) NOT NULL CONSTRAINT ck_webhook_events_provider
        CHECK (provider IN ('payments', 'esign')),
    event_id varchar(200) NOT NULL CONSTRAINT ck_webhook_events_event_id
        CHECK (length(event_id) > 0),
    event_type varchar(64) NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    body_sha256 varchar(64) NOT NULL CONSTRAINT ck_webhook_events_body_sha256
        CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    payload jsonb NOT NULL,
    processed_at timestamptz,
    outcome varchar(200),
    CONSTRAINT pk_webhook_events PRIMARY KEY (id),
    CONSTRAINT uq_webhook_events_provider_event_id UNIQUE (provider, event_id),
    CONSTRAINT ck_webhook_events_processed
        CHECK ((processed_at IS NULL) = (outcome IS NULL))
);
-- Received event IDs are kept for at least as long as providers retry (days); a purge by
-- age reads this index.
CREATE INDEX ix_webhook_events_received_at ON webhook_events (received_at)
"""

POLICIES_SQL = f"""
CREATE POLICY webhook_events_read ON webhook_events FOR SELECT
    USING ({P});
CREATE POLICY webhook_events_receive ON webhook_events FOR INSERT
    WITH CHECK ({P});
CREATE POLICY webhook_events_process ON webhook_events FOR UPDATE
    USING ({P}) WITH CHECK ({P})
"""


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLE_SQL)
    op.execute("ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT ON webhook_events TO {role}")
    op.execute(f"GRANT UPDATE (processed_at, outcome) ON webhook_events TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS webhook_events")
