"""Pledge deregistration: a released pledge's filing cancelled at the registry.

Releasing a pledge unlocks its receipt in lendgraph at once; a worker then cancels the filing
at the pledge registry (the goods may be filed again only after that). The cancellation is
recorded on the pledge: ``deregistered_at`` when the registry confirmed it, and the attempts,
the lease/backoff (``deregister_next_attempt_at``) and the last error of the job.

A RELEASED pledge stays final except for these columns (and ``updated_at``); once
``deregistered_at`` is set it does not change.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from alembic import context, op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


_FN = "SET search_path = pg_catalog, public SET app.platform = 'on'"

COLUMNS_SQL = """
ALTER TABLE pledges
    ADD COLUMN deregistered_at timestamptz,
    ADD COLUMN deregister_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN deregister_next_attempt_at timestamptz,
    ADD COLUMN deregister_last_error varchar(1000),
    ADD CONSTRAINT ck_pledges_deregistered CHECK (
        deregistered_at IS NULL OR status = 'RELEASED')
"""

INDEX_SQL = """
CREATE INDEX ix_pledges_deregister_due ON pledges (deregister_next_attempt_at)
    WHERE status = 'RELEASED' AND deregistered_at IS NULL
"""

_GUARD_HEAD = f"""
CREATE OR REPLACE FUNCTION pledges_guard() RETURNS trigger LANGUAGE plpgsql {_FN}
AS $$
BEGIN
    IF (NEW.tenant_id, NEW.id, NEW.deal_id, NEW.receipt_id, NEW.warehouse_organization_id)
       IS DISTINCT FROM
       (OLD.tenant_id, OLD.id, OLD.deal_id, OLD.receipt_id, OLD.warehouse_organization_id) THEN
        RAISE EXCEPTION 'a pledge''s deal and receipt cannot change'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND (OLD.status, NEW.status) NOT IN (
           ('REQUESTED', 'REGISTERED'), ('REQUESTED', 'REFUSED'),
           ('REGISTERED', 'CUSTODY_CONFIRMED'), ('REGISTERED', 'RELEASED'),
           ('CUSTODY_CONFIRMED', 'RELEASED')) THEN
        RAISE EXCEPTION 'a pledge cannot go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
"""

_GUARD_TAIL = """
    RETURN NEW;
END
$$
"""

# A RELEASED pledge changes only in what records its cancellation at the registry, and only
# until the registry confirmed it.
GUARD_SQL = (
    _GUARD_HEAD
    + """
    IF OLD.status = 'REFUSED' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a % pledge is final', OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
    IF OLD.status = 'RELEASED' AND (
           OLD.deregistered_at IS NOT NULL AND NEW IS DISTINCT FROM OLD
           OR (NEW.status, NEW.registration_id, NEW.filing_number, NEW.registered_at,
               NEW.confirmed_at, NEW.confirmed_by_user_id, NEW.released_at,
               NEW.released_by_user_id, NEW.refusal_code, NEW.attempts, NEW.max_attempts,
               NEW.next_attempt_at, NEW.last_error, NEW.created_at)
              IS DISTINCT FROM
              (OLD.status, OLD.registration_id, OLD.filing_number, OLD.registered_at,
               OLD.confirmed_at, OLD.confirmed_by_user_id, OLD.released_at,
               OLD.released_by_user_id, OLD.refusal_code, OLD.attempts, OLD.max_attempts,
               OLD.next_attempt_at, OLD.last_error, OLD.created_at)) THEN
        RAISE EXCEPTION 'a % pledge is final', OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
"""
    + _GUARD_TAIL
)

# 0022's guard, for the downgrade.
GUARD_0022_SQL = (
    _GUARD_HEAD
    + """
    IF OLD.status IN ('RELEASED', 'REFUSED') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a % pledge is final', OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
"""
    + _GUARD_TAIL
)

UPDATABLE = (
    "deregistered_at, deregister_attempts, deregister_next_attempt_at, deregister_last_error"
)


def upgrade() -> None:
    op.execute(COLUMNS_SQL)
    op.execute(INDEX_SQL)
    op.execute(GUARD_SQL)
    # Pledges released before this revision are filed still: the sweeper cancels them too.
    op.execute(
        "UPDATE pledges SET deregister_next_attempt_at = now()"
        " WHERE status = 'RELEASED' AND deregistered_at IS NULL"
    )
    op.execute(f"GRANT UPDATE ({UPDATABLE}) ON pledges TO {_app_role()}")


def downgrade() -> None:
    op.execute(f"REVOKE UPDATE ({UPDATABLE}) ON pledges FROM {_app_role()}")
    op.execute(GUARD_0022_SQL)
    op.execute("DROP INDEX IF EXISTS ix_pledges_deregister_due")
    op.execute(
        "ALTER TABLE pledges DROP CONSTRAINT ck_pledges_deregistered,"
        " DROP COLUMN deregistered_at, DROP COLUMN deregister_attempts,"
        " DROP COLUMN deregister_next_attempt_at, DROP COLUMN deregister_last_error"
    )
