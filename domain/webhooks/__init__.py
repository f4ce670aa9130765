"""Inbound provider callbacks: the inbox that applies each event once (``models``,
``repository``), the use case that claims and applies an event (``service``) and the registry
of what each event type does (``handlers``)."""
