"""OAuth scopes (``resource:action``) and the roles that grant them."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """Every scope the API knows."""

    PLATFORM_ADMIN = "platform:admin"  # explicit cross-tenant scope of the operator
    TENANTS_READ = "tenants:read"
    TENANTS_WRITE = "tenants:write"
    ORGANIZATIONS_READ = "organizations:read"
    ORGANIZATIONS_WRITE = "organizations:write"
    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    CLIENTS_READ = "clients:read"
    CLIENTS_WRITE = "clients:write"
    VIEWER_READ = "viewer:read"
    PRODUCTS_READ = "products:read"
    PRODUCTS_WRITE = "products:write"
    MARKETPLACE_READ = "marketplace:read"
    COLLATERAL_READ = "collateral:read"  # purchase orders, warehouse receipts
    COLLATERAL_WRITE = "collateral:write"
    DOCUMENTS_READ = "documents:read"
    DOCUMENTS_WRITE = "documents:write"
    DEALS_READ = "deals:read"  # applications: the funder's, the applicant's, the channel's
    DEALS_APPLY = "deals:apply"  # create, edit, submit and withdraw applications
    AGENTS_WRITE = "agents:write"  # authorise and revoke who acts for a party
    CALENDARS_WRITE = "calendars:write"  # the operator's holidays and make-up working days
    RISK_READ = "risk:read"  # a deal's bureau report, identity result, valuation, scorecard
    REVIEWS_FIRST = "reviews:first"  # take and decide first reviews
    REVIEWS_SECOND = "reviews:second"  # take and decide second reviews
    LEDGER_READ = "ledger:read"  # the funder's books: trial balance, journal entries
    CONTRACTS_WRITE = "contracts:write"  # prepare an approved deal's contract
    LOANS_DISBURSE = "loans:disburse"  # pay out a signed deal's loan over the payment rail


class Role(StrEnum):
    """Roles of people. Platform roles sit on the user; tenant roles on a membership."""

    PLATFORM_ADMIN = "PLATFORM_ADMIN"
    FUNDER_ADMIN = "FUNDER_ADMIN"
    FIRST_REVIEWER = "FIRST_REVIEWER"
    SECOND_REVIEWER = "SECOND_REVIEWER"
    FINANCE_OFFICER = "FINANCE_OFFICER"
    BORROWER = "BORROWER"
    CORE_ENTERPRISE_USER = "CORE_ENTERPRISE_USER"
    WAREHOUSE_USER = "WAREHOUSE_USER"


TENANT_ROLES = frozenset(
    {Role.FUNDER_ADMIN, Role.FIRST_REVIEWER, Role.SECOND_REVIEWER, Role.FINANCE_OFFICER}
)
PLATFORM_ROLES = frozenset(
    {Role.PLATFORM_ADMIN, Role.BORROWER, Role.CORE_ENTERPRISE_USER, Role.WAREHOUSE_USER}
)

_ALL = frozenset(Scope)
# Parties act on their own orders, receipts and documents (row-level security narrows to them);
# funder staff read what their deals reference.
_COLLATERAL_PARTY = frozenset(
    {Scope.COLLATERAL_READ, Scope.COLLATERAL_WRITE, Scope.DOCUMENTS_READ, Scope.DOCUMENTS_WRITE}
)
_COLLATERAL_FUNDER = frozenset({Scope.COLLATERAL_READ, Scope.DOCUMENTS_READ})
# Borrowers and partner apps apply (row-level security narrows them to their own deals and
# their channel's); funder staff read their funder's deals.
_DEALS_APPLICANT = frozenset({Scope.DEALS_READ, Scope.DEALS_APPLY})
_DEALS_FUNDER = frozenset({Scope.DEALS_READ})
# Who reads parties at all; row-level security narrows each to the parties it may see (itself,
# the applicants of its deals, those it acts for, its counterparties).
_PARTIES_READ = frozenset({Scope.PERSONS_READ, Scope.ORGANIZATIONS_READ})

# What every member of a funder's staff reads: the funder, its products, the collateral and
# parties of its deals, its deals.
_FUNDER_STAFF = (
    frozenset({Scope.VIEWER_READ, Scope.TENANTS_READ, Scope.PRODUCTS_READ})
    | _COLLATERAL_FUNDER
    | _DEALS_FUNDER
    | _PARTIES_READ
)

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.PLATFORM_ADMIN: _ALL,
    Role.FUNDER_ADMIN: frozenset(
        {
            Scope.VIEWER_READ,
            Scope.TENANTS_READ,
            Scope.USERS_READ,
            Scope.CLIENTS_READ,
            Scope.PRODUCTS_READ,
            Scope.PRODUCTS_WRITE,
            Scope.LEDGER_READ,
            Scope.CONTRACTS_WRITE,
        }
    )
    | _COLLATERAL_FUNDER
    | _DEALS_FUNDER
    | _PARTIES_READ,
    Role.FIRST_REVIEWER: _FUNDER_STAFF | {Scope.RISK_READ, Scope.REVIEWS_FIRST},
    Role.SECOND_REVIEWER: _FUNDER_STAFF | {Scope.RISK_READ, Scope.REVIEWS_SECOND},
    Role.FINANCE_OFFICER: _FUNDER_STAFF
    | {Scope.LEDGER_READ, Scope.CONTRACTS_WRITE, Scope.LOANS_DISBURSE},
    Role.BORROWER: frozenset({Scope.VIEWER_READ, Scope.MARKETPLACE_READ, Scope.AGENTS_WRITE})
    | _COLLATERAL_PARTY
    | _DEALS_APPLICANT
    | _PARTIES_READ,
    Role.CORE_ENTERPRISE_USER: frozenset({Scope.VIEWER_READ}) | _COLLATERAL_PARTY | _PARTIES_READ,
    Role.WAREHOUSE_USER: frozenset({Scope.VIEWER_READ}) | _COLLATERAL_PARTY | _PARTIES_READ,
}

# Scopes an OAuth client may be registered with, by kind of client.
# A partner app onboards the persons it acts for (persons:write).
PARTNER_APP_SCOPES = (
    frozenset({Scope.VIEWER_READ, Scope.MARKETPLACE_READ, Scope.PERSONS_WRITE})
    | _COLLATERAL_PARTY
    | _DEALS_APPLICANT
    | _PARTIES_READ
)
SERVICE_ACCOUNT_SCOPES = _ALL - {Scope.PLATFORM_ADMIN}


def scopes_for_roles(roles: frozenset[Role] | set[Role]) -> frozenset[Scope]:
    """The union of the scopes the given roles grant."""
    granted: set[Scope] = set()
    for role in roles:
        granted |= ROLE_SCOPES[role]
    return frozenset(granted)


def parse_scopes(value: str | None) -> frozenset[str]:
    """A space-delimited scope string (RFC 6749 section 3.3) as a set."""
    return frozenset(part for part in (value or "").split(" ") if part)
