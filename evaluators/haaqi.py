"""HAAQI (Kates and Arehart's Hearing-Aid Audio Quality Index).

Backends: ``pyclarity`` (the official implementation, the reference for parity) and, to
come, ``fast`` (vectorised numpy) and ``torch``. Every backend takes the same arguments.

``seed`` controls the ear model's added noise without touching numpy's global state:
an int, or a ``numpy.random.RandomState`` whose stream is consumed (so scoring the left and
then the right ear with one RandomState draws exactly what the official recipes draw after
``np.random.seed(...)``).
"""

from __future__ import annotations

import contextlib

import numpy as np

BACKENDS = ("pyclarity",)


@contextlib.contextmanager
def _global_rng(seed):
    """Run pyclarity's global-RNG code with `seed`'s stream, then restore the global state."""
    if seed is None:
        yield
        return
    saved = np.random.get_state()
    state = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(int(seed))
    np.random.set_state(state.get_state())
    try:
        yield
    finally:
        state.set_state(np.random.get_state())
        np.random.set_state(saved)


def compute_haaqi(
    processed: np.ndarray,
    reference: np.ndarray,
    processed_sample_rate: float,
    reference_sample_rate: float,
    audiogram,
    equalisation: int = 1,
    level1: float = 65.0,
    seed=None,
    backend: str = "pyclarity",
) -> float:
    """HAAQI of one ear. `audiogram` is a ``clarity.utils.audiogram.Audiogram``."""
    if backend != "pyclarity":
        raise ValueError(f"unknown HAAQI backend {backend!r}; choose one of {BACKENDS}")
    from clarity.evaluator.haaqi import compute_haaqi as reference_haaqi

    with _global_rng(seed):
        return float(
            reference_haaqi(
                processed_signal=processed,
                reference_signal=reference,
                processed_sample_rate=processed_sample_rate,
                reference_sample_rate=reference_sample_rate,
                audiogram=audiogram,
                equalisation=equalisation,
                level1=level1,
            )
        )
