"""Deals (applications), their timeline, claims on purchase orders, idempotency keys; the read
rules that let a funder see what backs its deals.

``deals`` is tenant-owned: an application to a funder's product belongs to that funder from
the moment it is created. It references the exact product version it was applied under
(``(tenant_id, product_id, product_version)``, a foreign key onto the versions' unique key;
versions are frozen once published). Its receipts are an array of IDs (checked by a trigger,
as an array cannot carry a foreign key); its purchase order is a foreign key.

``purchase_order_claims`` mirrors ``receipt_claims``: the partial unique index
``uq_purchase_order_claims_live`` lets an order back at most one live deal across every
funder (see 0003 on why such an index must stay global). Both claim tables now refer to their
deal by foreign key.

``idempotency_keys`` belongs to a principal: the OAuth client, the user (if any) and the tenant
(if any) that sent the key; its unique key (NULLS NOT DISTINCT, PostgreSQL 15) makes concurrent
duplicates resolve to one row.

Row-level security on ``deals``, by principal:

* the funder (``app_tenant_id()``) reads and updates its deals in every status and channel; it
  inserts only deals of its own app (channel FUNDER_APP, its own client);
* the applicant - the person (``app_person_id()``) or the organization
  (``app_organization_id()``) applying - reads and updates its deals and inserts DIRECT ones
  through its own client;
* a partner app (no user, ``app_client_id()`` and ``app_organization_id()`` of the channel)
  reads, inserts and updates the deals of its channel, and no other;
* applicants and partner apps may only leave a deal in DRAFT, RETURNED, SUBMITTED or
  WITHDRAWN (the funder's decisions are not theirs to write).

``deal_events`` (the timeline), ``receipt_claims`` and ``purchase_order_claims`` follow the
visibility of their deal (an EXISTS on ``deals``, itself under row-level security). Widened
reads: a funder sees the purchase orders and receipts its deals name (and, through them, their
documents); whoever sees a deal sees its applicant, its product and version and its funder.
Audit and outbox rows about a deal may be appended by whoever sees the deal. No policy on
``deals`` refers to another table, so none of these can recurse.

A new setting, ``app.client_id`` (``app_client_id()``), carries the request's OAuth client.

Grants: no DELETE; UPDATE only of the columns use cases change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


STATUSES = (
    "'DRAFT', 'SUBMITTED', 'RETURNED', 'FIRST_REVIEW', 'SECOND_REVIEW', 'APPROVED',"
    " 'REJECTED', 'SIGNING', 'SIGNED', 'DISBURSING', 'ACTIVE', 'OVERDUE', 'COLLECTIONS',"
    " 'SETTLED', 'SOLD', 'WRITTEN_OFF', 'WITHDRAWN', 'EXPIRED'"
)
FINAL_STATUSES = "'REJECTED', 'WITHDRAWN', 'EXPIRED', 'SETTLED', 'SOLD', 'WRITTEN_OFF'"

TABLES_SQL = f"""
CREATE TABLE deals (
    tenant_id uuid NOT NULL CONSTRAINT fk_deals_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    product_id uuid NOT NULL,
    product_version integer NOT NULL,
    product_line varchar(32) NOT NULL CONSTRAINT ck_deals_product_line
        CHECK (product_line IN ('CONSUMER_CREDIT', 'ORDER_FINANCING', 'WAREHOUSE_RECEIPT_PLEDGE')),
    status varchar(32) NOT NULL CONSTRAINT ck_deals_deal_status CHECK (status IN ({STATUSES})),
    channel varchar(32) NOT NULL CONSTRAINT ck_deals_deal_channel
        CHECK (channel IN ('PARTNER_APP', 'FUNDER_APP', 'DIRECT')),
    channel_client_id varchar(64) NOT NULL,
    channel_organization_id uuid CONSTRAINT fk_deals_channel_organization_id_organizations
        REFERENCES organizations (id),
    applicant_person_id uuid CONSTRAINT fk_deals_applicant_person_id_persons
        REFERENCES persons (id),
    applicant_organization_id uuid CONSTRAINT fk_deals_applicant_organization_id_organizations
        REFERENCES organizations (id),
    currency varchar(3) NOT NULL,
    amount_minor bigint NOT NULL,
    term integer NOT NULL,
    term_unit varchar(32) NOT NULL CONSTRAINT ck_deals_term_unit CHECK (term_unit IN ('MONTH', 'DAY')),
    purpose varchar(500) NOT NULL,
    consent_given_at timestamptz,
    consent_text_version varchar(32),
    consent_method varchar(32) CONSTRAINT ck_deals_consent_method
        CHECK (consent_method IN ('ONLINE_CHECKBOX', 'SMS_CODE', 'E_SIGNATURE', 'PAPER_FORM')),
    purchase_order_id uuid CONSTRAINT fk_deals_purchase_order_id_purchase_orders
        REFERENCES purchase_orders (id),
    warehouse_receipt_ids uuid[] NOT NULL DEFAULT '{{}}',
    created_by_user_id uuid CONSTRAINT fk_deals_created_by_user_id_users REFERENCES users (id),
    submitted_at timestamptz,
    withdrawn_at timestamptz,
    withdrawal_reason varchar(500),
    CONSTRAINT pk_deals PRIMARY KEY (tenant_id, id),
    -- The exact version applied under (versions are frozen once their product is published).
    CONSTRAINT fk_deals_product_version FOREIGN KEY (tenant_id, product_id, product_version)
        REFERENCES product_versions (tenant_id, product_id, version),
    CONSTRAINT ck_deals_amount CHECK (amount_minor > 0),
    CONSTRAINT ck_deals_term CHECK (term > 0),
    CONSTRAINT ck_deals_one_applicant
        CHECK (num_nonnulls(applicant_person_id, applicant_organization_id) = 1),
    CONSTRAINT ck_deals_applicant_for_line
        CHECK ((product_line = 'CONSUMER_CREDIT') = (applicant_person_id IS NOT NULL)),
    CONSTRAINT ck_deals_partner_channel
        CHECK ((channel = 'PARTNER_APP') = (channel_organization_id IS NOT NULL)),
    CONSTRAINT ck_deals_consent CHECK (
        num_nonnulls(consent_given_at, consent_text_version, consent_method) IN (0, 3)),
    CONSTRAINT ck_deals_order_for_line
        CHECK (purchase_order_id IS NULL OR product_line = 'ORDER_FINANCING'),
    CONSTRAINT ck_deals_receipts_for_line CHECK (
        cardinality(warehouse_receipt_ids) = 0 OR product_line = 'WAREHOUSE_RECEIPT_PLEDGE'),
    CONSTRAINT ck_deals_receipts_not_null
        CHECK (array_position(warehouse_receipt_ids, NULL) IS NULL),
    CONSTRAINT ck_deals_submitted
        CHECK (status IN ('DRAFT', 'WITHDRAWN') OR submitted_at IS NOT NULL),
    CONSTRAINT ck_deals_withdrawn CHECK ((status = 'WITHDRAWN') = (withdrawn_at IS NOT NULL))
);
CREATE INDEX ix_deals_id ON deals (id);
CREATE INDEX ix_deals_tenant_created ON deals (tenant_id, created_at, id);
CREATE INDEX ix_deals_applicant_person ON deals (applicant_person_id, created_at, id);
CREATE INDEX ix_deals_applicant_organization ON deals (applicant_organization_id, created_at, id);
CREATE INDEX ix_deals_channel_client ON deals (channel_client_id, created_at, id);
CREATE INDEX ix_deals_purchase_order_id ON deals (purchase_order_id);
CREATE INDEX ix_deals_warehouse_receipt_ids ON deals USING gin (warehouse_receipt_ids);
CREATE INDEX ix_deals_product ON deals (tenant_id, product_id, product_version);

