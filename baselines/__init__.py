"""Built-in systems. Importing this package registers them (see harness.systems)."""
