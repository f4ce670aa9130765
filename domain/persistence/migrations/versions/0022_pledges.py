"""Pledges: a warehouse-receipt deal's pledge of each of its receipts, registered at the
movable-property pledge registry and confirmed by the warehouse.

``pledges`` (tenant-owned, one per ``(deal, receipt)``): REQUESTED (created when the deal is
SIGNED; a worker files it at the registry, its lease and backoff in ``next_attempt_at``) ->
REGISTERED (the registry's ``registration_id`` and ``filing_number``, ``registered_at``) ->
CUSTODY_CONFIRMED (the warehouse's user confirms it holds the goods under that filing:
``confirmed_at``, ``confirmed_by_user_id``) -> RELEASED (by the funder: ``released_at``,
``released_by_user_id``); REQUESTED -> REFUSED when the registry refuses the filing. Registration
comes first so that the warehouse confirms custody against a public filing number.

The lock: while a pledge is active (REQUESTED, REGISTERED, CUSTODY_CONFIRMED) its receipt
cannot be cancelled nor change owner or warehouse (``ck_warehouse_receipts_pledge_locked``), its
deal's claim on it cannot be released (``ck_receipt_claims_pledge_locked``), no other deal can
claim it (``ck_receipt_claims_pledged_elsewhere``) and no second active pledge of it can exist,
by any funder (``uq_pledges_active_receipt``).

Row-level security on the row's own columns: the funder (``tenant_id``), the warehouse that
holds the goods (``warehouse_organization_id``, kept on the row) and the platform.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from alembic import context, op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


P = "(SELECT app_is_platform())"
T = "(SELECT app_tenant_id())"
O = "(SELECT app_organization_id())"  # noqa: E741
ACTIVE = "'REQUESTED', 'REGISTERED', 'CUSTODY_CONFIRMED'"

TABLE_SQL = f"""
CREATE TABLE pledges (
    tenant_id uuid NOT NULL CONSTRAINT fk_pledges_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    receipt_id uuid NOT NULL CONSTRAINT fk_pledges_receipt_id_warehouse_receipts
        REFERENCES warehouse_receipts (id),
    warehouse_organization_id uuid NOT NULL
        CONSTRAINT fk_pledges_warehouse_organization_id_organizations
        REFERENCES organizations (id),
    status varchar(32) NOT NULL DEFAULT 'REQUESTED' CONSTRAINT ck_pledges_pledge_status
        CHECK (status IN ('REQUESTED', 'REGISTERED', 'CUSTODY_CONFIRMED', 'RELEASED',
                          'REFUSED')),
    registration_id varchar(64),
    filing_number varchar(64),
    registered_at timestamptz,
    confirmed_at timestamptz,
    confirmed_by_user_id uuid CONSTRAINT fk_pledges_confirmed_by_user_id_users
        REFERENCES users (id),
    released_at timestamptz,
    released_by_user_id uuid CONSTRAINT fk_pledges_released_by_user_id_users
        REFERENCES users (id),
    refusal_code varchar(64),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    next_attempt_at timestamptz,
    last_error varchar(1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_pledges PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_pledges_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT uq_pledges_deal_receipt UNIQUE (tenant_id, deal_id, receipt_id),
    CONSTRAINT uq_pledges_registration_id UNIQUE (registration_id),
    CONSTRAINT ck_pledges_attempts CHECK (attempts >= 0 AND attempts <= max_attempts),
    CONSTRAINT ck_pledges_registered CHECK (
        status IN ('REQUESTED', 'REFUSED')
        OR (registration_id IS NOT NULL AND filing_number IS NOT NULL
            AND registered_at IS NOT NULL)),
    CONSTRAINT ck_pledges_confirmed CHECK (
        (status = 'CUSTODY_CONFIRMED')
        <= (confirmed_at IS NOT NULL AND confirmed_by_user_id IS NOT NULL)),
    CONSTRAINT ck_pledges_released CHECK (
        (status = 'RELEASED') = (released_at IS NOT NULL AND released_by_user_id IS NOT NULL)),
    CONSTRAINT ck_pledges_refused CHECK ((status = 'REFUSED') = (refusal_code IS NOT NULL))
);
CREATE UNIQUE INDEX uq_pledges_active_receipt ON pledges (receipt_id)
    WHERE status IN ({ACTIVE});
CREATE INDEX ix_pledges_id ON pledges (id);
CREATE INDEX ix_pledges_warehouse ON pledges (warehouse_organization_id, created_at, id);
CREATE INDEX ix_pledges_due ON pledges (next_attempt_at) WHERE status = 'REQUESTED'
"""

# Every function runs in the platform scope where it must see rows the acting principal may
# not (a warehouse cannot see funders' pledges, nor a funder another funder's).
_FN = "SET search_path = pg_catalog, public SET app.platform = 'on'"

FUNCTIONS_SQL = [
    # A pledge names a receipt its deal names, at the receipt's own warehouse.
    f"""
CREATE FUNCTION pledges_check_insert() RETURNS trigger LANGUAGE plpgsql {_FN}
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM deals d
                   WHERE d.tenant_id = NEW.tenant_id AND d.id = NEW.deal_id
                     AND d.warehouse_receipt_ids @> ARRAY[NEW.receipt_id]) THEN
        RAISE EXCEPTION 'a pledge is of a receipt its deal names'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_deal_names';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM warehouse_receipts r
                   WHERE r.id = NEW.receipt_id
                     AND r.warehouse_organization_id = NEW.warehouse_organization_id) THEN
        RAISE EXCEPTION 'a pledge names the warehouse of its receipt'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_warehouse';
    END IF;
    IF NEW.status <> 'REQUESTED' THEN
        RAISE EXCEPTION 'a pledge starts REQUESTED'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
    RETURN NEW;
