"""Built-in systems. Importing this package registers them (see harness.systems)."""

from baselines import centre, ensemble, oracle, predictors, separators, transient  # noqa: F401  (registration)
