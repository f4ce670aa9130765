"""Contracts a deal is signed under. The e-signature port (``esign_ports.py``) says what the
domain asks of an e-contract service (an envelope of one document, signed by the deal's parties
in order) and what it hears back (the envelope's state, and the events the service announces);
adapters in ``integrations/esign/`` answer it. Nothing here knows which service answers."""
