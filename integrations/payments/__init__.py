"""Payment rail: the HTTP client (``client.py``) of the payout protocol described in
``integrations/README.md``, a sandbox rail speaking it that settles payouts later by signed
callback (``sandbox.py``), and the signing and verification of those callbacks
(``callbacks.py``)."""
