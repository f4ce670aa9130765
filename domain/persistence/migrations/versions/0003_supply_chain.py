"""Supply-chain assets: purchase orders, warehouse receipts, receipt claims and documents.

Purchase orders, warehouse receipts and documents are platform-level (no ``tenant_id``): they
belong to the parties, not to a funder. ``receipt_claims`` is tenant-owned: a funder's deal
claims a receipt as its collateral.

The guarantee that a receipt backs at most one live deal is the partial unique index
``uq_receipt_claims_live`` on ``receipt_claims (receipt_id) WHERE released_at IS NULL``. It is
global: a unique index sees every row whatever row-level security shows the inserting
transaction, so two funders cannot both hold a live claim. (When the tables are distributed by
tenant, ``receipt_claims`` must stay where one index covers every tenant, e.g. a reference or
coordinator table, or this guarantee is lost.)

Row-level security:

* ``purchase_orders``: the seller, the buyer, the partner that submitted it and the platform
  read it; the submitting organization (or the platform) inserts it; the buyer decides it.
* ``warehouse_receipts``: the warehouse, the owner, the platform and any funder that has
  claimed it read it; the warehouse issues and cancels it.
* ``receipt_claims``: the platform and the claiming tenant, for reads and writes.
* ``documents``: the owner (organization or person), the platform, and whoever sees the
  purchase order or receipt it is attached to.
* ``organizations`` gains one read rule: the seller of a purchase order is visible to its buyer
  and submitter, the owner of a receipt to its warehouse (counterparties must see each other).
* ``audit_log`` and ``events`` gain an append-only rule for principals acting for an
  organization or a person outside any tenant: they may add platform-level rows (about their
  own actions) but still read none.

Three triggers keep rules that row-level security cannot: the parties of an order or receipt
have the right kind (checked in the platform scope, since a warehouse cannot see its client's
organization before the receipt exists), a claim needs an ISSUED receipt and a cancellation
needs no live claim (both lock the receipt row, so a claim and a cancellation racing each other
are serialised), and decided orders, cancelled receipts and released claims are final.
Functions that must see past row-level security say so with ``SET app.platform = 'on'``, which
PostgreSQL restores when the function returns; their bodies are fixed and take no SQL input.

Grants: no DELETE anywhere; UPDATE only of the columns a use case changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


TABLES_SQL = """
CREATE TABLE purchase_orders (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    seller_organization_id uuid NOT NULL
        CONSTRAINT fk_purchase_orders_seller_organization_id_organizations
        REFERENCES organizations (id),
    buyer_organization_id uuid NOT NULL
        CONSTRAINT fk_purchase_orders_buyer_organization_id_organizations
        REFERENCES organizations (id),
    submitted_by_organization_id uuid
        CONSTRAINT fk_purchase_orders_submitted_by_organization_id_organizations
        REFERENCES organizations (id),
    number varchar(64) NOT NULL,
    currency varchar(3) NOT NULL,
    amount_minor bigint NOT NULL,
    issue_date date NOT NULL,
    due_date date NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_purchase_orders_purchase_order_status
        CHECK (status IN ('PENDING_CONFIRMATION', 'CONFIRMED', 'DISPUTED')),
    created_by_user_id uuid CONSTRAINT fk_purchase_orders_created_by_user_id_users
        REFERENCES users (id),
    created_by_client_id varchar(64),
    decided_by_user_id uuid CONSTRAINT fk_purchase_orders_decided_by_user_id_users
        REFERENCES users (id),
    decided_at timestamptz,
    decision_note varchar(1000),
    CONSTRAINT uq_purchase_orders_buyer_number UNIQUE (buyer_organization_id, number),
    CONSTRAINT ck_purchase_orders_amount CHECK (amount_minor > 0),
    CONSTRAINT ck_purchase_orders_dates CHECK (due_date >= issue_date),
    CONSTRAINT ck_purchase_orders_distinct_parties
        CHECK (seller_organization_id <> buyer_organization_id),
    CONSTRAINT ck_purchase_orders_decision CHECK (
        (status = 'PENDING_CONFIRMATION' AND decided_by_user_id IS NULL AND decided_at IS NULL)
        OR (status = 'CONFIRMED' AND decided_by_user_id IS NOT NULL AND decided_at IS NOT NULL)
        OR (status = 'DISPUTED' AND decided_by_user_id IS NOT NULL AND decided_at IS NOT NULL
            AND decision_note IS NOT NULL))
);
CREATE INDEX ix_purchase_orders_seller ON purchase_orders (seller_organization_id, created_at, id);
CREATE INDEX ix_purchase_orders_buyer ON purchase_orders (buyer_organization_id, created_at, id);
CREATE INDEX ix_purchase_orders_submitter ON purchase_orders (submitted_by_organization_id, created_at, id);

