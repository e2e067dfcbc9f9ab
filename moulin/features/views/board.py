"""Feature pages: board."""
