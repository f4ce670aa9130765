"""GraphQL API of contracts: preparing an approved deal's contract, and reading it through its
deal (``Deal.contract``)."""