CREATE TABLE warehouse_receipts (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    warehouse_organization_id uuid NOT NULL
        CONSTRAINT fk_warehouse_receipts_warehouse_organization_id_organizations
        REFERENCES organizations (id),
    owner_organization_id uuid NOT NULL
        CONSTRAINT fk_warehouse_receipts_owner_organization_id_organizations
        REFERENCES organizations (id),
    number varchar(64) NOT NULL,
    goods_description varchar(500) NOT NULL,
    quantity numeric(20, 6) NOT NULL,
    unit varchar(16) NOT NULL,
    location varchar(200) NOT NULL,
    currency varchar(3) NOT NULL,
    unit_price_minor bigint NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_warehouse_receipts_warehouse_receipt_status
        CHECK (status IN ('ISSUED', 'CANCELLED')),
    issued_by_user_id uuid NOT NULL CONSTRAINT fk_warehouse_receipts_issued_by_user_id_users
        REFERENCES users (id),
    cancelled_by_user_id uuid CONSTRAINT fk_warehouse_receipts_cancelled_by_user_id_users
        REFERENCES users (id),
    cancelled_at timestamptz,
    cancellation_reason varchar(500),
    CONSTRAINT uq_warehouse_receipts_warehouse_number UNIQUE (warehouse_organization_id, number),
    CONSTRAINT ck_warehouse_receipts_quantity CHECK (quantity > 0),
    CONSTRAINT ck_warehouse_receipts_unit_price CHECK (unit_price_minor > 0),
    CONSTRAINT ck_warehouse_receipts_cancellation CHECK (
        (status = 'ISSUED' AND cancelled_by_user_id IS NULL AND cancelled_at IS NULL)
        OR (status = 'CANCELLED' AND cancelled_by_user_id IS NOT NULL
            AND cancelled_at IS NOT NULL AND cancellation_reason IS NOT NULL))
);
CREATE INDEX ix_warehouse_receipts_warehouse ON warehouse_receipts (warehouse_organization_id, created_at, id);
CREATE INDEX ix_warehouse_receipts_owner ON warehouse_receipts (owner_organization_id, created_at, id);

CREATE TABLE receipt_claims (
    tenant_id uuid NOT NULL CONSTRAINT fk_receipt_claims_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    receipt_id uuid NOT NULL CONSTRAINT fk_receipt_claims_receipt_id_warehouse_receipts
        REFERENCES warehouse_receipts (id),
    -- The deal (tenant_id, deal_id); its foreign key is added with the deals table.
    deal_id uuid NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    CONSTRAINT pk_receipt_claims PRIMARY KEY (tenant_id, id),
    CONSTRAINT ck_receipt_claims_release_after_claim
        CHECK (released_at IS NULL OR released_at >= claimed_at)
);
-- THE constraint: at most one live (unreleased) claim per receipt, across every tenant.
CREATE UNIQUE INDEX uq_receipt_claims_live ON receipt_claims (receipt_id) WHERE released_at IS NULL;
CREATE INDEX ix_receipt_claims_receipt_tenant ON receipt_claims (receipt_id, tenant_id);
CREATE INDEX ix_receipt_claims_deal ON receipt_claims (tenant_id, deal_id);