CREATE TABLE deal_events (
    tenant_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    deal_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    action varchar(64) NOT NULL,
    from_status varchar(32) CONSTRAINT ck_deal_events_from_status
        CHECK (from_status IN ({STATUSES})),
    to_status varchar(32) NOT NULL CONSTRAINT ck_deal_events_to_status
        CHECK (to_status IN ({STATUSES})),
    actor_kind varchar(32) NOT NULL CONSTRAINT ck_deal_events_actor_kind
        CHECK (actor_kind IN ('APPLICANT', 'PARTNER_APP', 'FUNDER', 'PLATFORM', 'SYSTEM')),
    actor_user_id uuid,
    actor_client_id varchar(64),
    request_id varchar(64),
    note varchar(500),
    details jsonb NOT NULL DEFAULT '{{}}',
    CONSTRAINT pk_deal_events PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_deal_events_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id)
);
CREATE INDEX ix_deal_events_deal ON deal_events (tenant_id, deal_id, id);

CREATE TABLE purchase_order_claims (
    tenant_id uuid NOT NULL
        CONSTRAINT fk_purchase_order_claims_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    purchase_order_id uuid NOT NULL
        CONSTRAINT fk_purchase_order_claims_purchase_order_id_purchase_orders
        REFERENCES purchase_orders (id),
    deal_id uuid NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    CONSTRAINT pk_purchase_order_claims PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_purchase_order_claims_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT ck_purchase_order_claims_release_after_claim
        CHECK (released_at IS NULL OR released_at >= claimed_at)
);
-- THE constraint: at most one live (unreleased) claim per order, across every tenant.
CREATE UNIQUE INDEX uq_purchase_order_claims_live ON purchase_order_claims (purchase_order_id)
    WHERE released_at IS NULL;
