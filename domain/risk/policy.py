"""Pure rules of the risk context: who sees a deal's risk data. No I/O.

Risk data (the bureau report, the identity result, the collateral valuation, the scorecard's
recommendation and the review notes built on them) is kept with the deal and shown only to
the funder that owns the deal, to its staff whose token carries ``risk:read``. The platform
operator follows deals across funders without it (its ``platform:admin`` scope does not
reach risk data), and neither the applicant nor the partner app of the channel sees it.
"""

from __future__ import annotations

import uuid

from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope


def risk_visible(actor: Actor, deal_tenant_id: uuid.UUID) -> bool:
    """Whether ``actor`` may read the risk data of a deal of tenant ``deal_tenant_id``: a
    principal of that very tenant holding ``risk:read``."""
    return actor.tenant_id == deal_tenant_id and actor.has(Scope.RISK_READ)
