"""Principal status check: lets every request confirm, in one round trip, that the client,
user and tenant behind its access token are still active, so disabling any of them takes
effect at once rather than when the token expires.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = context.config.get_main_option("lendgraph.app_role") or "lendgraph_app"
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


# Runs in the platform scope (the clients of partner apps belong to no tenant) and answers
# only yes or no, so it reveals nothing a token holder does not already know.
FUNCTION_SQL = """
CREATE FUNCTION app_principal_active(p_client_id text, p_user_id uuid, p_tenant_id uuid)
    RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    SET app.platform = 'on'
AS $$
    SELECT EXISTS (SELECT 1 FROM oauth_clients c
                   WHERE c.client_id = p_client_id AND c.status = 'ACTIVE')
       AND (p_user_id IS NULL OR EXISTS (SELECT 1 FROM users u
                                         WHERE u.id = p_user_id AND u.status = 'ACTIVE'))
       AND (p_tenant_id IS NULL OR EXISTS (SELECT 1 FROM tenants t
                                           WHERE t.id = p_tenant_id AND t.status = 'ACTIVE'))
$$
"""


def upgrade() -> None:
    role = _app_role()
    op.execute(FUNCTION_SQL)
    op.execute("REVOKE ALL ON FUNCTION app_principal_active(text, uuid, uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_principal_active(text, uuid, uuid) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app_principal_active(text, uuid, uuid)")
