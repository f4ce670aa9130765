"""GraphQL of the operator's working-day calendars."""
