"""The events notification also says when the event occurred and, for an event whose payload
names one, the aggregate's status after it.

A subscriber shows what a change was, not only what its aggregate is when the subscriber gets
round to re-reading it: a deal submitted and withdrawn at once is announced as SUBMITTED and
then WITHDRAWN, each at its own time. Both are short values (NOTIFY's limit is 8000 bytes; the
payload itself is still never sent). Listeners of the earlier payload ignore the new keys.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NOTIFY_SQL = """
CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM pg_notify('lendgraph_events', json_build_object(
        'id', NEW.id, 'tenant_id', NEW.tenant_id, 'type', NEW.type,
        'aggregate_type', NEW.aggregate_type, 'aggregate_id', NEW.aggregate_id,
        'occurred_at', NEW.occurred_at,
        'status', left(NEW.payload ->> 'status', 64))::text);
    RETURN NULL;
END
$$
"""

NOTIFY_0009_SQL = """
CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql
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


def upgrade() -> None:
    op.execute(NOTIFY_SQL)


def downgrade() -> None:
    op.execute(NOTIFY_0009_SQL)
