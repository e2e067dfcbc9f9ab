"""Feature pages: why."""