END
$$
""",
    # The lifecycle; what identifies the pledge never changes.
    f"""
CREATE FUNCTION pledges_guard() RETURNS trigger LANGUAGE plpgsql {_FN}
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
    IF OLD.status IN ('RELEASED', 'REFUSED') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a % pledge is final', OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_pledges_transition';
    END IF;
    RETURN NEW;
END
$$
""",
    # The receipt under an active pledge: not cancelled, not transferred, not moved.
    f"""
CREATE FUNCTION warehouse_receipts_pledge_lock() RETURNS trigger LANGUAGE plpgsql {_FN}
AS $$
BEGIN
    IF (NEW.status, NEW.owner_organization_id, NEW.warehouse_organization_id, NEW.quantity)
       IS DISTINCT FROM
       (OLD.status, OLD.owner_organization_id, OLD.warehouse_organization_id, OLD.quantity)
       AND EXISTS (SELECT 1 FROM pledges p
                   WHERE p.receipt_id = OLD.id AND p.status IN ({ACTIVE})) THEN
        RAISE EXCEPTION 'warehouse receipt % is pledged', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_warehouse_receipts_pledge_locked';
    END IF;
    RETURN NEW;
END
$$
""",
    # The deal's claim stays while its pledge is active; no other deal claims the receipt.
    f"""
CREATE FUNCTION receipt_claims_pledge_lock() RETURNS trigger LANGUAGE plpgsql {_FN}
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM pledges p
                   WHERE p.receipt_id = NEW.receipt_id AND p.status IN ({ACTIVE})
                     AND (p.tenant_id, p.deal_id) IS DISTINCT FROM (NEW.tenant_id, NEW.deal_id))
        THEN
            RAISE EXCEPTION 'warehouse receipt % is pledged to another deal', NEW.receipt_id
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_receipt_claims_pledged_elsewhere';
        END IF;
    ELSIF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
          AND EXISTS (SELECT 1 FROM pledges p
                      WHERE p.tenant_id = OLD.tenant_id AND p.deal_id = OLD.deal_id
                        AND p.receipt_id = OLD.receipt_id AND p.status IN ({ACTIVE})) THEN
        RAISE EXCEPTION 'the claim on receipt % is held by an active pledge', OLD.receipt_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_receipt_claims_pledge_locked';
    END IF;
    RETURN NEW;
END
$$
""",
]

TRIGGERS_SQL = """
CREATE TRIGGER pledges_check_insert BEFORE INSERT ON pledges
    FOR EACH ROW EXECUTE FUNCTION pledges_check_insert();
CREATE TRIGGER pledges_guard BEFORE UPDATE ON pledges
    FOR EACH ROW EXECUTE FUNCTION pledges_guard();
CREATE TRIGGER warehouse_receipts_pledge_lock BEFORE UPDATE ON warehouse_receipts
    FOR EACH ROW EXECUTE FUNCTION warehouse_receipts_pledge_lock();
CREATE TRIGGER receipt_claims_pledge_lock BEFORE INSERT OR UPDATE ON receipt_claims
    FOR EACH ROW EXECUTE FUNCTION receipt_claims_pledge_lock()
"""

POLICIES_SQL = f"""
CREATE POLICY pledges_read ON pledges FOR SELECT
    USING (tenant_id = {T} OR warehouse_organization_id = {O} OR {P});
CREATE POLICY pledges_write ON pledges FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P});
CREATE POLICY pledges_change ON pledges FOR UPDATE
    USING (tenant_id = {T} OR warehouse_organization_id = {O} OR {P})
    WITH CHECK (tenant_id = {T} OR warehouse_organization_id = {O} OR {P})
"""

UPDATABLE = (
    "status, registration_id, filing_number, registered_at, confirmed_at, confirmed_by_user_id,"
    " released_at, released_by_user_id, refusal_code, attempts, next_attempt_at, last_error,"
    " updated_at"
)


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLE_SQL)
    for function in FUNCTIONS_SQL:
        op.execute(function)
    _execute_each(TRIGGERS_SQL)
    op.execute("ALTER TABLE pledges ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE pledges FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    op.execute(f"GRANT SELECT, INSERT ON pledges TO {role}")
    op.execute(f"GRANT UPDATE ({UPDATABLE}) ON pledges TO {role}")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS receipt_claims_pledge_lock ON receipt_claims")
    op.execute("DROP TRIGGER IF EXISTS warehouse_receipts_pledge_lock ON warehouse_receipts")
    op.execute("DROP TABLE IF EXISTS pledges")
    for name in (
        "receipt_claims_pledge_lock",
        "warehouse_receipts_pledge_lock",
        "pledges_guard",
        "pledges_check_insert",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
