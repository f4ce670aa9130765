"""Payouts: the disbursement of a signed deal over the payment rail."""
