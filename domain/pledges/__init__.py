"""Pledges of warehouse receipts: registered at the pledge registry, confirmed by the
warehouse, released by the funder (migration 0022)."""
