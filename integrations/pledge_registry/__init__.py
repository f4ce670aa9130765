"""The movable-property pledge registry: the HTTP client (``client.py``) and a sandbox
registry speaking the same protocol (``sandbox.py``). Protocol in ``integrations/README.md``."""

from integrations.pledge_registry.client import HttpPledgeRegistry, pledge_registry

__all__ = ["HttpPledgeRegistry", "pledge_registry"]
