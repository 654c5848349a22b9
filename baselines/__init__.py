"""Built-in systems. Importing this package registers them (``harness.systems.register``);
the harness finds it through this project's entry point ``builtins = "baselines"`` in the
group ``cadenza_harness.systems``, as it finds any outside package's systems."""

from baselines import centre, clip2, ensemble, oracle, predictors, separators, transient, umx4  # noqa: F401  (registration)
from baselines import msanii  # noqa: F401  (registration: the msanii post-processor)
