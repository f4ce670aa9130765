"""Credit bureau: the HTTP client (``client.py``) of the bureau protocol described in
``integrations/README.md``, and a sandbox bureau speaking it (``sandbox.py``)."""
