"""Envelope recovery: the envelope's creation is counted and leased on the contract row, a
contract whose envelope could not be created is FAILED, a declined (or failed) contract can be
sent again, and the sweeper knows when the service was last heard of.

``contracts`` gains:

* ``envelope_attempts`` (how many times the service was asked to create the current envelope;
  at most ``envelope_max_attempts``) and ``envelope_next_attempt_at`` (when the next attempt is
  due: set when the contract is sent, pushed one lease ahead while an attempt runs and one
  backoff ahead after a failure; NULL once the envelope is recorded or given up on), with
  ``envelope_last_error``;
* ``resends`` (how many times the contract was sent again after a decline or a failure: the
  envelope's idempotency key and reference carry it, so each sending gets an envelope of its
  own and a late event of an earlier envelope is not taken for the current one);
* ``envelope_seen_at``: when the service last told us anything about the envelope (its
  creation's answer, a callback, a reconciliation read), which the sweeper compares with the
  reconciliation delay;
* the status ``FAILED`` (the envelope could not be created: refused, or every attempt failed),
  with ``failure_reason``.

The application role may update the new columns; the index ``ix_contracts_envelope_due`` is
the sweeper's.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from alembic import context, op

revision = "0023"
down_revision = "0022"
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
    CHECK (status IN ('DRAFT', 'VOID', 'SENT', 'SIGNED', 'DECLINED', 'EXPIRED', 'FAILED'));
ALTER TABLE contracts
    ADD COLUMN envelope_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN envelope_max_attempts integer NOT NULL DEFAULT 8,
    ADD COLUMN envelope_next_attempt_at timestamptz,
    ADD COLUMN envelope_last_error varchar(1000),
    ADD COLUMN envelope_seen_at timestamptz,
    ADD COLUMN resends integer NOT NULL DEFAULT 0,
    ADD COLUMN failure_reason varchar(200),
    ADD CONSTRAINT ck_contracts_envelope_attempts CHECK (
        envelope_attempts >= 0 AND envelope_attempts <= envelope_max_attempts),
    ADD CONSTRAINT ck_contracts_resends CHECK (resends >= 0),
    ADD CONSTRAINT ck_contracts_failed CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL));
UPDATE contracts SET envelope_next_attempt_at = sent_at
    WHERE status = 'SENT' AND envelope_id IS NULL;
UPDATE contracts SET envelope_seen_at = sent_at WHERE status = 'SENT' AND envelope_id IS NOT NULL;
CREATE INDEX ix_contracts_envelope_due ON contracts (envelope_next_attempt_at)
    WHERE status = 'SENT' AND envelope_id IS NULL;
CREATE INDEX ix_contracts_envelope_seen ON contracts (envelope_seen_at)
    WHERE status = 'SENT' AND envelope_id IS NOT NULL
"""

DOWNGRADE_SQL = """
DROP INDEX ix_contracts_envelope_seen;
DROP INDEX ix_contracts_envelope_due;
UPDATE contracts SET status = 'DECLINED' WHERE status = 'FAILED';
ALTER TABLE contracts
    DROP CONSTRAINT ck_contracts_failed,
    DROP CONSTRAINT ck_contracts_resends,
    DROP CONSTRAINT ck_contracts_envelope_attempts,
    DROP COLUMN failure_reason,
    DROP COLUMN resends,
    DROP COLUMN envelope_seen_at,
    DROP COLUMN envelope_last_error,
    DROP COLUMN envelope_next_attempt_at,
    DROP COLUMN envelope_max_attempts,
    DROP COLUMN envelope_attempts;
ALTER TABLE contracts DROP CONSTRAINT ck_contracts_contract_status;
ALTER TABLE contracts ADD CONSTRAINT ck_contracts_contract_status
    CHECK (status IN ('DRAFT', 'VOID', 'SENT', 'SIGNED', 'DECLINED', 'EXPIRED'))
"""

COLUMNS = (
    "envelope_attempts, envelope_next_attempt_at, envelope_last_error, envelope_seen_at,"
    " resends, failure_reason"
)


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
