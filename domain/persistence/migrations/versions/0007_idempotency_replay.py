"""Idempotency keys keep the first answer as it went out, and expire after 24 hours.

``idempotency_keys.response`` becomes ``text``: it holds the serialised GraphQL result of the
mutation field that used the key, replayed byte for byte to every retry. JSONB would not do:
it reorders object keys (and drops duplicates), so the replay would differ from the first
answer. Rows recorded before this revision held a reference to the deal (``{"deal_id": ...}``)
rather than the answer; they are kept as text so that a retry still never acts twice, and since
their fingerprints (of the input alone) never equal a fingerprint of input and selection, a
retry with such a key is refused with IDEMPOTENCY_KEY_REUSED until the purge removes it.

Keys are kept at least 24 hours (the convention clients retry within) and then purged by the
scheduled ``purge_idempotency_keys`` job, through the function of the same name. The
application role gets no DELETE on the table: a key deleted before its time would let a retry
act twice, so the only delete it can make is this function's, which is fixed (no input) and
removes only keys older than 24 hours. It is ``SECURITY DEFINER`` (owned by the owner, with a
fixed ``search_path``) and sets ``app.platform`` to see every principal's keys under row-level
security; PostgreSQL restores both when it returns. ``ix_idempotency_keys_created_at`` lets it
find them without reading the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


PURGE_SQL = """
CREATE FUNCTION purge_idempotency_keys() RETURNS bigint LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
    WITH gone AS (
        DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$
"""


def upgrade() -> None:
    role = _app_role()
    # Column privileges (UPDATE (response, completed_at)) survive the change of type.
    op.execute("ALTER TABLE idempotency_keys ALTER COLUMN response TYPE text USING response::text")
    op.execute("CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)")
    op.execute(PURGE_SQL)
    op.execute("REVOKE ALL ON FUNCTION purge_idempotency_keys() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION purge_idempotency_keys() TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS purge_idempotency_keys()")
    op.execute("DROP INDEX IF EXISTS ix_idempotency_keys_created_at")
    op.execute(
        "ALTER TABLE idempotency_keys ALTER COLUMN response TYPE jsonb USING response::jsonb"
    )
