"""Built-in systems. Importing this package registers them (see harness.systems)."""

from baselines import oracle  # noqa: F401  (registers oracle, mixture)
from baselines import centre  # noqa: F401,E402
from baselines import predictors  # noqa: F401,E402
from baselines import transient  # noqa: F401,E402
