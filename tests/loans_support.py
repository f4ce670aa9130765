"""ACTIVE loans in bulk, by SQL, for the read path (its tests and ``bench/read_path.py``): each a
copy of one deal of the funder made ACTIVE, with a SETTLED payout, the loan with its 12-line
schedule, the loan's ledger accounts and the disbursement's entry, as the disbursement posts it
(domain.loans.service.disbursement_postings): principal receivable +100,000.00, settlement cash
-98,000.00 and fee income -2,000.00.

The loan: 100,000.00 CNY at 12 % over 12 monthly equal instalments from 2026-01-15, a 2,000.00
fee withheld; the schedule is the engine's (domain.loans.policy.build_schedule). The rows go in
through any connection that may write them: the caller binds the platform scope (or connects
as a superuser)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, text

from domain.deals.models import Deal
from domain.kernel.money import Money
from domain.ledger.policy import LOAN_KINDS, NORMAL_SIDE
from domain.loans.policy import RepaymentMethod, ScheduleTerms, build_schedule
from domain.loans.service import schedule_lines

PRINCIPAL_MINOR = 10_000_000  # 100,000.00
FEE_MINOR = 200_000  # 2,000.00
RATE = Decimal("0.12")
VALUE_DATE = date(2026, 1, 15)


def schedule() -> list[dict[str, Any]]:
    """The copies' schedule lines, as a loan keeps them."""
    terms = ScheduleTerms(
        principal=Money(PRINCIPAL_MINOR, "CNY"),
        annual_rate=RATE,
        periods=12,
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        start_date=VALUE_DATE,
    )
    return schedule_lines(build_schedule(terms))


