"""Risk data about a deal's applicant and collateral: credit reports, identity verification
and collateral prices. The ports (``ports.py``) say what the domain asks of the outside and
what it gets back; adapters in ``integrations/`` answer them. Nothing here knows which provider
answers."""
