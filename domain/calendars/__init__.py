"""Working-day calendars the platform operator keeps: official holidays and make-up working
days per year, which win over the packaged calendar."""
