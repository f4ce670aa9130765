"""The double-entry ledger: a chart of accounts per tenant and per loan, journal entries and
their lines.

``ledger_accounts``: one account per ``(tenant, kind, loan, currency)``; SETTLEMENT_CASH and
SUSPENSE are the tenant's (no loan), every other kind is one loan's. ``loan_id`` is a plain
uuid: there is no loans table yet to point at. Each kind has one normal side (receivables,
cash and expense are debit-normal; income, suspense and the borrower's credit are
credit-normal), checked by the table.

``journal_entries``: what was posted, why (``cause``), for which value date, under an
idempotency reference unique in the tenant; a REVERSAL names the entry it reverses, and an
entry is reversed at most once. ``journal_lines``: the entry's signed amounts (debit positive,
credit negative, never zero), each in its account's currency (the foreign key carries the
currency).

The database refuses what the ledger's rules forbid, whoever writes:

* a deferred constraint trigger checks, at commit, that each new entry has at least two lines
  that sum to zero in every currency, and that a reversal's lines are its original's negated
  (and that a reversal is not itself reversed);
* lines are written only in their entry's transaction (``posted_at`` is the transaction's
  timestamp, set by a trigger), so a committed entry never gains a line;
* the application role may only read and insert (a correction is a reversing entry), and a
  trigger refuses UPDATE and DELETE to every role besides.

Row-level security as everywhere: a tenant reads and writes its own rows, the platform scope
any tenant's. The check triggers run as the invoker: every line of an entry has the entry's
tenant, so a scope sees all of an entry's lines or none, and none fails the check.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


P = "(SELECT app_is_platform())"
T = "(SELECT app_tenant_id())"

TABLES = ("ledger_accounts", "journal_entries", "journal_lines")

ACCOUNT_KINDS = (
    "PRINCIPAL_RECEIVABLE",
    "INTEREST_RECEIVABLE",
    "FEE_RECEIVABLE",
    "PENALTY_RECEIVABLE",
    "INTEREST_INCOME",
    "FEE_INCOME",
    "PENALTY_INCOME",
    "SETTLEMENT_CASH",
    "SUSPENSE",
    "BORROWER_CREDIT",
    "WRITE_OFF_EXPENSE",
    "RECOVERY_INCOME",
)
DEBIT_NORMAL = (
    "PRINCIPAL_RECEIVABLE",
    "INTEREST_RECEIVABLE",
    "FEE_RECEIVABLE",
    "PENALTY_RECEIVABLE",
    "SETTLEMENT_CASH",
    "WRITE_OFF_EXPENSE",
)
TENANT_LEVEL = ("SETTLEMENT_CASH", "SUSPENSE")
CAUSES = (
    "DISBURSEMENT",
    "REPAYMENT",
    "ACCRUAL",
    "FEE",
    "PENALTY",
    "REVERSAL",
    "WRITE_OFF",
    "RECOVERY",
    "ADJUSTMENT",
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


TABLE_SQL = f"""
CREATE TABLE ledger_accounts (
    tenant_id uuid NOT NULL CONSTRAINT fk_ledger_accounts_tenant_id_tenants
        REFERENCES tenants (id),
    id uuid NOT NULL,
    code varchar(32) NOT NULL CONSTRAINT ck_ledger_accounts_account_kind
        CHECK (code IN ({_in(ACCOUNT_KINDS)})),
    loan_id uuid,
    currency varchar(3) NOT NULL,
    normal_side varchar(32) NOT NULL CONSTRAINT ck_ledger_accounts_entry_side
        CHECK (normal_side IN ('DEBIT', 'CREDIT')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_ledger_accounts PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_ledger_accounts_code
        UNIQUE NULLS NOT DISTINCT (tenant_id, code, loan_id, currency),
    -- What a line's foreign key points at, so that a line is in its account's currency.
    CONSTRAINT uq_ledger_accounts_currency UNIQUE (tenant_id, id, currency),
    CONSTRAINT ck_ledger_accounts_normal_side CHECK (normal_side =
        CASE WHEN code IN ({_in(DEBIT_NORMAL)}) THEN 'DEBIT' ELSE 'CREDIT' END),
    CONSTRAINT ck_ledger_accounts_loan_scope
        CHECK ((loan_id IS NULL) = (code IN ({_in(TENANT_LEVEL)})))
);
CREATE INDEX ix_ledger_accounts_id ON ledger_accounts (id);
CREATE INDEX ix_ledger_accounts_loan ON ledger_accounts (tenant_id, loan_id)
    WHERE loan_id IS NOT NULL;
CREATE TABLE journal_entries (
    tenant_id uuid NOT NULL CONSTRAINT fk_journal_entries_tenant_id_tenants
        REFERENCES tenants (id),
    id uuid NOT NULL,
    cause varchar(32) NOT NULL CONSTRAINT ck_journal_entries_entry_cause
        CHECK (cause IN ({_in(CAUSES)})),
    idempotency_reference varchar(200) NOT NULL,
    value_date date NOT NULL,
    reverses_entry_id uuid,
    memo varchar(500),
    created_by_user_id uuid CONSTRAINT fk_journal_entries_created_by_user_id_users
        REFERENCES users (id),
    created_by_client_id varchar(64),
    posted_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_journal_entries PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_journal_entries_idempotency_reference
        UNIQUE (tenant_id, idempotency_reference),
    CONSTRAINT uq_journal_entries_reverses_entry_id UNIQUE (tenant_id, reverses_entry_id),
    CONSTRAINT fk_journal_entries_reverses_entry_id FOREIGN KEY (tenant_id, reverses_entry_id)
        REFERENCES journal_entries (tenant_id, id),
    CONSTRAINT ck_journal_entries_reversal
        CHECK (((cause = 'REVERSAL') = (reverses_entry_id IS NOT NULL))
               AND reverses_entry_id IS DISTINCT FROM id),
    CONSTRAINT ck_journal_entries_reference CHECK (idempotency_reference <> '')
);
CREATE INDEX ix_journal_entries_id ON journal_entries (id);
CREATE INDEX ix_journal_entries_value_date ON journal_entries (tenant_id, value_date);
CREATE TABLE journal_lines (
    tenant_id uuid NOT NULL CONSTRAINT fk_journal_lines_tenant_id_tenants
        REFERENCES tenants (id),
    entry_id uuid NOT NULL,
    line_no integer NOT NULL CONSTRAINT ck_journal_lines_line_no CHECK (line_no > 0),
    account_id uuid NOT NULL,
    currency varchar(3) NOT NULL,
    amount_minor bigint NOT NULL CONSTRAINT ck_journal_lines_amount_nonzero
        CHECK (amount_minor <> 0),
    CONSTRAINT pk_journal_lines PRIMARY KEY (tenant_id, entry_id, line_no),
    CONSTRAINT fk_journal_lines_entry FOREIGN KEY (tenant_id, entry_id)
        REFERENCES journal_entries (tenant_id, id),
    CONSTRAINT fk_journal_lines_account FOREIGN KEY (tenant_id, account_id, currency)
        REFERENCES ledger_accounts (tenant_id, id, currency)
);
CREATE INDEX ix_journal_lines_account ON journal_lines (tenant_id, account_id)
"""

BALANCED_SQL = r"""
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    entry uuid;
    reversed uuid;
    line_count integer;
    off_currency text;
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        entry := NEW.id;
    ELSE
        entry := NEW.entry_id;
    END IF;
    SELECT count(*) INTO line_count FROM journal_lines
        WHERE tenant_id = NEW.tenant_id AND entry_id = entry;
    IF line_count < 2 THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry has at least two',
            entry, line_count
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_journal_entries_lines',
                  TABLE = 'journal_entries';
    END IF;
    SELECT currency INTO off_currency FROM journal_lines
        WHERE tenant_id = NEW.tenant_id AND entry_id = entry
        GROUP BY currency HAVING sum(amount_minor) <> 0 ORDER BY currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %', entry, off_currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_journal_entries_balanced',
                  TABLE = 'journal_entries';
    END IF;
    SELECT reverses_entry_id INTO reversed FROM journal_entries
        WHERE tenant_id = NEW.tenant_id AND id = entry;
    IF reversed IS NOT NULL AND (
        EXISTS (SELECT 1 FROM journal_entries WHERE tenant_id = NEW.tenant_id AND id = reversed
                AND reverses_entry_id IS NOT NULL)
        OR EXISTS (
            (SELECT account_id, currency, amount_minor FROM journal_lines
                WHERE tenant_id = NEW.tenant_id AND entry_id = entry
             EXCEPT ALL
             SELECT account_id, currency, -amount_minor FROM journal_lines
                WHERE tenant_id = NEW.tenant_id AND entry_id = reversed)
            UNION ALL
            (SELECT account_id, currency, -amount_minor FROM journal_lines
                WHERE tenant_id = NEW.tenant_id AND entry_id = reversed
             EXCEPT ALL
             SELECT account_id, currency, amount_minor FROM journal_lines
                WHERE tenant_id = NEW.tenant_id AND entry_id = entry))
    ) THEN
        RAISE EXCEPTION 'journal entry % is not the negation of the entry % it reverses',
            entry, reversed
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_journal_entries_reverses',
                  TABLE = 'journal_entries';
    END IF;
    RETURN NULL;
END
$$
"""

POSTED_NOW_SQL = """
CREATE FUNCTION ledger_entry_posted_now() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    -- Whatever the writer sent: the lines' trigger below relies on it.
    NEW.posted_at := transaction_timestamp();
    RETURN NEW;
END
$$
"""

WITH_ENTRY_SQL = """
CREATE FUNCTION ledger_line_with_entry() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM journal_entries WHERE tenant_id = NEW.tenant_id
                   AND id = NEW.entry_id AND posted_at = transaction_timestamp()) THEN
        RAISE EXCEPTION 'journal entry % was not posted in this transaction', NEW.entry_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_journal_lines_with_entry',
                  TABLE = 'journal_lines';
    END IF;
    RETURN NULL;
