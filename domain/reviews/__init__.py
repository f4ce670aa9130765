"""Reviews of deals: the first and the second review (four eyes) and the approvals they make."""
