"""Scoring steps shared by the enhancement tasks."""

from __future__ import annotations

import numpy as np
from clarity.utils.signal_processing import compute_rms

from evaluators.haaqi import compute_haaqi
from harness.audio import resample
from harness.hearing_aid import EARS
from harness.data import Listener


def haaqi_ears(processed: np.ndarray, processed_rate: int, reference: np.ndarray, reference_rate: int,
               level_reference: np.ndarray | None, listener: Listener, cfg, rng,
               level1: float | None = None) -> dict[str, float]:
    """HAAQI of each ear at the recipe's HAAQI rate, as the Cadenza recipes compute it.

    level1 = 65 - 20 log10(rms) of `level_reference`'s channel (0 dBFS = 100 dB SPL would be
    level1 65 at an RMS of 1). `rng` (a legacy RandomState seeded from the scene, or None) is
    consumed left ear first, then right, exactly as one `np.random.seed` before both.
    A fixed `level1` (dB SPL of an RMS of 1; CAD1 task 2 keeps HAAQI's default 65) replaces the
    level from `level_reference`, which may then be None.
    """
    rate = int(cfg.HAAQI_sample_rate)
    scores = {}
    for i, ear in enumerate(EARS):
        scores[ear] = compute_haaqi(
            resample(processed[:, i], processed_rate, rate),
            resample(reference[:, i], reference_rate, rate),
            rate,
            rate,
            listener.audiogram(ear),
            equalisation=int(cfg.evaluate.equalisation),
            level1=level1 if level1 is not None else 65 - 20 * np.log10(compute_rms(level_reference[:, i])),
            seed=rng,
            backend=cfg.evaluate.haaqi.backend,
        )
    return scores
