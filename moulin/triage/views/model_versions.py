"""Triage pages: model_versions."""
