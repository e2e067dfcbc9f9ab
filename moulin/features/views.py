"""Feature pages."""
