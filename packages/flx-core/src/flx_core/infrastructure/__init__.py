"""Adapters of the core ports."""
