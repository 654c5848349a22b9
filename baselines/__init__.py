"""Built-in systems. Importing this package registers them (``harness.systems.register``);
the harness finds it through this project's entry point ``builtins = "baselines"`` in the
group ``cadenza_harness.systems``, as it finds any outside package's systems."""

from baselines import (  # noqa: F401  (registration)
    bilstm_mask,
    centre,
    clip2,
    codec,
    convtasnet_vocals,
    ensemble,
    msanii,
    msg,
    oracle,
    predictors,
    separators,
    transient,
    umx4,
    unet_mask,
)
