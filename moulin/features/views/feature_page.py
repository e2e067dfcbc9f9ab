"""Feature pages: feature_page."""
