"""Deals: applications, their submission and the deals each principal sees."""