CREATE TABLE documents (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    owner_organization_id uuid CONSTRAINT fk_documents_owner_organization_id_organizations
        REFERENCES organizations (id),
    owner_person_id uuid CONSTRAINT fk_documents_owner_person_id_persons
        REFERENCES persons (id),
    kind varchar(32) NOT NULL CONSTRAINT ck_documents_document_kind
        CHECK (kind IN ('PURCHASE_ORDER', 'INVOICE', 'DELIVERY_NOTE', 'CONTRACT',
                        'WAREHOUSE_RECEIPT', 'INSPECTION_REPORT', 'INSURANCE_POLICY', 'OTHER')),
    file_name varchar(255) NOT NULL,
    content_type varchar(100) NOT NULL,
    size_bytes bigint NOT NULL,
    sha256 varchar(64) NOT NULL,
    storage_key varchar(200) NOT NULL,
    uploaded_by_user_id uuid CONSTRAINT fk_documents_uploaded_by_user_id_users
        REFERENCES users (id),
    uploaded_by_client_id varchar(64),
    purchase_order_id uuid CONSTRAINT fk_documents_purchase_order_id_purchase_orders
        REFERENCES purchase_orders (id),
    warehouse_receipt_id uuid CONSTRAINT fk_documents_warehouse_receipt_id_warehouse_receipts
        REFERENCES warehouse_receipts (id),
    attached_at timestamptz,
    CONSTRAINT ck_documents_one_owner CHECK (num_nonnulls(owner_organization_id, owner_person_id) = 1),
    CONSTRAINT ck_documents_one_subject
        CHECK (num_nonnulls(purchase_order_id, warehouse_receipt_id) <= 1),
    CONSTRAINT ck_documents_attached_at CHECK (
        (attached_at IS NULL) = (purchase_order_id IS NULL AND warehouse_receipt_id IS NULL)),
    CONSTRAINT ck_documents_size CHECK (size_bytes > 0),
    CONSTRAINT ck_documents_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX ix_documents_owner_organization_id ON documents (owner_organization_id);
CREATE INDEX ix_documents_owner_person_id ON documents (owner_person_id);
CREATE INDEX ix_documents_purchase_order_id ON documents (purchase_order_id);
CREATE INDEX ix_documents_warehouse_receipt_id ON documents (warehouse_receipt_id);
"""

# Each function is one statement (their bodies contain ";\n").
FUNCTIONS_SQL = [
    # The parties of an order have the kinds the product line needs. Run in the platform
    # scope: a partner submitting for a seller cannot see the seller's organization.
    """
CREATE FUNCTION purchase_orders_check_parties() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
DECLARE
    found_kind text;
BEGIN
    SELECT o.kind INTO found_kind FROM organizations o WHERE o.id = NEW.seller_organization_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no organization %', NEW.seller_organization_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_purchase_orders_seller_organization_id_organizations';
    ELSIF found_kind <> 'TRADE_ENTERPRISE' THEN
        RAISE EXCEPTION 'the seller is a %, not a TRADE_ENTERPRISE', found_kind
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_purchase_orders_seller_kind';
    END IF;
    SELECT o.kind INTO found_kind FROM organizations o WHERE o.id = NEW.buyer_organization_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no organization %', NEW.buyer_organization_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_purchase_orders_buyer_organization_id_organizations';
    ELSIF found_kind <> 'CORE_ENTERPRISE' THEN
        RAISE EXCEPTION 'the buyer is a %, not a CORE_ENTERPRISE', found_kind
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_purchase_orders_buyer_kind';
    END IF;
    IF NEW.submitted_by_organization_id IS NOT NULL
       AND NEW.submitted_by_organization_id <> NEW.seller_organization_id THEN
        SELECT o.kind INTO found_kind FROM organizations o
        WHERE o.id = NEW.submitted_by_organization_id;
        IF NOT FOUND OR found_kind <> 'PARTNER' THEN
            RAISE EXCEPTION 'only the seller or a partner submits a purchase order'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_purchase_orders_submitter_kind';
        END IF;
    END IF;
    RETURN NEW;
END
$$
""",
    # PENDING_CONFIRMATION -> CONFIRMED | DISPUTED, once; a decided order never changes.
    """
CREATE FUNCTION purchase_orders_decided_once() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF OLD.status <> 'PENDING_CONFIRMATION' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'purchase order % is % and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_purchase_orders_decided_once';
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE FUNCTION warehouse_receipts_check_parties() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
DECLARE
    found_kind text;
BEGIN
    SELECT o.kind INTO found_kind FROM organizations o
    WHERE o.id = NEW.warehouse_organization_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no organization %', NEW.warehouse_organization_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_warehouse_receipts_warehouse_organization_id_organizations';
    ELSIF found_kind <> 'WAREHOUSE' THEN
        RAISE EXCEPTION 'the issuer is a %, not a WAREHOUSE', found_kind
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_warehouse_receipts_warehouse_kind';
    END IF;
    SELECT o.kind INTO found_kind FROM organizations o WHERE o.id = NEW.owner_organization_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no organization %', NEW.owner_organization_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_warehouse_receipts_owner_organization_id_organizations';
    ELSIF found_kind <> 'CARGO_OWNER' THEN
        RAISE EXCEPTION 'the owner is a %, not a CARGO_OWNER', found_kind
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_warehouse_receipts_owner_kind';
    END IF;
    RETURN NEW;
END
$$
""",
    # A cancelled receipt is final, and a receipt backing a live deal cannot be cancelled.
    # The row is locked before a BEFORE UPDATE trigger runs, and a claim takes FOR SHARE on
    # it, so a cancellation and a claim are serialised; the claims query takes a fresh
    # snapshot (a VOLATILE function under READ COMMITTED) and sees a claim committed while
    # this update waited. The warehouse cannot see funders' claims: platform scope here.
    """
CREATE FUNCTION warehouse_receipts_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
BEGIN
    IF OLD.status = 'CANCELLED' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'warehouse receipt % is cancelled and cannot change', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_warehouse_receipts_cancelled_final';
    END IF;
    IF NEW.status = 'CANCELLED' AND OLD.status = 'ISSUED'
       AND EXISTS (SELECT 1 FROM receipt_claims c
                   WHERE c.receipt_id = OLD.id AND c.released_at IS NULL) THEN
        RAISE EXCEPTION 'warehouse receipt % backs a live deal', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_warehouse_receipts_not_pledged';
    END IF;
    RETURN NEW;
END
$$
""",
    # A claim needs an ISSUED receipt. FOR SHARE waits for a concurrent cancellation and then
    # reads the committed status (see warehouse_receipts_guard). The claiming funder may not
    # see the receipt yet: platform scope here.
    """
CREATE FUNCTION receipt_claims_check_receipt() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
DECLARE
    found_status text;
BEGIN
    SELECT r.status INTO found_status FROM warehouse_receipts r
    WHERE r.id = NEW.receipt_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no warehouse receipt %', NEW.receipt_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_receipt_claims_receipt_id_warehouse_receipts';
    ELSIF found_status <> 'ISSUED' THEN
        RAISE EXCEPTION 'warehouse receipt % is %', NEW.receipt_id, found_status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_receipt_claims_receipt_issued';
    END IF;
    RETURN NEW;
END
$$
""",
    # A released claim stays released (re-claiming writes a new row).
    """
CREATE FUNCTION receipt_claims_released_once() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF OLD.released_at IS NOT NULL AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'claim % was released and cannot change', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_receipt_claims_released_once';
    END IF;
    RETURN NEW;
END
$$
""",
]

TRIGGERS_SQL = """
CREATE TRIGGER purchase_orders_check_parties BEFORE INSERT ON purchase_orders
    FOR EACH ROW EXECUTE FUNCTION purchase_orders_check_parties();
CREATE TRIGGER purchase_orders_decided_once BEFORE UPDATE ON purchase_orders
    FOR EACH ROW EXECUTE FUNCTION purchase_orders_decided_once();
CREATE TRIGGER warehouse_receipts_check_parties BEFORE INSERT ON warehouse_receipts
    FOR EACH ROW EXECUTE FUNCTION warehouse_receipts_check_parties();
CREATE TRIGGER warehouse_receipts_guard BEFORE UPDATE ON warehouse_receipts
    FOR EACH ROW EXECUTE FUNCTION warehouse_receipts_guard();
CREATE TRIGGER receipt_claims_check_receipt BEFORE INSERT ON receipt_claims
    FOR EACH ROW EXECUTE FUNCTION receipt_claims_check_receipt();
CREATE TRIGGER receipt_claims_released_once BEFORE UPDATE ON receipt_claims
    FOR EACH ROW EXECUTE FUNCTION receipt_claims_released_once()
"""

# Permissive policies are OR-ed per command. No policy here refers back to a table whose
# policy refers to this one (PostgreSQL refuses recursive policies): documents and
# organizations look at orders and receipts; receipts look at claims; claims, orders look at
# nothing else.
POLICIES_SQL = """
CREATE POLICY purchase_orders_read ON purchase_orders FOR SELECT
    USING (app_is_platform()
           OR seller_organization_id = app_organization_id()
           OR buyer_organization_id = app_organization_id()
           OR submitted_by_organization_id = app_organization_id());
-- Funders will see the orders their own deals finance: the deals migration adds a FOR SELECT
-- policy here, e.g. USING (EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = app_tenant_id()
-- AND d.purchase_order_id = purchase_orders.id)).

