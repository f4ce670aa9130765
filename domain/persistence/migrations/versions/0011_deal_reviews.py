"""Reviews of deals: the first and the second review, four eyes in the database.

``deal_reviews``: one row per deal, stage (FIRST, SECOND) and round (a RETURNED deal that is
resubmitted starts the next round). A row is open until its decision; its assignee is the
reviewer who claimed it. A system decision (the scorecard's approval of a first review) names
no decider. The second review's approval records the approved terms and when the approval
expires unless signed.

Four eyes: a row trigger refuses a row of one stage whose assignee or decider is the assignee
or decider of the other stage's row of the same deal and round
(``ck_deal_reviews_four_eyes``, SQLSTATE 23514). It locks the other stage's row, so two
transactions writing the two stages of one round take turns and the later one sees the
earlier one's reviewer. A decided row never changes (``ck_deal_reviews_decided_once``), and
its deal, stage and round never change (``ck_deal_reviews_key_fixed``).

Tenant-owned like every deal row; row-level security as everywhere (the funder's scope, or the
platform's explicit one). Besides, a session may name only its own user as assignee or
decider, and only a session without a user records a system decision: writing an ID cannot
make someone else the reviewer. The application role reads, inserts and updates (the columns a
claim or a decision changes) and deletes nothing.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


# Settings, each read once per statement (an InitPlan), never per row.
P = "(SELECT app_is_platform())"
T = "(SELECT app_tenant_id())"
U = "(SELECT app_user_id())"

TABLE_SQL = """
CREATE TABLE deal_reviews (
    tenant_id uuid NOT NULL CONSTRAINT fk_deal_reviews_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    stage varchar(32) NOT NULL CONSTRAINT ck_deal_reviews_review_stage
        CHECK (stage IN ('FIRST', 'SECOND')),
    round integer NOT NULL,
    assignee_id uuid CONSTRAINT fk_deal_reviews_assignee_id_users REFERENCES users (id),
    claimed_at timestamptz,
    decision varchar(32) CONSTRAINT ck_deal_reviews_review_decision
        CHECK (decision IN ('APPROVE', 'REJECT', 'RETURN')),
    notes varchar(500),
    decided_by uuid CONSTRAINT fk_deal_reviews_decided_by_users REFERENCES users (id),
    decided_at timestamptz,
    system_decision boolean NOT NULL DEFAULT false,
    approved_amount_minor bigint,
    approved_currency varchar(3),
    approved_rate numeric(10, 8),
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_deal_reviews PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_deal_reviews_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT uq_deal_reviews_round UNIQUE (tenant_id, deal_id, stage, round),
    CONSTRAINT ck_deal_reviews_round CHECK (round >= 1),
    CONSTRAINT ck_deal_reviews_claimed CHECK ((assignee_id IS NULL) = (claimed_at IS NULL)),
    CONSTRAINT ck_deal_reviews_decided CHECK (
        (decision IS NULL) = (decided_at IS NULL)
        AND (decision IS NULL OR notes IS NOT NULL)),
    -- A person decides, or the system does (a first-stage approval only).
    CONSTRAINT ck_deal_reviews_decider CHECK (
        CASE WHEN system_decision
             THEN decided_by IS NULL AND assignee_id IS NULL AND stage = 'FIRST'
                  AND decision = 'APPROVE'
             ELSE (decision IS NULL) = (decided_by IS NULL) END),
    -- Approved terms and expiry belong to a second-stage approval, all of them.
    CONSTRAINT ck_deal_reviews_terms CHECK (
        CASE WHEN stage = 'SECOND' AND decision = 'APPROVE'
             THEN approved_amount_minor > 0 AND approved_currency IS NOT NULL
                  AND approved_rate >= 0 AND expires_at IS NOT NULL
             ELSE approved_amount_minor IS NULL AND approved_currency IS NULL
                  AND approved_rate IS NULL AND expires_at IS NULL END)
);
-- The queues: open reviews of one stage of one funder, oldest first.
CREATE INDEX ix_deal_reviews_queue ON deal_reviews (tenant_id, stage, created_at, id)
    WHERE decision IS NULL;
-- The expiry sweep, across funders (platform scope).
CREATE INDEX ix_deal_reviews_expiry ON deal_reviews (expires_at) WHERE expires_at IS NOT NULL
"""

GUARD_SQL = """
CREATE FUNCTION deal_reviews_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public SET app.platform = 'on'
AS $$
DECLARE
    other record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.decision IS NOT NULL THEN
            RAISE EXCEPTION 'review % is decided and does not change', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deal_reviews_decided_once';
        END IF;
        IF (NEW.tenant_id, NEW.id, NEW.deal_id, NEW.stage, NEW.round)
           IS DISTINCT FROM (OLD.tenant_id, OLD.id, OLD.deal_id, OLD.stage, OLD.round) THEN
            RAISE EXCEPTION 'a review keeps its deal, stage and round'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deal_reviews_key_fixed';
        END IF;
    END IF;
    -- Locked, so that writes of the two stages of one round take turns (read committed: the
    -- lock returns the latest committed version of the other row).
    SELECT r.assignee_id, r.decided_by INTO other FROM deal_reviews r
    WHERE r.tenant_id = NEW.tenant_id AND r.deal_id = NEW.deal_id AND r.round = NEW.round
      AND r.stage <> NEW.stage
    FOR UPDATE;
    IF FOUND AND (
        (NEW.assignee_id IS NOT NULL
         AND NEW.assignee_id IN (other.assignee_id, other.decided_by)) IS TRUE
        OR (NEW.decided_by IS NOT NULL
            AND NEW.decided_by IN (other.assignee_id, other.decided_by)) IS TRUE) THEN
        RAISE EXCEPTION 'four eyes: the other review of deal % round % has the same reviewer',
            NEW.deal_id, NEW.round
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deal_reviews_four_eyes';
    END IF;
    RETURN NEW;
END
$$
"""

# Only the session's own user is made assignee or decider; a system decision is made by a
# session without a user (the scorecard's worker). The platform's scope is the operator's.
OWN = (
    f"({P} OR ((assignee_id IS NULL OR assignee_id = {U})"
    f" AND (decided_by IS NULL OR decided_by = {U})"
    f" AND (NOT system_decision OR {U} IS NULL)))"
)

POLICIES_SQL = f"""
CREATE POLICY deal_reviews_read ON deal_reviews FOR SELECT
    USING (tenant_id = {T} OR {P});
CREATE POLICY deal_reviews_open ON deal_reviews FOR INSERT
    WITH CHECK ((tenant_id = {T} OR {P}) AND {OWN});
CREATE POLICY deal_reviews_progress ON deal_reviews FOR UPDATE
    USING (tenant_id = {T} OR {P}) WITH CHECK ((tenant_id = {T} OR {P}) AND {OWN})
"""

UPDATABLE = (
    "assignee_id, claimed_at, decision, notes, decided_by, decided_at, system_decision,"
    " approved_amount_minor, approved_currency, approved_rate, expires_at"
)


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLE_SQL)
    op.execute(GUARD_SQL)
    op.execute(
        "CREATE TRIGGER deal_reviews_guard BEFORE INSERT OR UPDATE ON deal_reviews"
        " FOR EACH ROW EXECUTE FUNCTION deal_reviews_guard()"
    )
    op.execute("ALTER TABLE deal_reviews ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_reviews FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ({UPDATABLE}) ON deal_reviews TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS deal_reviews")
    op.execute("DROP FUNCTION IF EXISTS deal_reviews_guard()")
