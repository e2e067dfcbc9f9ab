"""Triage pages."""
