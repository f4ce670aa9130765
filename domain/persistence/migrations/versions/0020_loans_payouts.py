"""Disbursement: ``payouts`` (one request to the payment rail per disbursement) and ``loans``
(the servicing account a settled payout creates), and the lifecycle's way back from a failed
payout (DISBURSING -> SIGNED).

``payouts``: the deal, the idempotency key the finance officer gave (unique in the tenant),
the amount lent, the fee withheld and what is paid out, the beneficiary (the account number
encrypted), and the payout's progress: REQUESTED (waiting for the rail to accept it; the
worker's lease in ``next_attempt_at``), SENT (accepted: the rail's ``provider_payout_id``),
SETTLED or FAILED. A deal has at most one payout that is not FAILED: the partial unique index
decides between concurrent requests under different keys.

``loans``: one per deal, created ACTIVE when its payout settles, with the schedule fixed from
the value date (the lines as JSON, in minor units).

Row-level security as everywhere: a tenant reads and writes its own rows, the platform scope
(which the rail's callbacks are applied in) any tenant's. The application role updates only
the columns that record progress.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


P = "(SELECT app_is_platform())"
T = "(SELECT app_tenant_id())"

TABLES = ("payouts", "loans")

TABLE_SQL = """
CREATE TABLE payouts (
    tenant_id uuid NOT NULL CONSTRAINT fk_payouts_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    idempotency_key varchar(255) NOT NULL,
    currency varchar(3) NOT NULL,
    amount_minor bigint NOT NULL,
    fee_minor bigint NOT NULL,
    net_minor bigint NOT NULL,
    value_date date,
    beneficiary_name varchar(200) NOT NULL,
    beneficiary_account bytea NOT NULL,
    beneficiary_bank_code varchar(32) NOT NULL,
    state varchar(32) NOT NULL DEFAULT 'REQUESTED' CONSTRAINT ck_payouts_payout_state
        CHECK (state IN ('REQUESTED', 'SENT', 'SETTLED', 'FAILED')),
    provider_payout_id varchar(64),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    next_attempt_at timestamptz,
    last_error varchar(1000),
    failure_reason varchar(200),
    requested_by_user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    settled_at timestamptz,
    CONSTRAINT pk_payouts PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_payouts_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT uq_payouts_idempotency_key UNIQUE (tenant_id, idempotency_key),
    CONSTRAINT uq_payouts_provider_payout_id UNIQUE (provider_payout_id),
    CONSTRAINT ck_payouts_amounts CHECK (
        amount_minor > 0 AND fee_minor >= 0 AND net_minor > 0
        AND net_minor = amount_minor - fee_minor),
    CONSTRAINT ck_payouts_attempts CHECK (attempts >= 0 AND attempts <= max_attempts)
);
CREATE UNIQUE INDEX uq_payouts_live_deal ON payouts (tenant_id, deal_id)
    WHERE state <> 'FAILED';
CREATE INDEX ix_payouts_id ON payouts (id);
CREATE INDEX ix_payouts_due ON payouts (next_attempt_at) WHERE state = 'REQUESTED';
CREATE TABLE loans (
    tenant_id uuid NOT NULL CONSTRAINT fk_loans_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    payout_id uuid NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_loans_loan_status
        CHECK (status IN ('ACTIVE', 'OVERDUE', 'SETTLED', 'WRITTEN_OFF')),
    currency varchar(3) NOT NULL,
    principal_minor bigint NOT NULL CONSTRAINT ck_loans_principal_positive
        CHECK (principal_minor > 0),
    fee_minor bigint NOT NULL,
    annual_rate numeric(12, 8) NOT NULL,
    value_date date NOT NULL,
    maturity_date date NOT NULL,
    schedule jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_loans PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_loans_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT fk_loans_tenant_id_payouts FOREIGN KEY (tenant_id, payout_id)
        REFERENCES payouts (tenant_id, id),
    CONSTRAINT uq_loans_deal UNIQUE (tenant_id, deal_id),
    CONSTRAINT ck_loans_dates CHECK (maturity_date > value_date)
);
CREATE INDEX ix_loans_id ON loans (id)
"""

# The lifecycle of 0006 with DISBURSING -> SIGNED: a payout the rail failed leaves the deal
# signed, to be disbursed again (domain.deals.policy.TRANSITIONS says the same).
_PAIRS = """
        ('DRAFT', 'SUBMITTED'), ('DRAFT', 'WITHDRAWN'),
        ('SUBMITTED', 'FIRST_REVIEW'), ('SUBMITTED', 'RETURNED'), ('SUBMITTED', 'WITHDRAWN'),
        ('RETURNED', 'SUBMITTED'), ('RETURNED', 'WITHDRAWN'),
        ('FIRST_REVIEW', 'SECOND_REVIEW'), ('FIRST_REVIEW', 'REJECTED'),
        ('FIRST_REVIEW', 'RETURNED'), ('FIRST_REVIEW', 'WITHDRAWN'),
        ('SECOND_REVIEW', 'APPROVED'), ('SECOND_REVIEW', 'REJECTED'),
        ('SECOND_REVIEW', 'RETURNED'), ('SECOND_REVIEW', 'WITHDRAWN'),
        ('APPROVED', 'SIGNING'), ('APPROVED', 'EXPIRED'), ('APPROVED', 'WITHDRAWN'),
        ('SIGNING', 'SIGNED'), ('SIGNING', 'EXPIRED'), ('SIGNING', 'WITHDRAWN'),
        ('SIGNED', 'DISBURSING'), ('DISBURSING', 'ACTIVE'),{extra}
        ('ACTIVE', 'OVERDUE'), ('ACTIVE', 'SETTLED'),
        ('OVERDUE', 'ACTIVE'), ('OVERDUE', 'SETTLED'), ('OVERDUE', 'COLLECTIONS'),
        ('COLLECTIONS', 'SETTLED'), ('COLLECTIONS', 'SOLD'), ('COLLECTIONS', 'WRITTEN_OFF')"""


def _transitions(extra: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION deal_transition_allowed(p_from text, p_to text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT (p_from, p_to) IN ({_PAIRS.format(extra=extra)})
$$
"""


def _policies(table: str) -> str:
    return f"""
CREATE POLICY {table}_read ON {table} FOR SELECT
    USING (tenant_id = {T} OR {P});
CREATE POLICY {table}_write ON {table} FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P});
CREATE POLICY {table}_change ON {table} FOR UPDATE
    USING (tenant_id = {T} OR {P}) WITH CHECK (tenant_id = {T} OR {P})
"""


UPDATABLE = {
    "payouts": (
        "state, provider_payout_id, attempts, next_attempt_at, last_error, failure_reason,"
        " updated_at, sent_at, settled_at"
    ),
    "loans": "status, updated_at",
}


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLE_SQL)
    op.execute(_transitions(" ('DISBURSING', 'SIGNED'),"))
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        _execute_each(_policies(table))
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")
        op.execute(f"GRANT UPDATE ({UPDATABLE[table]}) ON {table} TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS loans")
    op.execute("DROP TABLE IF EXISTS payouts")
    op.execute(_transitions(""))
