"""GraphQL API of deal reviews: the reviews of a deal, the queues and the decisions."""
