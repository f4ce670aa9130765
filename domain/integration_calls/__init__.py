"""Calls to outside providers a deal needs (bureau, identity, valuation), each a row with its
state and next attempt: the database is the queue of record, the broker only the doorbell."""