CREATE POLICY purchase_orders_submit ON purchase_orders FOR INSERT
    WITH CHECK (app_is_platform() OR submitted_by_organization_id = app_organization_id());

CREATE POLICY purchase_orders_decide ON purchase_orders FOR UPDATE
    USING (app_is_platform() OR buyer_organization_id = app_organization_id())
    WITH CHECK (app_is_platform() OR buyer_organization_id = app_organization_id());

CREATE POLICY warehouse_receipts_read ON warehouse_receipts FOR SELECT
    USING (app_is_platform()
           OR warehouse_organization_id = app_organization_id()
           OR owner_organization_id = app_organization_id()
           OR EXISTS (SELECT 1 FROM receipt_claims c
                      WHERE c.receipt_id = warehouse_receipts.id
                        AND c.tenant_id = app_tenant_id()));
-- Funders see a receipt their deal has claimed (above). The deals migration widens this to
-- receipts named by their deals before the claim, e.g. USING (EXISTS (SELECT 1 FROM deals d
-- WHERE d.tenant_id = app_tenant_id() AND d.warehouse_receipt_id = warehouse_receipts.id)).

CREATE POLICY warehouse_receipts_issue ON warehouse_receipts FOR INSERT
    WITH CHECK (app_is_platform() OR warehouse_organization_id = app_organization_id());

