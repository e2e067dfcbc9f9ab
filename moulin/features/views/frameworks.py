"""Feature pages: frameworks."""
