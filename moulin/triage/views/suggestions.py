"""Triage pages: suggestions."""
