"""Triage pages: taxonomy."""
