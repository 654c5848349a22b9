"""Built-in systems. Importing this package registers them (see harness.systems)."""

from baselines import ensemble, separators  # noqa: F401  (register convtasnet, waveunet, arunet, ensemble)
