"""GraphQL for supply-chain assets: purchase orders, warehouse receipts and documents."""
