"""GraphQL of loans: disbursement and the loan a deal becomes."""
