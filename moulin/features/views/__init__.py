"""Feature pages, one module per area."""
