"""Rational-factor resampling shared by the evaluators (and the demo data)."""

from __future__ import annotations

import math

import numpy as np


def resample(x: np.ndarray, rate: int, new_rate: int, axis: int = 0) -> np.ndarray:
    """``x`` at ``rate`` Hz resampled to ``new_rate`` Hz with ``scipy.signal.resample_poly``
    (polyphase, exact rational factor); float64, or ``x`` as float64 when the rates match."""
    from scipy.signal import resample_poly

    rate, new_rate = int(rate), int(new_rate)
    if rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {rate} -> {new_rate}")
    x = np.asarray(x, dtype=float)
    if rate == new_rate:
        return x
    g = math.gcd(rate, new_rate)
    return resample_poly(x, new_rate // g, rate // g, axis=axis)
