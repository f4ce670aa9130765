"""Indexes of the operator's deals across funders (``platformDeals``).

Its pages run in the order ``(created_at, tenant_id, id)`` across every funder. Each filter
gets an index whose leading column is the filter and whose next columns follow that order, so
that a filtered page is one index range read in order, from the keyset position on: no filter
or a creation moment (``ix_deals_created``), a product line (``ix_deals_line_created``), a
status (``ix_deals_status_created``). The funder's is ``ix_deals_tenant_created`` (0005). The
submission moment is a range of ``ix_deals_submitted`` (drafts, never submitted, left out).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE INDEX ix_deals_created ON deals (created_at, tenant_id, id)",
    "CREATE INDEX ix_deals_line_created ON deals (product_line, created_at, tenant_id, id)",
    "CREATE INDEX ix_deals_status_created ON deals (status, created_at, tenant_id, id)",
    "CREATE INDEX ix_deals_submitted ON deals (submitted_at) WHERE submitted_at IS NOT NULL",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for name in (
        "ix_deals_submitted",
        "ix_deals_status_created",
        "ix_deals_line_created",
        "ix_deals_created",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
