"""Feature pages: tree."""
