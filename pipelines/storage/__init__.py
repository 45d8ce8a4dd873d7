"""Storage primitives: settings, downloads, landing, atomic publication, locks, reuse.

No Dagster and no domain logic here; :mod:`pipelines.storage.store` owns the on-disk layout."""