async def seed_loans(
    conn: Any,
    *,
    tenant_id: uuid.UUID,
    template_deal_id: uuid.UUID,
    count: int,
    deal_columns: dict[str, str] | None = None,
) -> list[uuid.UUID]:
    """``count`` ACTIVE loans of ``tenant_id``, each on a copy of ``template_deal_id`` (the
    copies created one second apart, after the template), oldest first; their IDs in that
    order. ``deal_columns``: SQL for columns of the copies (``{"purchase_order_id": "null"}``:
    a copy claims no order). ``conn``: a SQLAlchemy async connection or session."""
    import json

    lines = schedule()
    maturity = date.fromisoformat(lines[-1]["due_date"])
    deals = [uuid.uuid4() for _ in range(count)]
    payouts = [uuid.uuid4() for _ in range(count)]
    loans = [uuid.uuid4() for _ in range(count)]
    entries = [uuid.uuid4() for _ in range(count)]
    ns = list(range(1, count + 1))
    copies = (
        "unnest(cast(:deals as uuid[]), cast(:payouts as uuid[]), cast(:loans as uuid[]),"
        " cast(:entries as uuid[]), cast(:ns as int[])) as c(deal_id, payout_id, loan_id,"
        " entry_id, n)"
    )
    params = {"deals": deals, "payouts": payouts, "loans": loans, "entries": entries, "ns": ns}
    cols = [c.name for c in cast(Table, Deal.__table__).columns]
    picked = ", ".join(
        {
            "id": "c.deal_id",
            "status": "'ACTIVE'",
            "submitted_at": "coalesce(d.submitted_at, d.created_at)",
            # An ACTIVE deal was never withdrawn, whatever the template was.
            "withdrawn_at": "null",
            "withdrawal_reason": "null",
            "created_at": "d.created_at + make_interval(secs => c.n)",
            "updated_at": "d.created_at + make_interval(secs => c.n)",
            **(deal_columns or {}),
        }.get(col, f"d.{col}")
        for col in cols
    )
    await conn.execute(
        text(
            f"insert into deals ({', '.join(cols)}) select {picked} from deals d, {copies}"
            " where d.tenant_id = :t and d.id = :template"
        ),
        {**params, "t": tenant_id, "template": template_deal_id},
    )
    stamp = "now() + make_interval(secs => c.n)"
    await conn.execute(
        text(
            "insert into payouts (tenant_id, id, deal_id, idempotency_key, currency, amount_minor,"
            " fee_minor, net_minor, value_date, beneficiary_name, beneficiary_account,"
            " beneficiary_bank_code, state, attempts, max_attempts, requested_by_user_id,"
            " created_at, updated_at, sent_at, settled_at)"
            f" select :t, c.payout_id, c.deal_id, 'seed-' || c.payout_id, 'CNY', :p, :f, :net,"
            " :vd, 'Seeded borrower', '\\x00'::bytea, '102100099996', 'SETTLED', 1, 5,"
            f" gen_random_uuid(), {stamp}, {stamp}, {stamp}, {stamp} from {copies}"
        ),
        {
            **params,
            "t": tenant_id,
            "p": PRINCIPAL_MINOR,
            "f": FEE_MINOR,
            "net": PRINCIPAL_MINOR - FEE_MINOR,
            "vd": VALUE_DATE,
        },
    )
    await conn.execute(
        text(
            "insert into loans (tenant_id, id, deal_id, payout_id, status, currency,"
            " principal_minor, fee_minor, annual_rate, value_date, maturity_date, schedule,"
            " created_at, updated_at)"
            " select :t, c.loan_id, c.deal_id, c.payout_id, 'ACTIVE', 'CNY', :p, :f, :r, :vd,"
            f" :md, cast(:schedule as jsonb), {stamp}, {stamp} from {copies}"
        ),
        {
            **params,
            "t": tenant_id,
            "p": PRINCIPAL_MINOR,
            "f": FEE_MINOR,
            "r": RATE,
            "vd": VALUE_DATE,
            "md": maturity,
            "schedule": json.dumps(lines),
        },
    )
    kinds = [k.value for k in LOAN_KINDS]
    sides = [NORMAL_SIDE[k].value for k in LOAN_KINDS]
    await conn.execute(
        text(
            "insert into ledger_accounts (tenant_id, id, code, loan_id, currency, normal_side)"
            " select :t, gen_random_uuid(), k.code, c.loan_id, 'CNY', k.side from "
            f"{copies}, unnest(cast(:kinds as text[]), cast(:sides as text[])) as k(code, side)"
        ),
        {**params, "t": tenant_id, "kinds": kinds, "sides": sides},
    )
    await conn.execute(
        text(
            "insert into ledger_accounts (tenant_id, id, code, loan_id, currency, normal_side)"
            " values (:t, gen_random_uuid(), 'SETTLEMENT_CASH', null, 'CNY', 'DEBIT')"
            " on conflict on constraint uq_ledger_accounts_code do nothing"
        ),
        {"t": tenant_id},
    )
    await conn.execute(
        text(
            "insert into journal_entries (tenant_id, id, cause, idempotency_reference, value_date,"
            " memo) select :t, c.entry_id, 'DISBURSEMENT', 'payout:' || c.payout_id, :vd,"
            f" 'disbursement of deal ' || c.deal_id from {copies}"
        ),
        {**params, "t": tenant_id, "vd": VALUE_DATE},
    )
    # Line 1 principal receivable +amount, line 2 settlement cash -(amount - fee), line 3 fee
    # income -fee: the entry sums to zero.
    await conn.execute(
        text(
            "insert into journal_lines (tenant_id, entry_id, line_no, account_id, currency,"
            " amount_minor) select :t, c.entry_id, l.no, a.id, 'CNY', l.amount"
            f" from {copies} cross join lateral (values"
            " (1, 'PRINCIPAL_RECEIVABLE', cast(:p as bigint)),"
            " (2, 'SETTLEMENT_CASH', cast(:cash as bigint)),"
            " (3, 'FEE_INCOME', cast(:fee as bigint))) as l(no, code, amount)"
            " join ledger_accounts a on a.tenant_id = :t and a.code = l.code and a.currency = 'CNY'"
            " and a.loan_id is not distinct from"
            " (case when l.code = 'SETTLEMENT_CASH' then null else c.loan_id end)"
        ),
        {
            **params,
            "t": tenant_id,
            "p": PRINCIPAL_MINOR,
            "cash": -(PRINCIPAL_MINOR - FEE_MINOR),
            "fee": -FEE_MINOR,
        },
    )
    return loans


__all__ = ["FEE_MINOR", "PRINCIPAL_MINOR", "schedule", "seed_loans"]
