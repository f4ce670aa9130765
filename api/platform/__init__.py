"""The platform operator's views across funders."""
