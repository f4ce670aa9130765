"""Collateral valuation: the commodity price-feed HTTP client (``client.py``) and a sandbox
feed speaking the same protocol (``sandbox.py``)."""
