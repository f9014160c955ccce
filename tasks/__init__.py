"""Prefect tasks: one per stage of the sync, each a thin typed wrapper over the domain package."""
