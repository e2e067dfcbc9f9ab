"""Triage pages: insights."""
