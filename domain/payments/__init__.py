"""Money moved by a payment rail: payouts (disbursements) to a beneficiary's bank account and
their asynchronous settlement. The port (``ports.py``) says what the domain asks of a rail and
what comes back, by answer and by callback; adapters in ``integrations/payments/`` answer it.
Nothing here knows which rail answers."""
