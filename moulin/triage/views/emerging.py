"""Triage pages: emerging."""
