"""Recorded relationships between parties, and every row-level security policy rewritten to one
shape.

**Relationships.** Acting for someone is recorded, never implied (DESIGN.md section 5):

* ``party_agents`` (platform-level): an organization that acts for a party. ``ACTS_FOR``: a
  PARTNER acts for a person or an organization (its app applies for them, submits their
  orders); made when the partner's app onboards the person (a trigger on ``persons``) or when
  the party authorises the partner. ``STORES_FOR``: a WAREHOUSE holds goods for a CARGO_OWNER
  and may issue receipts to it.
* ``tenant_customers`` (tenant-owned): the parties a funder's own app acts for; made when the
  funder's app onboards a person or when the party authorises the funder.

A row is live until ``revoked_at``; one live row per relationship.

**Writing an ID never widens what a session reads.** The database refuses a deal whose
applicant is not related to its channel (a partner channel needs ``ACTS_FOR`` by the partner,
a funder's app a live ``tenant_customers`` row, a direct application the applicant itself),
whose purchase order's seller is not the applicant organization, or whose receipt's owner is not
the applicant; a purchase order submitted by a partner for a seller it does not act for; and a
receipt issued to a cargo owner the warehouse has no ``STORES_FOR`` relationship with.

**Claims and requests.** A claim on an order or a receipt is released only together with the
transition that ends the deal's hold (the deal has ended, or it is being edited and no longer
names the collateral); a deal that ends keeps no live claim (a deferred check at commit). A
deal's request, parties and collateral change only while it is DRAFT or RETURNED, and its
status only along the lifecycle's edges.

**Policy shape** (DESIGN.md section 5): every policy is a predicate on the row's own, indexed
columns plus settings read once per statement (``(SELECT app_tenant_id())``), or a call of a
``STABLE SECURITY DEFINER`` helper with a fixed ``search_path`` that answers from an indexed
look-up in the platform scope, so no policy expands into another table's policy (no nested
sub-plans, no JIT on every request). Visibility that depends on another table's state is a
column kept by triggers in the same transaction: ``products.listed`` (PUBLISHED by an ACTIVE
funder), ``product_versions.listed`` (the current version of a listed product) and
``tenants.listed`` (ACTIVE with a PUBLISHED product). One permissive policy per table and
command, so the order of the tests is the order written: the cheap own-column tests first.

Changes of meaning: a product of a DISABLED funder is no longer public (the marketplace
already hid it; now ``node(id:)`` and ``Deal.product`` agree); a warehouse sees the cargo
owners it stores for (not "whoever it issued a receipt to"); a partner sees the parties it
acts for and their orders and receipts; a funder sees the parties it acts for besides the
applicants of its deals.

**Grants**: the application role keeps only what the use cases need: no DELETE on
memberships, column-level UPDATE on the tables of 0001.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from alembic import context, op

revision = "0006"
down_revision = "0005"
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
PER = "(SELECT app_person_id())"
ORG = "(SELECT app_organization_id())"
CLI = "(SELECT app_client_id())"

_UUID = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
ENDED = "'REJECTED', 'WITHDRAWN', 'EXPIRED', 'SETTLED', 'SOLD', 'WRITTEN_OFF'"

TABLES_SQL = """
CREATE TABLE party_agents (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    kind varchar(32) NOT NULL CONSTRAINT ck_party_agents_kind
        CHECK (kind IN ('ACTS_FOR', 'STORES_FOR')),
    agent_organization_id uuid NOT NULL
        CONSTRAINT fk_party_agents_agent_organization_id_organizations REFERENCES organizations (id),
    person_id uuid CONSTRAINT fk_party_agents_person_id_persons REFERENCES persons (id),
    organization_id uuid
        CONSTRAINT fk_party_agents_organization_id_organizations REFERENCES organizations (id),
    granted_by varchar(32) NOT NULL CONSTRAINT ck_party_agents_granted_by
        CHECK (granted_by IN ('ONBOARDING', 'AUTHORISATION', 'PLATFORM')),
    created_by_user_id uuid CONSTRAINT fk_party_agents_created_by_user_id_users REFERENCES users (id),
    created_by_client_id varchar(64),
    revoked_at timestamptz,
    CONSTRAINT ck_party_agents_one_party CHECK (num_nonnulls(person_id, organization_id) = 1),
    CONSTRAINT ck_party_agents_not_itself CHECK (organization_id IS DISTINCT FROM agent_organization_id),
    CONSTRAINT ck_party_agents_storage_for_organizations
        CHECK (kind <> 'STORES_FOR' OR organization_id IS NOT NULL),
    CONSTRAINT ck_party_agents_revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE UNIQUE INDEX uq_party_agents_live_person ON party_agents (agent_organization_id, kind, person_id)
    WHERE revoked_at IS NULL AND person_id IS NOT NULL;
CREATE UNIQUE INDEX uq_party_agents_live_organization
    ON party_agents (agent_organization_id, kind, organization_id)
    WHERE revoked_at IS NULL AND organization_id IS NOT NULL;
CREATE INDEX ix_party_agents_person ON party_agents (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX ix_party_agents_organization ON party_agents (organization_id)
    WHERE organization_id IS NOT NULL;

CREATE TABLE tenant_customers (
    tenant_id uuid NOT NULL CONSTRAINT fk_tenant_customers_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    person_id uuid CONSTRAINT fk_tenant_customers_person_id_persons REFERENCES persons (id),
    organization_id uuid
        CONSTRAINT fk_tenant_customers_organization_id_organizations REFERENCES organizations (id),
    granted_by varchar(32) NOT NULL CONSTRAINT ck_tenant_customers_granted_by
        CHECK (granted_by IN ('ONBOARDING', 'AUTHORISATION', 'PLATFORM')),
    created_by_user_id uuid
        CONSTRAINT fk_tenant_customers_created_by_user_id_users REFERENCES users (id),
    created_by_client_id varchar(64),
    revoked_at timestamptz,
    CONSTRAINT pk_tenant_customers PRIMARY KEY (tenant_id, id),
    CONSTRAINT ck_tenant_customers_one_party CHECK (num_nonnulls(person_id, organization_id) = 1),
    CONSTRAINT ck_tenant_customers_revoked_after_created
        CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE UNIQUE INDEX uq_tenant_customers_live_person ON tenant_customers (tenant_id, person_id)
    WHERE revoked_at IS NULL AND person_id IS NOT NULL;
CREATE UNIQUE INDEX uq_tenant_customers_live_organization
    ON tenant_customers (tenant_id, organization_id)
    WHERE revoked_at IS NULL AND organization_id IS NOT NULL;
CREATE INDEX ix_tenant_customers_person ON tenant_customers (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX ix_tenant_customers_organization ON tenant_customers (organization_id)
    WHERE organization_id IS NOT NULL;

ALTER TABLE tenants ADD COLUMN listed boolean NOT NULL DEFAULT false;
ALTER TABLE products ADD COLUMN listed boolean NOT NULL DEFAULT false;
ALTER TABLE product_versions ADD COLUMN listed boolean NOT NULL DEFAULT false;
CREATE INDEX ix_tenants_listed ON tenants (id) WHERE listed;
DROP INDEX ix_products_marketplace;
CREATE INDEX ix_products_marketplace ON products (published_at, tenant_id, id) WHERE listed;
CREATE INDEX ix_product_versions_listed ON product_versions (tenant_id, product_id) WHERE listed;

-- Look-ups of the helpers below: a party's deals with one funder (and under one version), a
-- funder's deals on one order.
CREATE INDEX ix_deals_person_tenant
    ON deals (applicant_person_id, tenant_id, product_id, product_version)
    WHERE applicant_person_id IS NOT NULL;
CREATE INDEX ix_deals_organization_tenant
    ON deals (applicant_organization_id, tenant_id, product_id, product_version)
    WHERE applicant_organization_id IS NOT NULL;
CREATE INDEX ix_deals_channel_tenant
    ON deals (channel_client_id, tenant_id, product_id, product_version)
    WHERE channel = 'PARTNER_APP';
CREATE INDEX ix_deals_tenant_purchase_order ON deals (tenant_id, purchase_order_id)
    WHERE purchase_order_id IS NOT NULL;
CREATE INDEX ix_purchase_orders_seller_buyer ON purchase_orders (seller_organization_id, buyer_organization_id);
CREATE INDEX ix_receipt_claims_receipt_tenant_live ON receipt_claims (receipt_id, tenant_id)
    WHERE released_at IS NULL
"""

# -- helpers that answer visibility from an indexed look-up ----------------------------------------
#
# Each runs as its owner with ``app.platform`` on, so the tables it reads answer without
# expanding their own policies; it reads the caller's tenant, person, organization and client
# (which the platform flag does not change) and never the caller's platform flag (the
# policies test that first). None takes SQL input.

_DEFINER = "STABLE SECURITY DEFINER SET search_path = pg_catalog, public SET app.platform = 'on'"

# Whether the caller may see a deal, from its own columns: the funder, the applicant, or the
# partner app of its channel. The platform scope is tested by each policy first.
DEAL_RULE = (
    "({t}.tenant_id = app_tenant_id()"
    " OR {t}.applicant_person_id = app_person_id()"
    " OR {t}.applicant_organization_id = app_organization_id()"
    " OR ({t}.channel = 'PARTNER_APP' AND app_user_id() IS NULL"
    " AND {t}.channel_client_id = app_client_id()"
    " AND {t}.channel_organization_id = app_organization_id()))"
)
DEAL_POLICY = (
    f"(tenant_id = {T} OR {P}"
    f" OR applicant_person_id = {PER} OR applicant_organization_id = {ORG}"
    f" OR (channel = 'PARTNER_APP' AND {U} IS NULL AND channel_client_id = {CLI}"
    f" AND channel_organization_id = {ORG}))"
)

# The caller's own view of an order or a receipt, from the row's own columns.
ORDER_OWN = (
    "({t}.seller_organization_id = {org} OR {t}.buyer_organization_id = {org}"
    " OR {t}.submitted_by_organization_id = {org})"
)
RECEIPT_OWN = "({t}.warehouse_organization_id = {org} OR {t}.owner_organization_id = {org})"

HELPERS_SQL = [
    f"""
CREATE FUNCTION app_deal_visible(p_tenant uuid, p_deal uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT coalesce((SELECT {DEAL_RULE.format(t="d")} FROM deals d
                     WHERE d.tenant_id = p_tenant AND d.id = p_deal), false)
$$
""",
    # Whether the caller acts for the party: a funder for its customers, a partner for its
    # clients (not a warehouse for its depositors: see app_organization_seen).
    f"""
CREATE FUNCTION app_acts_for(p_person uuid, p_organization uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT (app_tenant_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM tenant_customers c
                WHERE c.tenant_id = app_tenant_id() AND c.revoked_at IS NULL
                  AND (c.person_id = p_person OR c.organization_id = p_organization)))
        OR (app_organization_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM party_agents a
                WHERE a.agent_organization_id = app_organization_id() AND a.kind = 'ACTS_FOR'
                  AND a.revoked_at IS NULL
                  AND (a.person_id = p_person OR a.organization_id = p_organization)))
$$
""",
    f"""
CREATE FUNCTION app_person_seen(p_person uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT (app_tenant_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM deals d
                WHERE d.applicant_person_id = p_person AND d.tenant_id = app_tenant_id()))
        OR app_acts_for(p_person, NULL)
$$
""",
    f"""
CREATE FUNCTION app_organization_seen(p_organization uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT (app_tenant_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM deals d
                WHERE d.applicant_organization_id = p_organization
                  AND d.tenant_id = app_tenant_id()))
        OR app_acts_for(NULL, p_organization)
        -- A warehouse sees the cargo owners it stores goods for.
        OR (app_organization_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM party_agents a
                WHERE a.agent_organization_id = app_organization_id() AND a.kind = 'STORES_FOR'
                  AND a.organization_id = p_organization AND a.revoked_at IS NULL))
        -- A core enterprise sees the sellers of the orders it owes.
        OR (app_organization_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM purchase_orders p
                WHERE p.seller_organization_id = p_organization
                  AND p.buyer_organization_id = app_organization_id()))
$$
""",
    f"""
CREATE FUNCTION app_is_member(p_user uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT app_tenant_id() IS NOT NULL AND EXISTS (
        SELECT 1 FROM memberships m WHERE m.tenant_id = app_tenant_id() AND m.user_id = p_user)
$$
""",
    # A party of a deal sees the deal's funder and the product version it applied under.
    f"""
CREATE FUNCTION app_deal_party_of(p_tenant uuid, p_product uuid, p_version integer)
    RETURNS boolean LANGUAGE sql {_DEFINER}
AS $$
    SELECT (app_person_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM deals d
                WHERE d.applicant_person_id = app_person_id() AND d.tenant_id = p_tenant
                  AND (p_product IS NULL
                       OR (d.product_id = p_product AND d.product_version = p_version))))
        OR (app_organization_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM deals d
                WHERE d.applicant_organization_id = app_organization_id()
                  AND d.tenant_id = p_tenant
                  AND (p_product IS NULL
                       OR (d.product_id = p_product AND d.product_version = p_version))))
        OR (app_client_id() IS NOT NULL AND app_user_id() IS NULL AND EXISTS (
                SELECT 1 FROM deals d
                WHERE d.channel = 'PARTNER_APP' AND d.channel_client_id = app_client_id()
                  AND d.tenant_id = p_tenant
                  AND d.channel_organization_id = app_organization_id()
                  AND (p_product IS NULL
                       OR (d.product_id = p_product AND d.product_version = p_version))))
$$
""",
    # What a funder or a party's agent sees of an order beyond its own columns: the orders its
    # deals name, and those of the sellers it acts for.
    f"""
CREATE FUNCTION app_order_related(p_order uuid, p_seller uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT (app_tenant_id() IS NOT NULL AND EXISTS (
                SELECT 1 FROM deals d
                WHERE d.tenant_id = app_tenant_id() AND d.purchase_order_id = p_order))
        OR app_acts_for(NULL, p_seller)
$$
""",
    f"""
CREATE FUNCTION app_receipt_related(p_receipt uuid, p_owner uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT (app_tenant_id() IS NOT NULL AND (
                EXISTS (SELECT 1 FROM receipt_claims c
                        WHERE c.receipt_id = p_receipt AND c.tenant_id = app_tenant_id())
                OR EXISTS (SELECT 1 FROM deals d
                           WHERE d.tenant_id = app_tenant_id()
                             AND d.warehouse_receipt_ids @> ARRAY[p_receipt])))
        OR app_acts_for(NULL, p_owner)
$$
""",
    # The read rule of orders and receipts by ID, for what is attached to them.
    f"""
CREATE FUNCTION app_order_visible(p_order uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT coalesce((SELECT {ORDER_OWN.format(t="p", org="app_organization_id()")}
                            OR app_order_related(p.id, p.seller_organization_id)
                     FROM purchase_orders p WHERE p.id = p_order), false)
$$
""",
    f"""
CREATE FUNCTION app_receipt_visible(p_receipt uuid) RETURNS boolean
    LANGUAGE sql {_DEFINER}
AS $$
    SELECT coalesce((SELECT {RECEIPT_OWN.format(t="r", org="app_organization_id()")}
                            OR app_receipt_related(r.id, r.owner_organization_id)
                     FROM warehouse_receipts r WHERE r.id = p_receipt), false)
$$
""",
]
HELPERS = (
    "app_deal_visible(uuid, uuid)",
    "app_acts_for(uuid, uuid)",
    "app_person_seen(uuid)",
    "app_organization_seen(uuid)",
    "app_is_member(uuid)",
    "app_deal_party_of(uuid, uuid, integer)",
    "app_order_related(uuid, uuid)",
    "app_receipt_related(uuid, uuid)",
    "app_order_visible(uuid)",
    "app_receipt_visible(uuid)",
)

# -- triggers ------------------------------------------------------------------------------------

_TRIGGER = "SET search_path = pg_catalog, public SET app.platform = 'on'"

TRIGGERS_SQL = [
    # The parties of a relationship have the right kinds.
    f"""
CREATE FUNCTION party_agents_check_kinds() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
DECLARE
    agent_kind text;
    party_kind text;
BEGIN
    SELECT o.kind INTO agent_kind FROM organizations o WHERE o.id = NEW.agent_organization_id;
    IF NEW.organization_id IS NOT NULL THEN
        SELECT o.kind INTO party_kind FROM organizations o WHERE o.id = NEW.organization_id;
    END IF;
    IF NEW.kind = 'ACTS_FOR' AND agent_kind IS DISTINCT FROM 'PARTNER' THEN
        RAISE EXCEPTION 'only a partner acts for a party'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_party_agents_agent_kind';
    ELSIF NEW.kind = 'ACTS_FOR' AND party_kind IN ('PARTNER', 'WAREHOUSE', 'CORE_ENTERPRISE') THEN
        RAISE EXCEPTION 'a partner acts for borrowers'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_party_agents_party_kind';
    ELSIF NEW.kind = 'STORES_FOR' AND agent_kind IS DISTINCT FROM 'WAREHOUSE' THEN
        RAISE EXCEPTION 'only a warehouse stores goods'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_party_agents_agent_kind';
    ELSIF NEW.kind = 'STORES_FOR' AND party_kind IS DISTINCT FROM 'CARGO_OWNER' THEN
        RAISE EXCEPTION 'a warehouse stores goods for cargo owners'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_party_agents_party_kind';
    END IF;
    RETURN NEW;
END
$$
""",
    f"""
CREATE FUNCTION tenant_customers_check_kinds() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
DECLARE
    party_kind text;
BEGIN
    IF NEW.organization_id IS NOT NULL THEN
        SELECT o.kind INTO party_kind FROM organizations o WHERE o.id = NEW.organization_id;
        IF party_kind NOT IN ('TRADE_ENTERPRISE', 'CARGO_OWNER') THEN
            RAISE EXCEPTION 'a funder acts for borrowers'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_tenant_customers_party_kind';
        END IF;
    END IF;
    RETURN NEW;
END
$$
""",
    # An app that onboards a person acts for it from then on. Written by this trigger (which
    # no session can call), so that no session writes an onboarding relationship by hand. It
    # reads the caller's scope, then lifts itself to the platform scope for its own insert and
    # puts the caller's flag back (an error aborts the (sub)transaction and the setting with
    # it).
    """
CREATE FUNCTION persons_record_onboarding() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    caller_platform text := coalesce(current_setting('app.platform', true), '');
    agent_kind text;
BEGIN
    IF caller_platform = 'on' THEN
        RETURN NEW;
    END IF;
    IF app_tenant_id() IS NULL AND app_organization_id() IS NULL THEN
        -- Nobody to record: the table's owner loading data below row-level security (the
        -- application role cannot insert a person without a scope).
        RETURN NEW;
    END IF;
    IF app_tenant_id() IS NULL THEN
        PERFORM set_config('app.platform', 'on', true);
        SELECT o.kind INTO agent_kind FROM organizations o WHERE o.id = app_organization_id();
        PERFORM set_config('app.platform', caller_platform, true);
        IF agent_kind IS DISTINCT FROM 'PARTNER' OR app_user_id() IS NOT NULL THEN
            RAISE EXCEPTION 'persons are onboarded by the platform, a funder or a partner app'
                USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'ck_persons_onboarded_by';
        END IF;
    END IF;
    PERFORM set_config('app.platform', 'on', true);
    IF app_tenant_id() IS NOT NULL THEN
        INSERT INTO tenant_customers (tenant_id, id, person_id, granted_by, created_by_user_id,
                                      created_by_client_id)
        VALUES (app_tenant_id(), gen_random_uuid(), NEW.id, 'ONBOARDING', app_user_id(),
                app_client_id());
    ELSE
        INSERT INTO party_agents (id, kind, agent_organization_id, person_id, granted_by,
                                  created_by_client_id)
        VALUES (gen_random_uuid(), 'ACTS_FOR', app_organization_id(), NEW.id, 'ONBOARDING',
                app_client_id());
    END IF;
    PERFORM set_config('app.platform', caller_platform, true);
    RETURN NEW;
END
$$
""",
    # products.listed: PUBLISHED by an ACTIVE funder.
    f"""
CREATE FUNCTION products_set_listed() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
BEGIN
    NEW.listed := NEW.status = 'PUBLISHED'
        AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = NEW.tenant_id AND t.status = 'ACTIVE');
    RETURN NEW;
END
$$
""",
    # After a product changes: its versions' and its funder's flags follow.
    f"""
CREATE FUNCTION products_sync_listed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {_TRIGGER}
AS $$
BEGIN
    UPDATE product_versions v
    SET listed = NEW.listed AND v.version = NEW.current_version
    WHERE v.tenant_id = NEW.tenant_id AND v.product_id = NEW.id
      AND v.listed IS DISTINCT FROM (NEW.listed AND v.version = NEW.current_version);
    UPDATE tenants t
    SET listed = t.status = 'ACTIVE' AND EXISTS (
        SELECT 1 FROM products p WHERE p.tenant_id = t.id AND p.status = 'PUBLISHED')
    WHERE t.id = NEW.tenant_id;
    RETURN NULL;
END
$$
""",
    f"""
CREATE FUNCTION product_versions_set_listed() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.version IS DISTINCT FROM OLD.version THEN
        NEW.listed := EXISTS (SELECT 1 FROM products p
                              WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.product_id
                                AND p.listed AND p.current_version = NEW.version);
    END IF;
    RETURN NEW;
END
$$
""",
    # Published versions stay frozen; only their ``listed`` flag follows the product.
    """
CREATE OR REPLACE FUNCTION product_versions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.id <> OLD.id
       OR NEW.product_id <> OLD.product_id OR NEW.version <> OLD.version THEN
        RAISE EXCEPTION 'the identity of a product version cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF to_jsonb(NEW) - 'listed' IS DISTINCT FROM to_jsonb(OLD) - 'listed'
       AND EXISTS (SELECT 1 FROM products p
                   WHERE p.tenant_id = OLD.tenant_id AND p.id = OLD.product_id
                     AND p.status <> 'DRAFT') THEN
        RAISE EXCEPTION 'version % of product % is published and cannot change',
            OLD.version, OLD.product_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$
""",
    # tenants.listed: ACTIVE with a PUBLISHED product; a change of status relists products.
    f"""
CREATE FUNCTION tenants_set_listed() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
BEGIN
    NEW.listed := NEW.status = 'ACTIVE' AND EXISTS (
        SELECT 1 FROM products p WHERE p.tenant_id = NEW.id AND p.status = 'PUBLISHED');
    RETURN NEW;
END
$$
""",
    f"""
CREATE FUNCTION tenants_relist_products() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    {_TRIGGER}
AS $$
BEGIN
    -- Rewriting status lets products_set_listed recompute each flag.
    UPDATE products p SET status = p.status
    WHERE p.tenant_id = NEW.id
      AND p.listed IS DISTINCT FROM (p.status = 'PUBLISHED' AND NEW.status = 'ACTIVE');
    RETURN NULL;
END
$$
""",
    # A deal's parties: kinds, the channel's relationship with the applicant, and collateral
    # that belongs to the applicant. In the platform scope: the applicant's organization, the
    # order and the receipts need not be visible to the session.
    f"""
CREATE OR REPLACE FUNCTION deals_check_parties() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
DECLARE
    found_kind text;
    wanted_kind text;
    found_seller uuid;
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
            IF NOT EXISTS (SELECT 1 FROM party_agents a
                           WHERE a.agent_organization_id = NEW.channel_organization_id
                             AND a.kind = 'ACTS_FOR' AND a.revoked_at IS NULL
                             AND (a.person_id = NEW.applicant_person_id
                                  OR a.organization_id = NEW.applicant_organization_id)) THEN
                RAISE EXCEPTION 'the partner does not act for the applicant'
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_applicant_agent';
            END IF;
        ELSIF NEW.channel = 'FUNDER_APP' THEN
            IF NOT EXISTS (SELECT 1 FROM tenant_customers c
                           WHERE c.tenant_id = NEW.tenant_id AND c.revoked_at IS NULL
                             AND (c.person_id = NEW.applicant_person_id
                                  OR c.organization_id = NEW.applicant_organization_id)) THEN
                RAISE EXCEPTION 'the funder does not act for the applicant'
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_applicant_agent';
            END IF;
        END IF;
    END IF;
    IF NEW.purchase_order_id IS NOT NULL THEN
        SELECT p.seller_organization_id INTO found_seller FROM purchase_orders p
        WHERE p.id = NEW.purchase_order_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no purchase order %', NEW.purchase_order_id
                USING ERRCODE = 'foreign_key_violation',
                      CONSTRAINT = 'fk_deals_purchase_order_id_purchase_orders';
        ELSIF found_seller IS DISTINCT FROM NEW.applicant_organization_id THEN
            RAISE EXCEPTION 'the order is owed to another seller than the applicant'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_order_seller';
        END IF;
    END IF;
    SELECT r.id INTO missing FROM unnest(NEW.warehouse_receipt_ids) AS r (id)
    WHERE NOT EXISTS (SELECT 1 FROM warehouse_receipts w WHERE w.id = r.id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'no warehouse receipt %', missing
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_deals_warehouse_receipt_ids';
    END IF;
    SELECT r.id INTO missing FROM unnest(NEW.warehouse_receipt_ids) AS r (id)
    JOIN warehouse_receipts w ON w.id = r.id
    WHERE w.owner_organization_id IS DISTINCT FROM NEW.applicant_organization_id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'warehouse receipt % belongs to another owner than the applicant', missing
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_receipt_owner';
    END IF;
    RETURN NEW;
END
$$
""",
    # A deal's request and collateral change only while it is DRAFT or RETURNED; its status
    # only along the lifecycle (domain.deals.policy.TRANSITIONS; a test compares the two).
    """
CREATE FUNCTION deal_transition_allowed(p_from text, p_to text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT (p_from, p_to) IN (
        ('DRAFT', 'SUBMITTED'), ('DRAFT', 'WITHDRAWN'),
        ('SUBMITTED', 'FIRST_REVIEW'), ('SUBMITTED', 'RETURNED'), ('SUBMITTED', 'WITHDRAWN'),
        ('RETURNED', 'SUBMITTED'), ('RETURNED', 'WITHDRAWN'),
        ('FIRST_REVIEW', 'SECOND_REVIEW'), ('FIRST_REVIEW', 'REJECTED'),
        ('FIRST_REVIEW', 'RETURNED'), ('FIRST_REVIEW', 'WITHDRAWN'),
        ('SECOND_REVIEW', 'APPROVED'), ('SECOND_REVIEW', 'REJECTED'),
        ('SECOND_REVIEW', 'RETURNED'), ('SECOND_REVIEW', 'WITHDRAWN'),
        ('APPROVED', 'SIGNING'), ('APPROVED', 'EXPIRED'), ('APPROVED', 'WITHDRAWN'),
        ('SIGNING', 'SIGNED'), ('SIGNING', 'EXPIRED'), ('SIGNING', 'WITHDRAWN'),
        ('SIGNED', 'DISBURSING'), ('DISBURSING', 'ACTIVE'),
        ('ACTIVE', 'OVERDUE'), ('ACTIVE', 'SETTLED'),
        ('OVERDUE', 'ACTIVE'), ('OVERDUE', 'SETTLED'), ('OVERDUE', 'COLLECTIONS'),
        ('COLLECTIONS', 'SETTLED'), ('COLLECTIONS', 'SOLD'), ('COLLECTIONS', 'WRITTEN_OFF'))
$$
""",
    """
CREATE FUNCTION deals_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT deal_transition_allowed(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'a % deal cannot become %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_transition';
    END IF;
    -- The applicant's side submits and withdraws; every other transition is the funder's
    -- (or the platform's).
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT app_is_platform() AND OLD.tenant_id IS DISTINCT FROM app_tenant_id()
       AND NEW.status NOT IN ('SUBMITTED', 'WITHDRAWN') THEN
        RAISE EXCEPTION 'only the funder makes a % deal %', OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'ck_deals_funder_decides';
    END IF;
    IF OLD.status NOT IN ('DRAFT', 'RETURNED')
       AND (NEW.currency, NEW.amount_minor, NEW.term, NEW.term_unit, NEW.purpose,
            NEW.consent_given_at, NEW.consent_text_version, NEW.consent_method,
            NEW.purchase_order_id, NEW.warehouse_receipt_ids, NEW.product_id,
            NEW.product_version, NEW.applicant_person_id, NEW.applicant_organization_id,
            NEW.channel, NEW.channel_client_id, NEW.channel_organization_id)
           IS DISTINCT FROM
           (OLD.currency, OLD.amount_minor, OLD.term, OLD.term_unit, OLD.purpose,
            OLD.consent_given_at, OLD.consent_text_version, OLD.consent_method,
            OLD.purchase_order_id, OLD.warehouse_receipt_ids, OLD.product_id,
            OLD.product_version, OLD.applicant_person_id, OLD.applicant_organization_id,
            OLD.channel, OLD.channel_client_id, OLD.channel_organization_id) THEN
        RAISE EXCEPTION 'a % deal''s request and collateral cannot change', OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_request_frozen';
    END IF;
    RETURN NEW;
END
$$
""",
    # At commit: a deal that has ended holds no live claim.
    f"""
CREATE FUNCTION deals_ended_without_claims() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
BEGIN
    IF NEW.status IN ({ENDED})
       AND (EXISTS (SELECT 1 FROM receipt_claims c
                    WHERE c.tenant_id = NEW.tenant_id AND c.deal_id = NEW.id
                      AND c.released_at IS NULL)
            OR EXISTS (SELECT 1 FROM purchase_order_claims c
                       WHERE c.tenant_id = NEW.tenant_id AND c.deal_id = NEW.id
                         AND c.released_at IS NULL)) THEN
        RAISE EXCEPTION 'deal % is % but still holds collateral', NEW.id, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_deals_ended_released';
    END IF;
    RETURN NULL;
END
$$
""",
    # A claim names what its deal names; it is released once, and only when its deal has
    # ended or, being edited, no longer names it.
    f"""
CREATE FUNCTION receipt_claims_follow_deal() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
DECLARE
    d record;
BEGIN
    SELECT status, warehouse_receipt_ids INTO d FROM deals
    WHERE tenant_id = NEW.tenant_id AND id = NEW.deal_id;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key (and row-level security) refuse it
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.released_at IS NOT NULL
           OR (d.warehouse_receipt_ids @> ARRAY[NEW.receipt_id]) IS NOT TRUE THEN
            RAISE EXCEPTION 'a claim holds a receipt its deal names'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_receipt_claims_deal_names';
        END IF;
    ELSIF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
          AND (d.status IN ({ENDED})
               OR (d.status IN ('DRAFT', 'RETURNED')
                   AND NOT (d.warehouse_receipt_ids @> ARRAY[NEW.receipt_id]))) IS NOT TRUE THEN
        RAISE EXCEPTION 'the claim is released only when its deal lets go of the receipt'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_receipt_claims_release_with_deal';
    END IF;
    RETURN NEW;
END
$$
""",
    f"""
CREATE FUNCTION purchase_order_claims_follow_deal() RETURNS trigger LANGUAGE plpgsql {_TRIGGER}
AS $$
DECLARE
    d record;
BEGIN
    SELECT status, purchase_order_id INTO d FROM deals
    WHERE tenant_id = NEW.tenant_id AND id = NEW.deal_id;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key (and row-level security) refuse it
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.released_at IS NOT NULL OR d.purchase_order_id IS DISTINCT FROM NEW.purchase_order_id THEN
            RAISE EXCEPTION 'a claim holds the order its deal names'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_purchase_order_claims_deal_names';
        END IF;
    ELSIF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
          AND (d.status IN ({ENDED})
               OR (d.status IN ('DRAFT', 'RETURNED')
                   AND d.purchase_order_id IS DISTINCT FROM NEW.purchase_order_id)) IS NOT TRUE THEN
        RAISE EXCEPTION 'the claim is released only when its deal lets go of the order'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_purchase_order_claims_release_with_deal';
    END IF;
    RETURN NEW;
END
$$
""",
    # A partner submits orders only for sellers it acts for (the seller's own users need no
    # relationship). Replaces 0003's check, which knew only kinds.
    f"""
CREATE OR REPLACE FUNCTION purchase_orders_check_parties() RETURNS trigger LANGUAGE plpgsql
    {_TRIGGER}
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
        IF NOT EXISTS (SELECT 1 FROM party_agents a
                       WHERE a.agent_organization_id = NEW.submitted_by_organization_id
                         AND a.kind = 'ACTS_FOR' AND a.revoked_at IS NULL
                         AND a.organization_id = NEW.seller_organization_id) THEN
            RAISE EXCEPTION 'the partner does not act for the seller'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_purchase_orders_submitter_agent';
        END IF;
    END IF;
    RETURN NEW;
END
$$
""",
    # A warehouse issues receipts only to cargo owners it stores goods for.
    f"""
CREATE OR REPLACE FUNCTION warehouse_receipts_check_parties() RETURNS trigger LANGUAGE plpgsql
    {_TRIGGER}
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
    IF NOT EXISTS (SELECT 1 FROM party_agents a
                   WHERE a.agent_organization_id = NEW.warehouse_organization_id
                     AND a.kind = 'STORES_FOR' AND a.revoked_at IS NULL
                     AND a.organization_id = NEW.owner_organization_id) THEN
        RAISE EXCEPTION 'the warehouse does not store goods for the owner'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_warehouse_receipts_storage';
    END IF;
    RETURN NEW;
END
$$
""",
]

TRIGGER_FUNCTIONS = (
    "party_agents_check_kinds()",
    "tenant_customers_check_kinds()",
    "persons_record_onboarding()",
    "products_set_listed()",
    "products_sync_listed()",
    "product_versions_set_listed()",
    "tenants_set_listed()",
    "tenants_relist_products()",
    "deal_transition_allowed(text, text)",
    "deals_guard()",
    "deals_ended_without_claims()",
    "receipt_claims_follow_deal()",
    "purchase_order_claims_follow_deal()",
)

CREATE_TRIGGERS_SQL = """
CREATE TRIGGER party_agents_check_kinds BEFORE INSERT ON party_agents
    FOR EACH ROW EXECUTE FUNCTION party_agents_check_kinds();
CREATE TRIGGER tenant_customers_check_kinds BEFORE INSERT ON tenant_customers
    FOR EACH ROW EXECUTE FUNCTION tenant_customers_check_kinds();
CREATE TRIGGER persons_record_onboarding AFTER INSERT ON persons
    FOR EACH ROW EXECUTE FUNCTION persons_record_onboarding();
CREATE TRIGGER products_set_listed BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_set_listed();
CREATE TRIGGER products_sync_listed AFTER INSERT OR UPDATE OF status, current_version, listed
    ON products FOR EACH ROW EXECUTE FUNCTION products_sync_listed();
CREATE TRIGGER product_versions_set_listed BEFORE INSERT OR UPDATE ON product_versions
    FOR EACH ROW EXECUTE FUNCTION product_versions_set_listed();
CREATE TRIGGER tenants_set_listed BEFORE INSERT OR UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_set_listed();
CREATE TRIGGER tenants_relist_products AFTER UPDATE OF status ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_relist_products();
DROP TRIGGER deals_check_parties ON deals;
CREATE TRIGGER deals_check_parties
    BEFORE INSERT OR UPDATE OF purchase_order_id, warehouse_receipt_ids ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_check_parties();
CREATE TRIGGER deals_guard BEFORE UPDATE ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_guard();
CREATE CONSTRAINT TRIGGER deals_ended_without_claims AFTER UPDATE OF status ON deals
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION deals_ended_without_claims();
CREATE TRIGGER receipt_claims_follow_deal BEFORE INSERT OR UPDATE ON receipt_claims
    FOR EACH ROW EXECUTE FUNCTION receipt_claims_follow_deal();
CREATE TRIGGER purchase_order_claims_follow_deal BEFORE INSERT OR UPDATE ON purchase_order_claims
    FOR EACH ROW EXECUTE FUNCTION purchase_order_claims_follow_deal()
"""

# -- the policies --------------------------------------------------------------------------------

# Every policy of earlier revisions, dropped and replaced below.
OLD_POLICIES = (
    ("tenants", "tenants_access"),
    ("tenants", "tenants_marketplace_read"),
    ("tenants", "tenants_deal_read"),
    ("organizations", "organizations_access"),
    ("organizations", "organizations_counterparty_read"),
    ("organizations", "organizations_deal_read"),
    ("persons", "persons_access"),
    ("persons", "persons_deal_read"),
    ("users", "users_access"),
    ("memberships", "memberships_access"),
    ("oauth_clients", "oauth_clients_access"),
    ("refresh_tokens", "refresh_tokens_access"),
    ("audit_log", "audit_log_access"),
    ("audit_log", "audit_log_party_append"),
    ("audit_log", "audit_log_deal_append"),
    ("events", "events_access"),
    ("events", "events_party_append"),
    ("events", "events_deal_append"),
    ("products", "products_access"),
    ("products", "products_marketplace_read"),
    ("products", "products_deal_read"),
    ("product_versions", "product_versions_access"),
    ("product_versions", "product_versions_marketplace_read"),
    ("product_versions", "product_versions_deal_read"),
    ("purchase_orders", "purchase_orders_read"),
    ("purchase_orders", "purchase_orders_deal_read"),
    ("purchase_orders", "purchase_orders_submit"),
    ("purchase_orders", "purchase_orders_decide"),
    ("warehouse_receipts", "warehouse_receipts_read"),
    ("warehouse_receipts", "warehouse_receipts_deal_read"),
    ("warehouse_receipts", "warehouse_receipts_issue"),
    ("warehouse_receipts", "warehouse_receipts_update"),
    ("receipt_claims", "receipt_claims_access"),
    ("receipt_claims", "receipt_claims_deal_party"),
    ("documents", "documents_read"),
    ("documents", "documents_upload"),
    ("documents", "documents_attach"),
    ("deals", "deals_read"),
    ("deals", "deals_apply"),
    ("deals", "deals_update"),
    ("deal_events", "deal_events_read"),
    ("deal_events", "deal_events_append"),
    ("purchase_order_claims", "purchase_order_claims_access"),
    ("idempotency_keys", "idempotency_keys_owner"),
)

_APPLICANT = f"(applicant_person_id = {PER} OR applicant_organization_id = {ORG})"
_PARTNER = (
    f"(channel = 'PARTNER_APP' AND {U} IS NULL AND channel_client_id = {CLI}"
    f" AND channel_organization_id = {ORG})"
)
_OWN_DOCUMENT = f"(owner_organization_id = {ORG} OR owner_person_id = {PER})"
_DOCUMENT_SUBJECT = (
    "(purchase_order_id IS NULL OR app_order_visible(purchase_order_id))"
    " AND (warehouse_receipt_id IS NULL OR app_receipt_visible(warehouse_receipt_id))"
)


def _about_deal(col: str) -> str:
    """The row is about a deal the caller sees (``col`` holds the deal's ID as text)."""
    # CASE, not AND: PostgreSQL may evaluate AND's operands in any order.
    return f"app_deal_visible(tenant_id, CASE WHEN {col} ~ {_UUID} THEN {col}::uuid END)"


_PARTY_APPEND = f"(tenant_id IS NULL AND {T} IS NULL AND ({ORG} IS NOT NULL OR {PER} IS NOT NULL))"
_KEY_OWNER = (
    f"(client_id = {CLI} AND user_id IS NOT DISTINCT FROM {U}"
    f" AND tenant_id IS NOT DISTINCT FROM {T})"
)
_PARTY_ITSELF = f"(person_id = {PER} OR organization_id = {ORG})"

POLICIES_SQL = f"""
CREATE POLICY tenants_read ON tenants FOR SELECT
    USING (id = {T} OR {P} OR listed OR app_deal_party_of(id, NULL, NULL));
CREATE POLICY tenants_insert ON tenants FOR INSERT WITH CHECK ({P});
CREATE POLICY tenants_update ON tenants FOR UPDATE USING ({P}) WITH CHECK ({P});

CREATE POLICY organizations_read ON organizations FOR SELECT
    USING (id = {ORG} OR {P} OR kind IN ('CORE_ENTERPRISE', 'WAREHOUSE', 'PARTNER')
           OR app_organization_seen(id));
CREATE POLICY organizations_insert ON organizations FOR INSERT WITH CHECK ({P});
CREATE POLICY organizations_update ON organizations FOR UPDATE USING ({P}) WITH CHECK ({P});

CREATE POLICY persons_read ON persons FOR SELECT
    USING (id = {PER} OR {P} OR app_person_seen(id));
-- The operator, a funder's app or a partner app onboards a person (persons_record_onboarding
-- records that the app acts for the person and refuses any other onboarder).
CREATE POLICY persons_insert ON persons FOR INSERT
    WITH CHECK ({P} OR {T} IS NOT NULL OR ({ORG} IS NOT NULL AND {U} IS NULL));
CREATE POLICY persons_update ON persons FOR UPDATE USING ({P}) WITH CHECK ({P});

CREATE POLICY users_read ON users FOR SELECT USING (id = {U} OR {P} OR app_is_member(id));
CREATE POLICY users_insert ON users FOR INSERT WITH CHECK ({P});
CREATE POLICY users_update ON users FOR UPDATE USING ({P}) WITH CHECK ({P});

CREATE POLICY memberships_read ON memberships FOR SELECT USING (tenant_id = {T} OR {P});
-- Only the operator grants memberships: a membership makes a user visible to the tenant.
CREATE POLICY memberships_insert ON memberships FOR INSERT WITH CHECK ({P});

CREATE POLICY oauth_clients_read ON oauth_clients FOR SELECT USING (tenant_id = {T} OR {P});
CREATE POLICY oauth_clients_insert ON oauth_clients FOR INSERT WITH CHECK ({P});
CREATE POLICY oauth_clients_update ON oauth_clients FOR UPDATE USING ({P}) WITH CHECK ({P});

CREATE POLICY refresh_tokens_read ON refresh_tokens FOR SELECT USING ({P});
CREATE POLICY refresh_tokens_insert ON refresh_tokens FOR INSERT WITH CHECK ({P});
CREATE POLICY refresh_tokens_update ON refresh_tokens FOR UPDATE USING ({P}) WITH CHECK ({P});

CREATE POLICY audit_log_read ON audit_log FOR SELECT USING (tenant_id = {T} OR {P});
CREATE POLICY audit_log_append ON audit_log FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P}
                OR (actor_user_id IS NOT DISTINCT FROM {U}
                    AND ({_PARTY_APPEND}
                         OR (object_type = 'Deal' AND tenant_id IS NOT NULL
                             AND {_about_deal("object_id")}))));

CREATE POLICY events_read ON events FOR SELECT USING (tenant_id = {T} OR {P});
CREATE POLICY events_append ON events FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P} OR {_PARTY_APPEND}
                OR (aggregate_type = 'Deal' AND tenant_id IS NOT NULL
                    AND {_about_deal("aggregate_id")}));
CREATE POLICY events_publish ON events FOR UPDATE
    USING (tenant_id = {T} OR {P}) WITH CHECK (tenant_id = {T} OR {P});

CREATE POLICY products_read ON products FOR SELECT USING (tenant_id = {T} OR {P} OR listed);
CREATE POLICY products_insert ON products FOR INSERT WITH CHECK (tenant_id = {T} OR {P});
CREATE POLICY products_update ON products FOR UPDATE
    USING (tenant_id = {T} OR {P}) WITH CHECK (tenant_id = {T} OR {P});

CREATE POLICY product_versions_read ON product_versions FOR SELECT
    USING (tenant_id = {T} OR {P} OR listed
           OR app_deal_party_of(tenant_id, product_id, version));
CREATE POLICY product_versions_insert ON product_versions FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P});
CREATE POLICY product_versions_update ON product_versions FOR UPDATE
    USING (tenant_id = {T} OR {P}) WITH CHECK (tenant_id = {T} OR {P});

CREATE POLICY purchase_orders_read ON purchase_orders FOR SELECT
    USING ({ORDER_OWN.format(t="purchase_orders", org=ORG)} OR {P}
           OR app_order_related(id, seller_organization_id));
CREATE POLICY purchase_orders_submit ON purchase_orders FOR INSERT
    WITH CHECK (submitted_by_organization_id = {ORG} OR {P});
CREATE POLICY purchase_orders_decide ON purchase_orders FOR UPDATE
    USING (buyer_organization_id = {ORG} OR {P}) WITH CHECK (buyer_organization_id = {ORG} OR {P});

CREATE POLICY warehouse_receipts_read ON warehouse_receipts FOR SELECT
    USING ({RECEIPT_OWN.format(t="warehouse_receipts", org=ORG)} OR {P}
           OR app_receipt_related(id, owner_organization_id));
CREATE POLICY warehouse_receipts_issue ON warehouse_receipts FOR INSERT
    WITH CHECK (warehouse_organization_id = {ORG} OR {P});
CREATE POLICY warehouse_receipts_update ON warehouse_receipts FOR UPDATE
    USING (warehouse_organization_id = {ORG} OR {P})
    WITH CHECK (warehouse_organization_id = {ORG} OR {P});

CREATE POLICY receipt_claims_access ON receipt_claims
    USING (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id))
    WITH CHECK (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id));

CREATE POLICY purchase_order_claims_access ON purchase_order_claims
    USING (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id))
    WITH CHECK (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id));

CREATE POLICY documents_read ON documents FOR SELECT
    USING ({_OWN_DOCUMENT} OR {P}
           OR (purchase_order_id IS NOT NULL AND app_order_visible(purchase_order_id))
           OR (warehouse_receipt_id IS NOT NULL AND app_receipt_visible(warehouse_receipt_id)));
CREATE POLICY documents_upload ON documents FOR INSERT
    WITH CHECK ({P} OR ({_OWN_DOCUMENT} AND {_DOCUMENT_SUBJECT}));
CREATE POLICY documents_attach ON documents FOR UPDATE
    USING ({_OWN_DOCUMENT} OR {P})
    WITH CHECK ({P} OR ({_OWN_DOCUMENT} AND {_DOCUMENT_SUBJECT}));

CREATE POLICY deals_read ON deals FOR SELECT USING {DEAL_POLICY};
CREATE POLICY deals_apply ON deals FOR INSERT
    WITH CHECK ({P}
                OR (status = 'DRAFT' AND channel_client_id = {CLI}
                    AND ((tenant_id = {T} AND channel = 'FUNDER_APP')
                         OR (channel = 'DIRECT' AND {_APPLICANT})
                         OR {_PARTNER})));
CREATE POLICY deals_update ON deals FOR UPDATE
    USING {DEAL_POLICY}
    WITH CHECK (tenant_id = {T} OR {P}
                OR (({_APPLICANT} OR {_PARTNER})
                    AND status IN ('DRAFT', 'RETURNED', 'SUBMITTED', 'WITHDRAWN')));

CREATE POLICY deal_events_read ON deal_events FOR SELECT
    USING (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id));
CREATE POLICY deal_events_append ON deal_events FOR INSERT
    WITH CHECK ((actor_user_id IS NOT DISTINCT FROM {U} OR {P})
                AND (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id)));

CREATE POLICY idempotency_keys_owner ON idempotency_keys
    USING ({_KEY_OWNER} OR {P}) WITH CHECK ({_KEY_OWNER} OR {P});

CREATE POLICY party_agents_read ON party_agents FOR SELECT
    USING (agent_organization_id = {ORG} OR {_PARTY_ITSELF} OR {P});
-- A party authorises an agent itself; onboarding rows are written by persons_record_onboarding.
CREATE POLICY party_agents_authorise ON party_agents FOR INSERT
    WITH CHECK ({P} OR (granted_by = 'AUTHORISATION' AND {_PARTY_ITSELF}
                        AND created_by_user_id IS NOT DISTINCT FROM {U}));
CREATE POLICY party_agents_revoke ON party_agents FOR UPDATE
    USING (agent_organization_id = {ORG} OR {_PARTY_ITSELF} OR {P})
    WITH CHECK (agent_organization_id = {ORG} OR {_PARTY_ITSELF} OR {P});

CREATE POLICY tenant_customers_read ON tenant_customers FOR SELECT
    USING (tenant_id = {T} OR {_PARTY_ITSELF} OR {P});
CREATE POLICY tenant_customers_authorise ON tenant_customers FOR INSERT
    WITH CHECK ({P} OR (granted_by = 'AUTHORISATION' AND {_PARTY_ITSELF}
                        AND created_by_user_id IS NOT DISTINCT FROM {U}));
CREATE POLICY tenant_customers_revoke ON tenant_customers FOR UPDATE
    USING (tenant_id = {T} OR {_PARTY_ITSELF} OR {P})
    WITH CHECK (tenant_id = {T} OR {_PARTY_ITSELF} OR {P})
"""

NEW_POLICIES = tuple(
    (line.split(" ON ")[1].split()[0], line.split()[2])
    for line in POLICIES_SQL.splitlines()
    if line.startswith("CREATE POLICY")
)

# What the application role may do, table by table (SELECT and INSERT on all of them).
GRANTS = {
    "tenants": "SELECT, INSERT, UPDATE (status)",
    "organizations": "SELECT, INSERT",
    "persons": "SELECT, INSERT",
    "users": "SELECT, INSERT, UPDATE (status, disabled_at)",
    "memberships": "SELECT, INSERT",
    "oauth_clients": "SELECT, INSERT, UPDATE (status, disabled_at)",
    "refresh_tokens": "SELECT, INSERT, UPDATE (revoked_at)",
    "party_agents": "SELECT, INSERT, UPDATE (revoked_at)",
    "tenant_customers": "SELECT, INSERT, UPDATE (revoked_at)",
}


def _execute_each(sql: str) -> None:
    # asyncpg runs one command per statement; none of these statements contains ";\n".
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLES_SQL)
    for function in HELPERS_SQL:
        op.execute(function)
    for function in TRIGGERS_SQL:
        op.execute(function)
    _execute_each(CREATE_TRIGGERS_SQL)
    for table in ("party_agents", "tenant_customers"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    for table, policy in OLD_POLICIES:
        op.execute(f"DROP POLICY {policy} ON {table}")
    _execute_each(POLICIES_SQL)

    # Flags of the rows that exist (the triggers keep them from now on).
    op.execute("UPDATE products SET status = status")
    op.execute("UPDATE tenants SET status = status")

    # Helpers: callable by the application role only.
    for function in HELPERS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    for function in HELPERS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")

    # Least privilege on the tables of 0001 and the new ones.
    for table in ("tenants", "organizations", "persons", "users", "memberships"):
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    for table in ("oauth_clients", "refresh_tokens"):
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {role}")


def downgrade() -> None:
    for table, policy in NEW_POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    raise NotImplementedError(
        "0006 rewrote every policy; restore a backup taken before it instead of downgrading"
    )
