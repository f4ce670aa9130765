"""The database scope of a unit of work: which tenant (and which principal) row-level security
sees. It is bound at the start of every transaction with ``set_config(..., true)`` so that it
never outlives the transaction on a pooled connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

SCOPE_KEY = "lendgraph.db_scope"
CHECK_KEY = "lendgraph.principal_check"
VERDICT_KEY = "lendgraph.principal_active"


@dataclass(frozen=True, slots=True)
class DbScope:
    """What the current transaction may see. ``platform`` is the operator's explicit
    cross-tenant scope; it is never implied by anything else."""

    tenant_id: uuid.UUID | None = None
    platform: bool = False
    user_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    #: The OAuth client the request came through: a partner app sees its channel's deals,
    #: and idempotency keys belong to a (client, user, tenant).
    client_id: str | None = None

    def settings(self) -> dict[str, str]:
        """The ``app.*`` settings for this scope; absent values bind to ''."""

        def s(value: uuid.UUID | None) -> str:
            return "" if value is None else str(value)

        return {
            "app.tenant_id": s(self.tenant_id),
            "app.platform": "on" if self.platform else "",
            "app.user_id": s(self.user_id),
            "app.person_id": s(self.person_id),
            "app.organization_id": s(self.organization_id),
            "app.client_id": self.client_id or "",
        }


NO_SCOPE = DbScope()
PLATFORM_SCOPE = DbScope(platform=True)


@dataclass(frozen=True, slots=True)
class PrincipalCheck:
    """The client, user and tenant behind a token, to be found still active by every
    transaction of the session (``app_principal_active``), in the statement that binds its
    scope: a request pays one statement for both."""

    client_id: str
    user_id: uuid.UUID | None
    tenant_id: uuid.UUID | None


_SET_CONFIG = (
    "select set_config('app.tenant_id', :tenant_id, true),"
    " set_config('app.platform', :platform, true),"
    " set_config('app.user_id', :user_id, true),"
    " set_config('app.person_id', :person_id, true),"
    " set_config('app.organization_id', :organization_id, true),"
    " set_config('app.client_id', :client_id, true)"
)
_BIND_SQL = text(_SET_CONFIG)
# The check reads the principal's rows as a definer helper does (app.platform on inside the
# function only), so the order of the select list does not matter.
_BIND_AND_CHECK_SQL = text(
    _SET_CONFIG + ", app_principal_active(cast(:check_client_id as text),"
    " cast(:check_user_id as uuid), cast(:check_tenant_id as uuid))"
)


def _info(session: Any) -> dict[str, Any]:
    info: dict[str, Any] = session.info if hasattr(session, "info") else session.sync_session.info
    return info


def set_scope(session: Any, scope: DbScope, check: PrincipalCheck | None = None) -> None:
    """Give a session (sync or async) the scope its next transactions bind and, given
    ``check``, the principal each of them finds active or not (:func:`principal_verdict`)."""
    info = _info(session)
    info[SCOPE_KEY] = scope
    if check is None:
        info.pop(CHECK_KEY, None)
    else:
        info[CHECK_KEY] = check
    info.pop(VERDICT_KEY, None)


def principal_verdict(session: Any) -> bool | None:
    """Whether the current transaction found the session's principal active (None before
    any transaction, or without a check)."""
    verdict: bool | None = _info(session).get(VERDICT_KEY)
    return verdict


def _bind_params(scope: DbScope) -> dict[str, str]:
    return {key.removeprefix("app."): value for key, value in scope.settings().items()}


@event.listens_for(Session, "after_begin")
def _bind_scope_on_begin(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    # Every transaction binds a scope, even an empty one: an earlier transaction's values can
    # never be seen, and no scope means RLS shows nothing.
    scope: DbScope = session.info.get(SCOPE_KEY, NO_SCOPE)
    check: PrincipalCheck | None = session.info.get(CHECK_KEY)
    if check is None:
        connection.execute(_BIND_SQL, _bind_params(scope))
        return
    params = _bind_params(scope) | {
        "check_client_id": check.client_id,
        "check_user_id": check.user_id,
        "check_tenant_id": check.tenant_id,
    }
    row = connection.execute(_BIND_AND_CHECK_SQL, params).one()
    session.info[VERDICT_KEY] = bool(row[-1])
