"""What the risk checks of a deal need from the application: the liveness capture and the
declared income.

``deals.liveness_session``: the identity provider's reference of the face capture the
applicant completed in the provider's capture flow (the identity check sends it with the
resident ID and name). ``deals.monthly_income_minor``: the applicant's declared monthly
income, in the deal's currency, the denominator of debt-to-income. Both are optional until
the risk checks read them: a missing one leaves its check without an answer, which the
reviewer sees.

The applicant's side edits them while the application is editable, like the rest of the
request: the application role may update both columns.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


def upgrade() -> None:
    op.add_column("deals", sa.Column("liveness_session", sa.String(128), nullable=True))
    op.add_column("deals", sa.Column("monthly_income_minor", sa.BigInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_deals_monthly_income_positive"),
        "deals",
        "monthly_income_minor IS NULL OR monthly_income_minor > 0",
    )
    op.execute(f"GRANT UPDATE (liveness_session, monthly_income_minor) ON deals TO {_app_role()}")


def downgrade() -> None:
    op.execute(
        f"REVOKE UPDATE (liveness_session, monthly_income_minor) ON deals FROM {_app_role()}"
    )
    op.drop_constraint("ck_deals_monthly_income_positive", "deals", type_="check")
    op.drop_column("deals", "monthly_income_minor")
    op.drop_column("deals", "liveness_session")
