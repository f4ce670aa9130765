"""GraphQL of a funder's commodity prices."""