END
$$
"""

APPEND_ONLY_SQL = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

TRIGGERS_SQL = """
CREATE TRIGGER journal_entries_posted_now BEFORE INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_posted_now();
CREATE TRIGGER journal_lines_with_entry AFTER INSERT ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_line_with_entry();
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE TRIGGER ledger_accounts_append_only BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
"""


def _policies(table: str) -> str:
    return f"""
CREATE POLICY {table}_read ON {table} FOR SELECT
    USING (tenant_id = {T} OR {P});
CREATE POLICY {table}_write ON {table} FOR INSERT
    WITH CHECK (tenant_id = {T} OR {P})
"""


def _execute_each(sql: str) -> None:
    for statement in sql.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    role = _app_role()
    _execute_each(TABLE_SQL)
    for function in (BALANCED_SQL, POSTED_NOW_SQL, WITH_ENTRY_SQL, APPEND_ONLY_SQL):
        op.execute(function)
    _execute_each(TRIGGERS_SQL)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        _execute_each(_policies(table))
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS journal_lines")
    op.execute("DROP TABLE IF EXISTS journal_entries")
    op.execute("DROP TABLE IF EXISTS ledger_accounts")
    for function in (
        "ledger_entry_balanced",
        "ledger_entry_posted_now",
        "ledger_line_with_entry",
        "ledger_append_only",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
