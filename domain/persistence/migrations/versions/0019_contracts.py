"""Contracts: the versions of an approved deal's contract.

``contracts``: one row per version of a deal's contract, written from the deal's approved
terms: the canonical terms (jsonb, for display), their digest, the rendered PDF's SHA-256,
the key the document store keeps it under and its page count. Versions are numbered from 1 per
deal (``uq_contracts_version``); at most one version of a deal is not VOID
(``uq_contracts_current``, a partial unique index), so a change of terms voids the current
version before the next is written.

Read by the deal's funder and by whoever sees the deal (the applicant reads the contract it
will sign: ``app_deal_visible``); written by the funder. The application role may insert and
read, update only the status and the voiding columns, and delete nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0019"
down_revision = "0018"
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
CREATE TABLE contracts (
    tenant_id uuid NOT NULL CONSTRAINT fk_contracts_tenant_id_tenants REFERENCES tenants (id),
    id uuid NOT NULL,
    deal_id uuid NOT NULL,
    version integer NOT NULL,
    status varchar(32) NOT NULL CONSTRAINT ck_contracts_contract_status
        CHECK (status IN ('DRAFT', 'VOID')),
    terms_digest varchar(64) NOT NULL,
    sha256 varchar(64) NOT NULL,
    document_key varchar(200) NOT NULL,
    pages integer NOT NULL,
    terms jsonb NOT NULL,
    created_by uuid CONSTRAINT fk_contracts_created_by_users REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    voided_at timestamptz,
    void_reason varchar(200),
    CONSTRAINT pk_contracts PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_contracts_tenant_id_deals FOREIGN KEY (tenant_id, deal_id)
        REFERENCES deals (tenant_id, id),
    CONSTRAINT uq_contracts_version UNIQUE (tenant_id, deal_id, version),
    CONSTRAINT ck_contracts_version_positive CHECK (version >= 1),
    CONSTRAINT ck_contracts_pages_positive CHECK (pages >= 1),
    CONSTRAINT ck_contracts_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_contracts_terms_digest_hex CHECK (terms_digest ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_contracts_voided
        CHECK ((status = 'VOID') = (voided_at IS NOT NULL AND void_reason IS NOT NULL))
);
CREATE UNIQUE INDEX uq_contracts_current ON contracts (tenant_id, deal_id)
    WHERE status <> 'VOID'
"""

# A void version stays void: the database refuses to bring it back (the current version is
# the one not void, and a voided one was written from terms that are no longer the deal's).
TRIGGER_SQL = (
    """
CREATE FUNCTION contracts_void_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'VOID' THEN
        RAISE EXCEPTION 'a void contract stays void'
            USING ERRCODE = '23514', CONSTRAINT = 'ck_contracts_void_final';
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER contracts_void_is_final BEFORE UPDATE ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_void_is_final()
""",
)

POLICIES_SQL = f"""
CREATE POLICY contracts_read ON contracts FOR SELECT
    USING (tenant_id = {T} OR {P} OR app_deal_visible(tenant_id, deal_id));
CREATE POLICY contracts_write ON contracts FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P});
CREATE POLICY contracts_void ON contracts FOR UPDATE
    USING (tenant_id = {T} OR {P})
    WITH CHECK (tenant_id = {T} OR {P})
"""


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _execute_each(TABLE_SQL)
    for statement in TRIGGER_SQL:
        op.execute(statement)
    op.execute("ALTER TABLE contracts ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE contracts FORCE ROW LEVEL SECURITY")
    _execute_each(POLICIES_SQL)
    role = _app_role()
    op.execute(f"GRANT SELECT, INSERT ON contracts TO {role}")
    op.execute(f"GRANT UPDATE (status, voided_at, void_reason) ON contracts TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE contracts")
    op.execute("DROP FUNCTION contracts_void_is_final()")
