"""A funder's own commodity prices, which collateral valuations prefer to a price feed's."""
