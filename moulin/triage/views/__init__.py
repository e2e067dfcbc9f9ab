"""Triage pages, one module per area."""
