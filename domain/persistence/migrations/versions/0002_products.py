"""Products and their versions; the marketplace's public read policies.

Row-level security: a tenant reads and writes its own products and versions; anyone (any
bound scope, even none) may read PUBLISHED products and their current version, since
marketplace offers are public; the platform scope sees everything. ACTIVE funders with a
PUBLISHED product become readable on ``tenants`` (for their name in the marketplace); nothing
else about tenants changes. A version is frozen once its product has left DRAFT (trigger).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


TABLES_SQL = """
CREATE TABLE products (
    tenant_id uuid NOT NULL CONSTRAINT fk_products_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    product_line varchar(32) NOT NULL CONSTRAINT ck_products_product_line
        CHECK (product_line IN ('CONSUMER_CREDIT', 'ORDER_FINANCING', 'WAREHOUSE_RECEIPT_PLEDGE')),
    name varchar(200) NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_products_product_status
        CHECK (status IN ('DRAFT', 'PUBLISHED', 'RETIRED')),
    current_version integer NOT NULL CONSTRAINT ck_products_current_version CHECK (current_version >= 1),
    updated_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    retired_at timestamptz,
    CONSTRAINT pk_products PRIMARY KEY (tenant_id, id),
    CONSTRAINT ck_products_lifecycle_dates CHECK (
        (status = 'DRAFT' AND published_at IS NULL AND retired_at IS NULL)
        OR (status = 'PUBLISHED' AND published_at IS NOT NULL AND retired_at IS NULL)
        OR (status = 'RETIRED' AND published_at IS NOT NULL AND retired_at IS NOT NULL))
);
CREATE INDEX ix_products_id ON products (id);
CREATE INDEX ix_products_tenant_created ON products (tenant_id, created_at, id);
CREATE INDEX ix_products_marketplace ON products (published_at, tenant_id, id)
    WHERE status = 'PUBLISHED';

CREATE TABLE product_versions (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    product_id uuid NOT NULL,
    version integer NOT NULL CONSTRAINT ck_product_versions_version CHECK (version >= 1),
    currency varchar(3) NOT NULL,
    min_amount_minor bigint NOT NULL,
    max_amount_minor bigint NOT NULL,
    term_unit varchar(32) NOT NULL CONSTRAINT ck_product_versions_term_unit
        CHECK (term_unit IN ('MONTH', 'DAY')),
    allowed_terms integer[] NOT NULL,
    annual_rate numeric(10, 8) NOT NULL,
    repayment_method varchar(32) NOT NULL CONSTRAINT ck_product_versions_repayment_method
        CHECK (repayment_method IN ('EQUAL_INSTALLMENT', 'EQUAL_PRINCIPAL', 'INTEREST_ONLY', 'BULLET')),
    day_count varchar(32) NOT NULL CONSTRAINT ck_product_versions_day_count
        CHECK (day_count IN ('ACT_365', 'ACT_360', 'THIRTY_360')),
    origination_fee_kind varchar(32) NOT NULL CONSTRAINT ck_product_versions_fee_kind
        CHECK (origination_fee_kind IN ('NONE', 'FLAT', 'PERCENT')),
    origination_fee_flat_minor bigint,
    origination_fee_rate numeric(10, 8),
    late_penalty_daily_rate numeric(10, 8) NOT NULL,
    late_penalty_basis varchar(32) NOT NULL CONSTRAINT ck_product_versions_penalty_basis
        CHECK (late_penalty_basis IN ('OVERDUE_PRINCIPAL', 'OVERDUE_INSTALLMENT')),
    late_penalty_grace_days integer NOT NULL,
    prepayment_penalty_rate numeric(10, 8) NOT NULL,
    prepayment_free_allowance numeric(10, 8) NOT NULL,
    max_advance_rate numeric(10, 8),
    eligible_core_enterprise_ids uuid[],
    max_ltv numeric(10, 8),
    haircut numeric(10, 8),
    accepted_warehouse_ids uuid[],
    min_borrower_age integer,
    max_borrower_age integer,
    min_credit_score integer,
    CONSTRAINT pk_product_versions PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_product_versions_tenant_id_products FOREIGN KEY (tenant_id, product_id)
        REFERENCES products (tenant_id, id),
    CONSTRAINT uq_product_versions_product_version UNIQUE (tenant_id, product_id, version),
    -- The service's rules, kept by the database as well.
    CONSTRAINT ck_product_versions_amounts
        CHECK (min_amount_minor > 0 AND min_amount_minor <= max_amount_minor),
    CONSTRAINT ck_product_versions_annual_rate CHECK (annual_rate >= 0 AND annual_rate <= 0.36),
    CONSTRAINT ck_product_versions_allowed_terms CHECK (
        cardinality(allowed_terms) >= 1 AND array_position(allowed_terms, NULL) IS NULL
        AND 0 < ALL (allowed_terms)),
    CONSTRAINT ck_product_versions_origination_fee CHECK (
        (origination_fee_kind = 'NONE'
            AND origination_fee_flat_minor IS NULL AND origination_fee_rate IS NULL)
        OR (origination_fee_kind = 'FLAT'
            AND origination_fee_flat_minor >= 0 AND origination_fee_rate IS NULL)
        OR (origination_fee_kind = 'PERCENT'
            AND origination_fee_rate >= 0 AND origination_fee_flat_minor IS NULL))
);
CREATE INDEX ix_product_versions_product_id ON product_versions (product_id);
"""

# A version is immutable once its product is PUBLISHED or RETIRED: deals recorded under it
# must keep its terms. (A DRAFT's only version is edited in place.) One statement: the body
# contains ";\n".
FREEZE_FUNCTION_SQL = """
CREATE FUNCTION product_versions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.id <> OLD.id
       OR NEW.product_id <> OLD.product_id OR NEW.version <> OLD.version THEN
        RAISE EXCEPTION 'the identity of a product version cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM products p
               WHERE p.tenant_id = OLD.tenant_id AND p.id = OLD.product_id
                 AND p.status <> 'DRAFT') THEN
        RAISE EXCEPTION 'version % of product % is published and cannot change',
            OLD.version, OLD.product_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$
