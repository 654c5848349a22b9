"""The one resampler of the project: soxr "HQ" along time (axis 0), as pyclarity's
``clarity.utils.signal_processing.resample`` does, so signals match the official recipes'."""

from __future__ import annotations

import numpy as np
import soxr


def resample(x: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """``x`` ((n,) or (n, channels)) from ``rate`` to ``new_rate`` Hz; same dtype; ``x`` itself when the rates match."""
    if rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {rate} -> {new_rate}")
    if rate == new_rate:
        return x
    return soxr.resample(x, rate, new_rate, quality="HQ")
