"""The double-entry ledger: a chart of accounts per tenant and per loan, append-only journal
entries whose lines sum to zero in every currency, balances by account and as of a date, and
the trial balance (DESIGN.md section 6)."""