CREATE INDEX ix_purchase_order_claims_order_tenant
    ON purchase_order_claims (purchase_order_id, tenant_id);
CREATE INDEX ix_purchase_order_claims_deal ON purchase_order_claims (tenant_id, deal_id);

ALTER TABLE receipt_claims ADD CONSTRAINT fk_receipt_claims_tenant_id_deals
    FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id);

CREATE TABLE idempotency_keys (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    tenant_id uuid CONSTRAINT fk_idempotency_keys_tenant_id_tenants REFERENCES tenants (id),
    client_id varchar(64) NOT NULL,
    user_id uuid CONSTRAINT fk_idempotency_keys_user_id_users REFERENCES users (id),
    operation varchar(64) NOT NULL,
    key varchar(200) NOT NULL,
    request_hash varchar(64) NOT NULL,
    response jsonb,
    completed_at timestamptz,
    CONSTRAINT uq_idempotency_keys_principal_key
        UNIQUE NULLS NOT DISTINCT (client_id, user_id, tenant_id, operation, key),
    CONSTRAINT ck_idempotency_keys_completed
        CHECK ((response IS NULL) = (completed_at IS NULL))
);
"""

FUNCTIONS_SQL = [
    """
CREATE FUNCTION app_client_id() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.client_id', true), '') $$
""",
    # The applicant has the kind the product line needs, a partner channel names a PARTNER,
    # and every receipt named exists. Platform scope: a partner applying for a person or a
    # company cannot see them (nor the receipts), and learns only "not found".
    """
