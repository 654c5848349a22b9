"""The project's resampler, along time (axis 0).

Two methods, one entry point:

* ``soxr`` (default): soxr "HQ", as pyclarity's ``clarity.utils.signal_processing.resample``
  does, so signals match the official recipes' (the hearing-aid chain, HAAQI, Whisper, STOI);
* ``polyphase``: scipy's ``resample_poly`` at the exact rational ratio, float32 out; what
  the trained separators use between the mixture's rate and their models' rate (their
  checkpoints were trained through it, so it stays theirs).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.signal
import soxr

METHODS = ("soxr", "polyphase")


def resample(x: np.ndarray, rate: int, new_rate: int, method: str = "soxr") -> np.ndarray:
    """``x`` ((n,) or (n, channels)) from ``rate`` to ``new_rate`` Hz.

    ``soxr``: same dtype, ``x`` itself when the rates match. ``polyphase``: float32 (``x``
    as float32 when the rates match)."""
    if rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {rate} -> {new_rate}")
    if method == "polyphase":
        if rate == new_rate:
            return np.asarray(x, dtype=np.float32)
        ratio = Fraction(int(new_rate), int(rate))
        return scipy.signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
    if method != "soxr":
        raise ValueError(f"unknown resampling method {method!r}; choose one of {METHODS}")
    if rate == new_rate:
        return x
    return soxr.resample(x, rate, new_rate, quality="HQ")

