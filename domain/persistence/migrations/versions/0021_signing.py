"""Signing: a contract is sent for e-signature, signed, declined or expired.

``contracts`` gains the statuses SENT (out for signature), SIGNED (every signature in),
DECLINED (a signer declined) and EXPIRED (the signing window closed), and the envelope's
columns: ``envelope_id`` (the e-signature service's, unique), ``signers`` (jsonb: each signer's
role, order, name, status and signing time, in signing order; no ID numbers), ``sent_at``,
``signed_at``, and the signed document's SHA-256 and store key. A signed contract has its
signed document (``ck_contracts_signed``). The application role may update the new columns
(a worker records the envelope, the callbacks its outcome); the terms and the document as
written still never change.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


UPGRADE_SQL = """
ALTER TABLE contracts DROP CONSTRAINT ck_contracts_contract_status;
ALTER TABLE contracts ADD CONSTRAINT ck_contracts_contract_status
    CHECK (status IN ('DRAFT', 'VOID', 'SENT', 'SIGNED', 'DECLINED', 'EXPIRED'));
ALTER TABLE contracts
    ADD COLUMN envelope_id varchar(64),
    ADD COLUMN signers jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN sent_at timestamptz,
    ADD COLUMN signed_at timestamptz,
    ADD COLUMN signed_sha256 varchar(64),
    ADD COLUMN signed_document_key varchar(200),
    ADD CONSTRAINT uq_contracts_envelope_id UNIQUE (envelope_id),
    ADD CONSTRAINT ck_contracts_signed_sha256_hex CHECK (signed_sha256 ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT ck_contracts_signed CHECK (
        (status = 'SIGNED') = (
            signed_at IS NOT NULL AND signed_sha256 IS NOT NULL
            AND signed_document_key IS NOT NULL
        )
    ),
    ADD CONSTRAINT ck_contracts_sent CHECK (status IN ('DRAFT', 'VOID') OR sent_at IS NOT NULL)
"""

DOWNGRADE_SQL = """
UPDATE contracts SET status = 'DRAFT' WHERE status IN ('SENT', 'SIGNED', 'DECLINED', 'EXPIRED');
ALTER TABLE contracts
    DROP CONSTRAINT ck_contracts_sent,
    DROP CONSTRAINT ck_contracts_signed,
    DROP CONSTRAINT ck_contracts_signed_sha256_hex,
    DROP CONSTRAINT uq_contracts_envelope_id,
    DROP COLUMN signed_document_key,
    DROP COLUMN signed_sha256,
    DROP COLUMN signed_at,
    DROP COLUMN sent_at,
    DROP COLUMN signers,
    DROP COLUMN envelope_id;
ALTER TABLE contracts DROP CONSTRAINT ck_contracts_contract_status;
ALTER TABLE contracts ADD CONSTRAINT ck_contracts_contract_status
    CHECK (status IN ('DRAFT', 'VOID'))
"""

COLUMNS = "envelope_id, signers, sent_at, signed_at, signed_sha256, signed_document_key"


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _execute_each(UPGRADE_SQL)
    op.execute(f"GRANT UPDATE ({COLUMNS}) ON contracts TO {_app_role()}")


def downgrade() -> None:
    op.execute(f"REVOKE UPDATE ({COLUMNS}) ON contracts FROM {_app_role()}")
    _execute_each(DOWNGRADE_SQL)
