"""GraphQL types of a deal's risk data."""