CREATE FUNCTION deals_check_parties() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
DECLARE
    found_kind text;
    wanted_kind text;
    missing uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.applicant_person_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.id = NEW.applicant_person_id) THEN
            RAISE EXCEPTION 'no person %', NEW.applicant_person_id
                USING ERRCODE = 'foreign_key_violation',
                      CONSTRAINT = 'fk_deals_applicant_person_id_persons';
        END IF;
        IF NEW.applicant_organization_id IS NOT NULL THEN
            wanted_kind := CASE NEW.product_line
                WHEN 'ORDER_FINANCING' THEN 'TRADE_ENTERPRISE'
                WHEN 'WAREHOUSE_RECEIPT_PLEDGE' THEN 'CARGO_OWNER' END;
            SELECT o.kind INTO found_kind FROM organizations o
            WHERE o.id = NEW.applicant_organization_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no organization %', NEW.applicant_organization_id
                    USING ERRCODE = 'foreign_key_violation',
                          CONSTRAINT = 'fk_deals_applicant_organization_id_organizations';
            ELSIF wanted_kind IS NULL OR found_kind <> wanted_kind THEN
                RAISE EXCEPTION 'the applicant is a %, not a %', found_kind, wanted_kind
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_applicant_kind';
            END IF;
        END IF;
        IF NEW.channel = 'PARTNER_APP' THEN
            SELECT o.kind INTO found_kind FROM organizations o
            WHERE o.id = NEW.channel_organization_id;
            IF NOT FOUND OR found_kind <> 'PARTNER' THEN
                RAISE EXCEPTION 'a partner channel names a PARTNER organization'
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_channel_partner';
            END IF;
        END IF;
    END IF;
    SELECT r.id INTO missing FROM unnest(NEW.warehouse_receipt_ids) AS r (id)
    WHERE NOT EXISTS (SELECT 1 FROM warehouse_receipts w WHERE w.id = r.id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'no warehouse receipt %', missing
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_deals_warehouse_receipt_ids';
    END IF;
    RETURN NEW;
END
$$
""",
    # A deal that has ended (rejected, withdrawn, expired, settled, sold, written off) stays
    # as it ended.
    f"""
CREATE FUNCTION deals_final() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF OLD.status IN ({FINAL_STATUSES}) AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'deal % is % and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_final';
    END IF;
    RETURN NEW;
END
$$
""",
    # A claim needs a CONFIRMED order. FOR SHARE waits for a concurrent decision and reads the
    # committed status; a decided order never changes again (purchase_orders_decided_once).
    """
CREATE FUNCTION purchase_order_claims_check_order() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
DECLARE
    found_status text;
BEGIN
    SELECT p.status INTO found_status FROM purchase_orders p
    WHERE p.id = NEW.purchase_order_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no purchase order %', NEW.purchase_order_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_purchase_order_claims_purchase_order_id_purchase_orders';
    ELSIF found_status <> 'CONFIRMED' THEN
        RAISE EXCEPTION 'purchase order % is %', NEW.purchase_order_id, found_status
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_purchase_order_claims_order_confirmed';
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE FUNCTION purchase_order_claims_released_once() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF OLD.released_at IS NOT NULL AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'claim % was released and cannot change', OLD.id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_purchase_order_claims_released_once';
    END IF;
    RETURN NEW;
END
$$
""",
]

TRIGGERS_SQL = """
CREATE TRIGGER deals_check_parties BEFORE INSERT OR UPDATE OF warehouse_receipt_ids ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_check_parties();
CREATE TRIGGER deals_final BEFORE UPDATE ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_final();
CREATE TRIGGER purchase_order_claims_check_order BEFORE INSERT ON purchase_order_claims
    FOR EACH ROW EXECUTE FUNCTION purchase_order_claims_check_order();
CREATE TRIGGER purchase_order_claims_released_once BEFORE UPDATE ON purchase_order_claims
    FOR EACH ROW EXECUTE FUNCTION purchase_order_claims_released_once()
"""

# Who a deal belongs to besides its funder: the applicant, and the partner app it came through.
_APPLICANT = (
    "(applicant_person_id = app_person_id() OR applicant_organization_id = app_organization_id())"
)
_PARTNER = (
    "(channel = 'PARTNER_APP' AND app_user_id() IS NULL"
    " AND channel_client_id = app_client_id()"
    " AND channel_organization_id = app_organization_id())"
)
# Where an applicant or a partner app may leave a deal.
_PARTY_STATUSES = "status IN ('DRAFT', 'RETURNED', 'SUBMITTED', 'WITHDRAWN')"
# A row about the deal (tenant_id, deal_id) that the caller sees.
_DEAL_VISIBLE = (
    "EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = {t}.tenant_id AND d.id = {t}.deal_id)"
)
_UUID = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"

POLICIES_SQL = f"""
CREATE POLICY deals_read ON deals FOR SELECT
    USING (app_is_platform() OR tenant_id = app_tenant_id() OR {_APPLICANT} OR {_PARTNER});

CREATE POLICY deals_apply ON deals FOR INSERT
    WITH CHECK (app_is_platform()
                OR (status = 'DRAFT' AND channel_client_id = app_client_id()
                    AND ((tenant_id = app_tenant_id() AND channel = 'FUNDER_APP')
                         OR (channel = 'DIRECT' AND {_APPLICANT})
                         OR {_PARTNER})));

CREATE POLICY deals_update ON deals FOR UPDATE
    USING (app_is_platform() OR tenant_id = app_tenant_id() OR {_APPLICANT} OR {_PARTNER})
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id()
                OR (({_APPLICANT} OR {_PARTNER}) AND {_PARTY_STATUSES}));

CREATE POLICY deal_events_read ON deal_events FOR SELECT
    USING ({_DEAL_VISIBLE.format(t="deal_events")});

CREATE POLICY deal_events_append ON deal_events FOR INSERT
    WITH CHECK ((app_is_platform() OR actor_user_id IS NOT DISTINCT FROM app_user_id())
                AND {_DEAL_VISIBLE.format(t="deal_events")});

CREATE POLICY purchase_order_claims_access ON purchase_order_claims
    USING (app_is_platform() OR tenant_id = app_tenant_id()
           OR {_DEAL_VISIBLE.format(t="purchase_order_claims")})
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id()
                OR {_DEAL_VISIBLE.format(t="purchase_order_claims")});

CREATE POLICY receipt_claims_deal_party ON receipt_claims
    USING ({_DEAL_VISIBLE.format(t="receipt_claims")})
    WITH CHECK ({_DEAL_VISIBLE.format(t="receipt_claims")});

CREATE POLICY idempotency_keys_owner ON idempotency_keys
    USING (app_is_platform()
           OR (client_id = app_client_id() AND user_id IS NOT DISTINCT FROM app_user_id()
               AND tenant_id IS NOT DISTINCT FROM app_tenant_id()))
    WITH CHECK (app_is_platform()
                OR (client_id = app_client_id() AND user_id IS NOT DISTINCT FROM app_user_id()
                    AND tenant_id IS NOT DISTINCT FROM app_tenant_id()));

