"""Commodity prices for collateral valuation.

``warehouse_receipts.commodity_code``: the exchange or spot-market code of the goods (``CU``,
``RB``, ...), which a valuation prices them by. Optional: receipts issued before it, and goods
without a quoted market, have none (a valuation leaves them unvalued). Written once, when the
warehouse issues the receipt: the application role gets no UPDATE on it.

``commodity_prices``: a funder's own prices of a commodity, in a currency, per unit, as of a
moment. Tenant-owned, read and written only in the funder's scope (and the operator's). Append
only: a new price is a new row, so every valuation can be traced to the price it used; the
application role may SELECT and INSERT, never UPDATE or DELETE. The latest price of a
commodity in a currency is the first row of ``ix_commodity_prices_latest``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


P = "(SELECT app_is_platform())"
T = "(SELECT app_tenant_id())"

#: What a commodity code is, in both tables (the application normalises to upper case).
CODE_CHECK = "commodity_code ~ '^[A-Z0-9._-]{1,32}$'"

TABLE_SQL = f"""
CREATE TABLE commodity_prices (
    tenant_id uuid NOT NULL CONSTRAINT fk_commodity_prices_tenant_id_tenants
        REFERENCES tenants (id),
    id uuid NOT NULL,
    commodity_code varchar(32) NOT NULL CONSTRAINT ck_commodity_prices_commodity_code
        CHECK ({CODE_CHECK}),
    currency varchar(3) NOT NULL,
    unit varchar(16) NOT NULL,
    price_minor bigint NOT NULL CONSTRAINT ck_commodity_prices_price_positive
        CHECK (price_minor > 0),
    as_of timestamptz NOT NULL,
    source text NOT NULL,
    created_by_user_id uuid CONSTRAINT fk_commodity_prices_created_by_user_id_users
        REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_commodity_prices PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_commodity_prices_as_of
        UNIQUE (tenant_id, commodity_code, currency, unit, as_of)
);
CREATE INDEX ix_commodity_prices_id ON commodity_prices (id);
-- The latest price of a commodity in a currency: the first entry of its range.
CREATE INDEX ix_commodity_prices_latest
    ON commodity_prices (tenant_id, commodity_code, currency, as_of DESC)
"""

POLICIES_SQL = f"""
CREATE POLICY commodity_prices_read ON commodity_prices FOR SELECT
    USING (tenant_id = {T} OR {P});
CREATE POLICY commodity_prices_record ON commodity_prices FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P})
"""


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    op.add_column("warehouse_receipts", sa.Column("commodity_code", sa.String(32), nullable=True))
    op.create_check_constraint(
        op.f("ck_warehouse_receipts_commodity_code"),
        "warehouse_receipts",
        f"commodity_code IS NULL OR {CODE_CHECK}",
    )
    _execute_each(TABLE_SQL)
    op.execute("ALTER TABLE commodity_prices ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE commodity_prices FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT ON commodity_prices TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS commodity_prices")
    op.drop_constraint("ck_warehouse_receipts_commodity_code", "warehouse_receipts", type_="check")
    op.drop_column("warehouse_receipts", "commodity_code")
