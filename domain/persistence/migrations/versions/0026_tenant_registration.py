"""A funder's registration number: its unified social credit code.

``tenants.registration_number`` (18 characters, upper case, unique when present) is what a
contract names the funder by and what the e-signature service checks the funder's signature
against. Funders onboarded before it have none until the operator records it; a contract is
not prepared for a funder without one.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


UPGRADE_SQL = """
ALTER TABLE tenants
    ADD COLUMN registration_number varchar(18),
    ADD CONSTRAINT uq_tenants_registration_number UNIQUE (registration_number),
    ADD CONSTRAINT ck_tenants_registration_number
        CHECK (registration_number ~ '^[0-9A-HJ-NP-RT-UW-Y]{18}$')
"""

DOWNGRADE_SQL = """
ALTER TABLE tenants
    DROP CONSTRAINT ck_tenants_registration_number,
    DROP CONSTRAINT uq_tenants_registration_number,
    DROP COLUMN registration_number
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
