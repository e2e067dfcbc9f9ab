"""Triage pages: similar."""
