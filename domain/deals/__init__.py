"""Deals: applications to a funder's product (applicant, credit consent, collateral, loan
request), their lifecycle and timeline."""
