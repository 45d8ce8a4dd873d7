"""Shared Dagster wiring: the factories every domain's assets are declared with."""
