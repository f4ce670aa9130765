"""Working-day schedules: product versions carry a business-day convention and a holiday
calendar, and the platform operator keeps official holidays and make-up working days.

``product_versions`` gains ``business_day_convention`` (NONE, FOLLOWING, MODIFIED_FOLLOWING,
PRECEDING) and ``holiday_calendar`` (NONE, CN), both ``NONE`` for the versions that exist, so
their schedules are unchanged (a published version is frozen, and adding a column with a
default rewrites no row through the freeze trigger). A DRAFT's version edits them in place like
its other terms (column UPDATE).

``calendar_days`` holds one row per (calendar, date) the operator entered: ``working`` false
for an official holiday on a weekday, true for a make-up working day on a weekend. It is
platform-level: every scope reads its live rows (a quote needs them, whoever asks); only the
platform scope inserts or updates, and reads the removed ones. Nothing is deleted: a removal
stamps ``removed_at``, and the operator keeps that history.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


STATEMENTS = (
    """
    ALTER TABLE product_versions
        ADD COLUMN business_day_convention varchar(32) NOT NULL DEFAULT 'NONE'
            CONSTRAINT ck_product_versions_business_day_convention
            CHECK (business_day_convention IN ('NONE', 'FOLLOWING', 'MODIFIED_FOLLOWING',
                                               'PRECEDING')),
        ADD COLUMN holiday_calendar varchar(32) NOT NULL DEFAULT 'NONE'
            CONSTRAINT ck_product_versions_holiday_calendar
            CHECK (holiday_calendar IN ('NONE', 'CN'))
    """,
    """
    CREATE TABLE calendar_days (
        calendar varchar(16) NOT NULL CONSTRAINT ck_calendar_days_calendar
            CHECK (calendar IN ('CN')),
        day date NOT NULL,
        working boolean NOT NULL,
        label varchar(200) NOT NULL CONSTRAINT ck_calendar_days_label CHECK (label <> ''),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by_user_id uuid,
        removed_at timestamptz,
        CONSTRAINT pk_calendar_days PRIMARY KEY (calendar, day)
    )
    """,
    "ALTER TABLE calendar_days ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE calendar_days FORCE ROW LEVEL SECURITY",
    # Live rows readable by every scope; written (and read when removed) by the platform scope.
    """
    CREATE POLICY calendar_days_read ON calendar_days FOR SELECT
        USING (removed_at IS NULL OR app_is_platform())
    """,
    """
    CREATE POLICY calendar_days_insert ON calendar_days FOR INSERT
        WITH CHECK (app_is_platform())
    """,
    """
    CREATE POLICY calendar_days_update ON calendar_days FOR UPDATE
        USING (app_is_platform()) WITH CHECK (app_is_platform())
    """,
)


def upgrade() -> None:
    role = _app_role()
    for statement in STATEMENTS:
        op.execute(statement)
    op.execute(
        f"GRANT UPDATE (business_day_convention, holiday_calendar) ON product_versions TO {role}"
    )
    op.execute(f"GRANT SELECT, INSERT ON calendar_days TO {role}")
    op.execute(
        "GRANT UPDATE (working, label, updated_at, updated_by_user_id, removed_at)"
        f" ON calendar_days TO {role}"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS calendar_days")
    op.execute(
        "ALTER TABLE product_versions DROP COLUMN IF EXISTS business_day_convention,"
        " DROP COLUMN IF EXISTS holiday_calendar"
    )
