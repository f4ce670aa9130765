"""Product scorecards: a product version carries its risk scorecard and approval window.

``product_versions`` gains the scorecard's rules, each applying when set (NULL for the
versions that exist: no rule), and ``approval_validity_days``, how long an approval waits for
signing (30 for the versions that exist). Adding columns with defaults rewrites no row through
the freeze trigger, which compares no column list: published versions stay as they were. A
DRAFT's version edits them in place like its other terms (column UPDATE).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from alembic import context, op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = (
    "scorecard_min_bureau_score",
    "scorecard_max_current_delinquencies",
    "scorecard_max_debt_to_income",
    "scorecard_max_exposure_minor",
    "scorecard_auto_approve_below_minor",
    "approval_validity_days",
)


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


# The line-specific rules (debt-to-income, exposure, auto-approval) depend on the product's
# line, which lives on ``products``: the domain checks those; the ranges are checked here too.
ADD_SQL = """
ALTER TABLE product_versions
    ADD COLUMN scorecard_min_bureau_score integer
        CONSTRAINT ck_product_versions_scorecard_min_bureau_score
        CHECK (scorecard_min_bureau_score BETWEEN 0 AND 1000),
    ADD COLUMN scorecard_max_current_delinquencies integer
        CONSTRAINT ck_product_versions_scorecard_max_current_delinquencies
        CHECK (scorecard_max_current_delinquencies >= 0),
    ADD COLUMN scorecard_max_debt_to_income numeric(10, 8)
        CONSTRAINT ck_product_versions_scorecard_max_debt_to_income
        CHECK (scorecard_max_debt_to_income > 0 AND scorecard_max_debt_to_income <= 5),
    ADD COLUMN scorecard_max_exposure_minor bigint
        CONSTRAINT ck_product_versions_scorecard_max_exposure
        CHECK (scorecard_max_exposure_minor > 0),
    ADD COLUMN scorecard_auto_approve_below_minor bigint
        CONSTRAINT ck_product_versions_scorecard_auto_approve_below
        CHECK (scorecard_auto_approve_below_minor > 0
               AND scorecard_auto_approve_below_minor <= max_amount_minor),
    ADD COLUMN approval_validity_days integer NOT NULL DEFAULT 30
        CONSTRAINT ck_product_versions_approval_validity_days
        CHECK (approval_validity_days BETWEEN 1 AND 365)
"""


def upgrade() -> None:
    op.execute(ADD_SQL)
    op.execute(f"GRANT UPDATE ({', '.join(COLUMNS)}) ON product_versions TO {_app_role()}")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE product_versions "
        + ", ".join(f"DROP COLUMN IF EXISTS {column}" for column in COLUMNS)
    )
