"""Identity verification (resident ID, name, liveness): the HTTP client (``client.py``) and a
sandbox verifier speaking the same protocol (``sandbox.py``)."""