CREATE POLICY warehouse_receipts_update ON warehouse_receipts FOR UPDATE
    USING (app_is_platform() OR warehouse_organization_id = app_organization_id())
    WITH CHECK (app_is_platform() OR warehouse_organization_id = app_organization_id());

CREATE POLICY receipt_claims_access ON receipt_claims
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id());

CREATE POLICY documents_read ON documents FOR SELECT
    USING (app_is_platform()
           OR owner_organization_id = app_organization_id()
           OR owner_person_id = app_person_id()
           OR (purchase_order_id IS NOT NULL
               AND EXISTS (SELECT 1 FROM purchase_orders p WHERE p.id = documents.purchase_order_id))
           OR (warehouse_receipt_id IS NOT NULL
               AND EXISTS (SELECT 1 FROM warehouse_receipts r
                           WHERE r.id = documents.warehouse_receipt_id)));

CREATE POLICY documents_upload ON documents FOR INSERT
    WITH CHECK ((app_is_platform()
                 OR owner_organization_id = app_organization_id()
                 OR owner_person_id = app_person_id())
                AND (purchase_order_id IS NULL
                     OR EXISTS (SELECT 1 FROM purchase_orders p
                                WHERE p.id = documents.purchase_order_id))
                AND (warehouse_receipt_id IS NULL
                     OR EXISTS (SELECT 1 FROM warehouse_receipts r
                                WHERE r.id = documents.warehouse_receipt_id)));

