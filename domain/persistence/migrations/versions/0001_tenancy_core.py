"""Tenancy core: tenants, parties, users, memberships, OAuth clients, refresh tokens, audit log,
events outbox; the application role; row-level security on every table.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


TABLES_SQL = """
CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    name varchar(200) NOT NULL,
    slug varchar(63) NOT NULL CONSTRAINT uq_tenants_slug UNIQUE,
    kind varchar(32) NOT NULL CONSTRAINT ck_tenants_tenant_kind
        CHECK (kind IN ('BANK', 'INSURER', 'PRIVATE_LENDER')),
    time_zone varchar(64) NOT NULL,
    currency varchar(3) NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_tenants_tenant_status
        CHECK (status IN ('ACTIVE', 'DISABLED'))
);

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    kind varchar(32) NOT NULL CONSTRAINT ck_organizations_organization_kind
        CHECK (kind IN ('TRADE_ENTERPRISE', 'CARGO_OWNER', 'CORE_ENTERPRISE', 'WAREHOUSE', 'PARTNER')),
    name varchar(200) NOT NULL,
    social_credit_code varchar(18) NOT NULL CONSTRAINT uq_organizations_social_credit_code UNIQUE
);

CREATE TABLE persons (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    full_name varchar(200) NOT NULL,
    resident_id_encrypted bytea NOT NULL,
    resident_id_hash bytea NOT NULL CONSTRAINT uq_persons_resident_id_hash UNIQUE,
    resident_id_masked varchar(18) NOT NULL,
    phone_encrypted bytea,
    phone_hash bytea,
    phone_masked varchar(20)
);
CREATE INDEX ix_persons_phone_hash ON persons (phone_hash);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    email varchar(254) NOT NULL,
    display_name varchar(200) NOT NULL,
    password_hash text,
    platform_roles varchar(32)[] NOT NULL DEFAULT '{}',
    person_id uuid CONSTRAINT fk_users_person_id_persons REFERENCES persons (id),
    organization_id uuid CONSTRAINT fk_users_organization_id_organizations
        REFERENCES organizations (id),
    status varchar(32) NOT NULL CONSTRAINT ck_users_user_status
        CHECK (status IN ('ACTIVE', 'DISABLED')),
    disabled_at timestamptz
);
CREATE UNIQUE INDEX uq_users_email_lower ON users (lower(email));

CREATE TABLE memberships (
    tenant_id uuid NOT NULL CONSTRAINT fk_memberships_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    user_id uuid NOT NULL CONSTRAINT fk_memberships_user_id_users REFERENCES users (id),
    roles varchar(32)[] NOT NULL,
    CONSTRAINT pk_memberships PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_memberships_tenant_user UNIQUE (tenant_id, user_id)
);
CREATE INDEX ix_memberships_user_id ON memberships (user_id);

CREATE TABLE oauth_clients (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    client_id varchar(64) NOT NULL CONSTRAINT uq_oauth_clients_client_id UNIQUE,
    secret_hash bytea,
    name varchar(200) NOT NULL,
    kind varchar(32) NOT NULL CONSTRAINT ck_oauth_clients_client_kind
        CHECK (kind IN ('PARTNER_APP', 'SERVICE_ACCOUNT', 'FIRST_PARTY')),
    tenant_id uuid CONSTRAINT fk_oauth_clients_tenant_id_tenants REFERENCES tenants (id),
    organization_id uuid CONSTRAINT fk_oauth_clients_organization_id_organizations
        REFERENCES organizations (id),
    scopes varchar(64)[] NOT NULL,
    grant_types varchar(64)[] NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_oauth_clients_client_status
        CHECK (status IN ('ACTIVE', 'DISABLED')),
    disabled_at timestamptz
);

CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    token_hash bytea NOT NULL CONSTRAINT uq_refresh_tokens_token_hash UNIQUE,
    client_pk uuid NOT NULL CONSTRAINT fk_refresh_tokens_client_pk_oauth_clients
        REFERENCES oauth_clients (id),
    user_id uuid CONSTRAINT fk_refresh_tokens_user_id_users REFERENCES users (id),
    tenant_id uuid CONSTRAINT fk_refresh_tokens_tenant_id_tenants REFERENCES tenants (id),
    scope text NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_user_id uuid,
    actor_client_id varchar(64),
    request_id varchar(64),
    action varchar(64) NOT NULL,
    object_type varchar(64) NOT NULL,
    object_id varchar(64) NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ix_audit_log_tenant_id ON audit_log (tenant_id);

CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    type varchar(64) NOT NULL,
    aggregate_type varchar(64) NOT NULL,
    aggregate_id varchar(64) NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    published_at timestamptz
);
CREATE INDEX ix_events_tenant_id ON events (tenant_id);
CREATE INDEX ix_events_unpublished ON events (id) WHERE published_at IS NULL;
"""

# Scope helpers. Empty settings mean "nothing": a NULL tenant matches no row, so every policy
# fails closed when no tenant is bound or it is bound to ''.
FUNCTIONS_SQL = """
CREATE FUNCTION app_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
CREATE FUNCTION app_person_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.person_id', true), '')::uuid $$;
CREATE FUNCTION app_organization_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.organization_id', true), '')::uuid $$;
CREATE FUNCTION app_is_platform() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$;
"""

POLICIES_SQL = """
CREATE POLICY tenants_access ON tenants
    USING (app_is_platform() OR id = app_tenant_id())
    WITH CHECK (app_is_platform());

CREATE POLICY organizations_access ON organizations
    USING (app_is_platform()
           OR kind IN ('CORE_ENTERPRISE', 'WAREHOUSE', 'PARTNER')
           OR id = app_organization_id())
    WITH CHECK (app_is_platform());

CREATE POLICY persons_access ON persons
    USING (app_is_platform() OR id = app_person_id())
    WITH CHECK (app_is_platform());

CREATE POLICY users_access ON users
    USING (app_is_platform()
           OR id = app_user_id()
           OR EXISTS (SELECT 1 FROM memberships m
                      WHERE m.user_id = users.id AND m.tenant_id = app_tenant_id()))
    WITH CHECK (app_is_platform());

-- Only the operator grants memberships: a membership makes a user visible to the tenant, so
-- a tenant-scoped insert could otherwise reveal any user.
CREATE POLICY memberships_access ON memberships
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform());

CREATE POLICY oauth_clients_access ON oauth_clients
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform());

CREATE POLICY refresh_tokens_access ON refresh_tokens
    USING (app_is_platform())
    WITH CHECK (app_is_platform());

CREATE POLICY audit_log_access ON audit_log
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id());

CREATE POLICY events_access ON events
    USING (app_is_platform() OR tenant_id = app_tenant_id())
    WITH CHECK (app_is_platform() OR tenant_id = app_tenant_id());
"""

RLS_TABLES = (
    "tenants",
    "organizations",
    "persons",
    "users",
    "memberships",
    "oauth_clients",
    "refresh_tokens",
    "audit_log",
    "events",
)


def _execute_each(sql: str) -> None:
    # asyncpg runs one command per statement; none of these statements contains ";\n".
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                -- Roles are cluster-wide: two databases of one server migrating at once
                -- both see no role, and the second CREATE waits and then fails.
                BEGIN
                    CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;
        END $$;
        """
    )
    _execute_each(TABLES_SQL)
    _execute_each(FUNCTIONS_SQL)
    for table in RLS_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)

    # PostgreSQL before 15 lets every role create objects in public; the app role must not.
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT ON alembic_version TO {role}")
    for table in (
        "tenants",
        "organizations",
        "persons",
        "users",
        "memberships",
        "oauth_clients",
        "refresh_tokens",
    ):
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO {role}")
    op.execute(f"GRANT DELETE ON memberships TO {role}")
    # The audit log is append-only for the application.
    op.execute(f"GRANT SELECT, INSERT ON audit_log TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE (published_at) ON events TO {role}")
    for fn in (
        "app_tenant_id",
        "app_user_id",
        "app_person_id",
        "app_organization_id",
        "app_is_platform",
    ):
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn}() TO {role}")


def downgrade() -> None:
    for table in reversed(RLS_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for fn in (
        "app_tenant_id",
        "app_user_id",
        "app_person_id",
        "app_organization_id",
        "app_is_platform",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
