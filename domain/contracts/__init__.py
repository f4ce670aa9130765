"""Loan contracts: the approved terms a contract is written from, and rendering them."""
