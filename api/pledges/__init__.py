"""GraphQL of pledges of warehouse receipts."""
