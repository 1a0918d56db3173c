"""Dagster resources: thin ConfigurableResources around the platform's backends."""
