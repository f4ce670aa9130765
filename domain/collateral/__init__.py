"""Supply-chain assets that back financing: purchase orders, warehouse receipts, the claims
deals put on receipts, and documents."""