"""

TRIGGER_SQL = """
CREATE TRIGGER product_versions_frozen BEFORE UPDATE ON product_versions
    FOR EACH ROW EXECUTE FUNCTION product_versions_frozen()
"""

# Permissive policies are OR-ed per command. The marketplace policies are FOR SELECT only, so
# they never let anyone write another funder's rows. They must not refer to ``tenants``,
# whose marketplace policy refers to ``products`` (policies referring to each other recurse).
POLICIES_SQL = """
CREATE POLICY products_access ON products
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id());

CREATE POLICY products_marketplace_read ON products FOR SELECT
    USING (status = 'PUBLISHED');

CREATE POLICY product_versions_access ON product_versions
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id());

CREATE POLICY product_versions_marketplace_read ON product_versions FOR SELECT
    USING (EXISTS (SELECT 1 FROM products p
                   WHERE p.tenant_id = product_versions.tenant_id
                     AND p.id = product_versions.product_id
                     AND p.status = 'PUBLISHED'
                     AND p.current_version = product_versions.version));

CREATE POLICY tenants_marketplace_read ON tenants FOR SELECT
    USING (status = 'ACTIVE'
           AND EXISTS (SELECT 1 FROM products p
                       WHERE p.tenant_id = tenants.id AND p.status = 'PUBLISHED'));
"""

RLS_TABLES = ("products", "product_versions")

# What the application may change: never a row's identity, its tenant or its product line.
PRODUCTS_UPDATABLE = "name, status, current_version, updated_at, published_at, retired_at"
VERSIONS_UPDATABLE = (
    "currency, min_amount_minor, max_amount_minor, term_unit, allowed_terms, annual_rate,"
    " repayment_method, day_count, origination_fee_kind, origination_fee_flat_minor,"
    " origination_fee_rate, late_penalty_daily_rate, late_penalty_basis,"
    " late_penalty_grace_days, prepayment_penalty_rate, prepayment_free_allowance,"
    " max_advance_rate, eligible_core_enterprise_ids, max_ltv, haircut, accepted_warehouse_ids,"
    " min_borrower_age, max_borrower_age, min_credit_score"
)


def _execute_each(sql: str) -> None:
    # asyncpg runs one command per statement; none of these statements contains ";\n".
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLES_SQL)
    op.execute(FREEZE_FUNCTION_SQL)
    op.execute(TRIGGER_SQL)
    for table in RLS_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT ON products, product_versions TO {role}")
    op.execute(f"GRANT UPDATE ({PRODUCTS_UPDATABLE}) ON products TO {role}")
    op.execute(f"GRANT UPDATE ({VERSIONS_UPDATABLE}) ON product_versions TO {role}")


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS tenants_marketplace_read ON tenants")
    for table in reversed(RLS_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP FUNCTION IF EXISTS product_versions_frozen()")
