"""Pure domain logic: importable and testable without AWS."""
