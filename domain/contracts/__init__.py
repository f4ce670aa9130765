"""Contracts a deal is signed under: the approved terms a contract is written from and
rendering them (``terms.py``, ``rendering.py``), and the e-signature port (``esign_ports.py``):
what the domain asks of an e-contract service (an envelope of one document, signed by the
deal's parties in order) and what it hears back. Adapters in ``integrations/`` answer them."""