CREATE POLICY documents_attach ON documents FOR UPDATE
    USING (app_is_platform()
           OR owner_organization_id = app_organization_id()
           OR owner_person_id = app_person_id())
    WITH CHECK ((app_is_platform()
                 OR owner_organization_id = app_organization_id()
                 OR owner_person_id = app_person_id())
                AND (purchase_order_id IS NULL
                     OR EXISTS (SELECT 1 FROM purchase_orders p
                                WHERE p.id = documents.purchase_order_id))
                AND (warehouse_receipt_id IS NULL
                     OR EXISTS (SELECT 1 FROM warehouse_receipts r
                                WHERE r.id = documents.warehouse_receipt_id)));

CREATE POLICY organizations_counterparty_read ON organizations FOR SELECT
    USING (app_organization_id() IS NOT NULL
           AND (EXISTS (SELECT 1 FROM purchase_orders p
                        WHERE p.seller_organization_id = organizations.id
                          AND (p.buyer_organization_id = app_organization_id()
                               OR p.submitted_by_organization_id = app_organization_id()))
                OR EXISTS (SELECT 1 FROM warehouse_receipts r
                           WHERE r.owner_organization_id = organizations.id
                             AND r.warehouse_organization_id = app_organization_id())));

CREATE POLICY audit_log_party_append ON audit_log FOR INSERT
    WITH CHECK (tenant_id IS NULL AND app_tenant_id() IS NULL
                AND (app_organization_id() IS NOT NULL OR app_person_id() IS NOT NULL)
                AND actor_user_id IS NOT DISTINCT FROM app_user_id());

CREATE POLICY events_party_append ON events FOR INSERT
    WITH CHECK (tenant_id IS NULL AND app_tenant_id() IS NULL
                AND (app_organization_id() IS NOT NULL OR app_person_id() IS NOT NULL))
"""

RLS_TABLES = ("purchase_orders", "warehouse_receipts", "receipt_claims", "documents")

FUNCTIONS = (
    "purchase_orders_check_parties",
    "purchase_orders_decided_once",
    "warehouse_receipts_check_parties",
    "warehouse_receipts_guard",
    "receipt_claims_check_receipt",
    "receipt_claims_released_once",
)

UPDATABLE = {
    "purchase_orders": "status, decided_by_user_id, decided_at, decision_note, updated_at",
    "warehouse_receipts": "status, cancelled_by_user_id, cancelled_at, cancellation_reason,"
    " updated_at",
    "receipt_claims": "released_at",
    "documents": "purchase_order_id, warehouse_receipt_id, attached_at",
}


def _execute_each(sql: str) -> None:
    # asyncpg runs one command per statement; none of these statements contains ";\n".
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLES_SQL)
    for function in FUNCTIONS_SQL:
        op.execute(function)
    _execute_each(TRIGGERS_SQL)
    for table in RLS_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    for table in RLS_TABLES:
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")
        op.execute(f"GRANT UPDATE ({UPDATABLE[table]}) ON {table} TO {role}")


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS events_party_append ON events")
    op.execute("DROP POLICY IF EXISTS audit_log_party_append ON audit_log")
    op.execute("DROP POLICY IF EXISTS organizations_counterparty_read ON organizations")
    for table in ("documents", "receipt_claims", "warehouse_receipts", "purchase_orders"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
