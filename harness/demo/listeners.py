"""Demo listeners from mild to severe loss, in the official JSON formats.

Audiograms are sloping high-frequency losses at the eight standard frequencies, jittered per
listener and per ear. The compressor fitting is a documented stand-in for the CAMFIT tables the
organisers used (which need the GHA tool chain): at each band centre of the six-band
compressor, make-up gain = 0.45 x hearing loss (a half-gain rule, capped at 24 dB, the
compressor's range) and ratio = 1 + loss / 60 (capped at 3).
"""

from __future__ import annotations

import numpy as np

AUDIOGRAM_CFS = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]
BAND_CENTRES = [250, 500, 1000, 2000, 4000, 8000]  # between the crossovers [250..4000] x sqrt(2)
SEVERITIES = {
    "mild": [10, 15, 20, 30, 35, 40, 45, 50],
    "moderate": [25, 30, 35, 45, 50, 55, 60, 65],
    "moderately_severe": [35, 40, 50, 60, 65, 70, 75, 80],
    "severe": [50, 55, 65, 75, 80, 85, 90, 95],
}


def fitting(levels) -> dict[str, list[float]]:
    loss = np.interp(np.log(BAND_CENTRES), np.log(AUDIOGRAM_CFS), np.asarray(levels, float))
    return {
        "cr": [round(float(x), 3) for x in np.minimum(3.0, 1 + loss / 60)],
        "gain": [round(float(x), 2) for x in np.minimum(24.0, 0.45 * loss)],
    }


def make_listeners(rng: np.random.Generator, prefix: str, count: int) -> tuple[dict, dict]:
    """`count` listeners cycling through the severities: (listeners json, compressor params json)."""
    listeners, params = {}, {}
    names = list(SEVERITIES)
    for i in range(count):
        lid = f"{prefix}{i + 1:03d}"
        base = np.asarray(SEVERITIES[names[i % len(names)]], float) + rng.uniform(-5, 5)
        left = np.clip(base + rng.normal(0, 3, len(base)), 0, 110).round()
        right = np.clip(base + rng.normal(0, 3, len(base)), 0, 110).round()
        listeners[lid] = {
            "name": lid,
            "audiogram_cfs": AUDIOGRAM_CFS,
            "audiogram_levels_l": left.tolist(),
            "audiogram_levels_r": right.tolist(),
        }
        fl, fr = fitting(left), fitting(right)
        params[lid] = {"cr_l": fl["cr"], "cr_r": fr["cr"], "gain_l": fl["gain"], "gain_r": fr["gain"]}
    return listeners, params
