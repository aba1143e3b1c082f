"""Use cases, one per function: they compose the pure domain with the adapters."""
