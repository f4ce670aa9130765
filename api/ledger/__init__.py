"""GraphQL of the funder's books."""
