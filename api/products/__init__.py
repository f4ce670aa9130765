"""GraphQL of products and the marketplace."""
