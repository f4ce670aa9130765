"""Risk assessments: the scorecard's verdict on a submitted deal.

``risk_assessments``: one row per submission of a deal (``(tenant_id, deal_id,
submitted_at)`` is unique, so an assessment repeated by a re-delivered job or the sweeper is
refused by the database rather than written twice), with the recommendation, whether the first
review was approved by the system, each rule's result and the facts judged. Written by the
funder's service principal once every integration call of the deal is final; read by the
funder's staff (risk data never leaves the funder). Append-only: the application role may
insert and read, never update or delete.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0016"
down_revision = "0015"
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
CREATE TABLE risk_assessments (
    tenant_id uuid NOT NULL CONSTRAINT fk_risk_assessments_tenant_id_tenants
        REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    submitted_at timestamptz NOT NULL,
    recommendation varchar(32) NOT NULL CONSTRAINT ck_risk_assessments_recommendation
        CHECK (recommendation IN ('APPROVE', 'REFER', 'DECLINE')),
    auto_approved boolean NOT NULL DEFAULT false,
    results jsonb NOT NULL,
    facts jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_risk_assessments PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_risk_assessments_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT uq_risk_assessments_submission UNIQUE (tenant_id, deal_id, submitted_at),
    CONSTRAINT ck_risk_assessments_auto_approved
        CHECK (NOT auto_approved OR recommendation = 'APPROVE')
)
"""

POLICIES_SQL = f"""
CREATE POLICY risk_assessments_read ON risk_assessments FOR SELECT
    USING (tenant_id = {T} OR {P});
CREATE POLICY risk_assessments_write ON risk_assessments FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P})
"""


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _execute_each(TABLE_SQL)
    op.execute("ALTER TABLE risk_assessments ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE risk_assessments FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT ON risk_assessments TO {_app_role()}")


def downgrade() -> None:
    op.execute("DROP TABLE risk_assessments")