CREATE POLICY purchase_orders_deal_read ON purchase_orders FOR SELECT
    USING (app_tenant_id() IS NOT NULL
           AND EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = app_tenant_id()
                                             AND d.purchase_order_id = purchase_orders.id));

CREATE POLICY warehouse_receipts_deal_read ON warehouse_receipts FOR SELECT
    USING (app_tenant_id() IS NOT NULL
           AND EXISTS (SELECT 1 FROM deals d
                       WHERE d.tenant_id = app_tenant_id()
                         AND d.warehouse_receipt_ids @> ARRAY[warehouse_receipts.id]));

CREATE POLICY organizations_deal_read ON organizations FOR SELECT
    USING (EXISTS (SELECT 1 FROM deals d WHERE d.applicant_organization_id = organizations.id));

CREATE POLICY persons_deal_read ON persons FOR SELECT
    USING (EXISTS (SELECT 1 FROM deals d WHERE d.applicant_person_id = persons.id));

CREATE POLICY tenants_deal_read ON tenants FOR SELECT
    USING (EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = tenants.id));

CREATE POLICY products_deal_read ON products FOR SELECT
    USING (EXISTS (SELECT 1 FROM deals d
                   WHERE d.tenant_id = products.tenant_id AND d.product_id = products.id));

CREATE POLICY product_versions_deal_read ON product_versions FOR SELECT
    USING (EXISTS (SELECT 1 FROM deals d
                   WHERE d.tenant_id = product_versions.tenant_id
                     AND d.product_id = product_versions.product_id
                     AND d.product_version = product_versions.version));

CREATE POLICY audit_log_deal_append ON audit_log FOR INSERT
    WITH CHECK (object_type = 'Deal' AND tenant_id IS NOT NULL
                AND actor_user_id IS NOT DISTINCT FROM app_user_id()
                AND EXISTS (SELECT 1 FROM deals d
                            WHERE d.tenant_id = audit_log.tenant_id
                              AND d.id = CASE WHEN audit_log.object_id ~ {_UUID}
                                              THEN audit_log.object_id::uuid END));

CREATE POLICY events_deal_append ON events FOR INSERT
    WITH CHECK (aggregate_type = 'Deal' AND tenant_id IS NOT NULL
                AND EXISTS (SELECT 1 FROM deals d
                            WHERE d.tenant_id = events.tenant_id
                              AND d.id = CASE WHEN events.aggregate_id ~ {_UUID}
                                              THEN events.aggregate_id::uuid END))
"""

RLS_TABLES = ("deals", "deal_events", "purchase_order_claims", "idempotency_keys")

FUNCTIONS = (
    "deals_check_parties",
    "deals_final",
    "purchase_order_claims_check_order",
    "purchase_order_claims_released_once",
)

UPDATABLE = {
    "deals": "status, updated_at, currency, amount_minor, term, purpose, consent_given_at,"
    " consent_text_version, consent_method, purchase_order_id, warehouse_receipt_ids,"
    " submitted_at, withdrawn_at, withdrawal_reason",
    "purchase_order_claims": "released_at",
    "idempotency_keys": "response, completed_at",
}

# Policies this revision adds to tables of earlier revisions (for the downgrade).
WIDENED = (
    ("receipt_claims", "receipt_claims_deal_party"),
    ("purchase_orders", "purchase_orders_deal_read"),
    ("warehouse_receipts", "warehouse_receipts_deal_read"),
    ("organizations", "organizations_deal_read"),
    ("persons", "persons_deal_read"),
    ("tenants", "tenants_deal_read"),
    ("products", "products_deal_read"),
    ("product_versions", "product_versions_deal_read"),
    ("audit_log", "audit_log_deal_append"),
    ("events", "events_deal_append"),
)


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
    op.execute(f"GRANT EXECUTE ON FUNCTION app_client_id() TO {role}")
    for table in RLS_TABLES:
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")
        if table in UPDATABLE:
            op.execute(f"GRANT UPDATE ({UPDATABLE[table]}) ON {table} TO {role}")


def downgrade() -> None:
    for table, policy in WIDENED:
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(
        "ALTER TABLE receipt_claims DROP CONSTRAINT IF EXISTS fk_receipt_claims_tenant_id_deals"
    )
    for table in ("idempotency_keys", "purchase_order_claims", "deal_events", "deals"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute("DROP FUNCTION IF EXISTS app_client_id()")
