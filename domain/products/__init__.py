"""Loan products: funders' product lines, versions of terms, lifecycle and quotes."""
