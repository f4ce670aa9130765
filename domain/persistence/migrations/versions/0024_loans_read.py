"""The funder's loans as a connection: ``ix_loans_page`` on ``(tenant_id, created_at, id)``, the
keyset of ``loans(first:, after:)`` (oldest first), entered by the tenant every page names.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_loans_page ON loans (tenant_id, created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_loans_page")
