"""E-signature (e-contract envelopes signed in order, with callbacks): the HTTP client
(``client.py``), a sandbox service speaking the same protocol that signs by itself and calls
back (``sandbox.py``), and the verification of its callbacks (``callbacks.py``), which the
webhook endpoint uses. Protocol in ``integrations/README.md``."""

from integrations.esign.callbacks import (
    BadSignature,
    CallbackRefused,
    MalformedCallback,
    StaleTimestamp,
    verify_callback,
)
from integrations.esign.client import HttpESignature, esignature_from_settings

__all__ = [
    "BadSignature",
    "CallbackRefused",
    "HttpESignature",
    "MalformedCallback",
    "StaleTimestamp",
    "esignature_from_settings",
    "verify_callback",
]
