"""Demo listeners in the official JSON formats: audiograms and compressor fittings.

Audiograms are at the eight standard frequencies (``AUDIOGRAM_CFS``), dB HL. Two ways to draw
them, one per kind of demo set:

* ``make_listeners`` (CAD2 task 2): sloping high-frequency losses from mild to severe
  (``SEVERITIES``), cycled through, shifted by U(-5, 5) dB per listener and jittered by
  N(0, 3^2) dB per frequency and ear, within 0..110 dB HL;
* ``template_listener`` (the lyric sets): one of ``LISTENER_TEMPLATES`` (no loss to
  moderately severe) with -5, 0 or +5 dB per frequency and ear, within 0..90 dB HL.

The compressor fitting (``fitting``) stands in for the CAMFIT tables the organisers used
(which need the GHA tool chain): at each band centre of the six-band compressor, with the
audiogram interpolated on a log-frequency axis, make-up gain = ``gain_fraction`` x loss
(capped at 24 dB, the compressor's range) and ratio = 1 + max(loss - ``ratio_knee``, 0) /
``ratio_span`` (capped at 3). The two demo kinds use the two rules below, as they were
first published with their data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIOGRAM_CFS = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]
BAND_CENTRES = [250, 500, 1000, 2000, 4000, 8000]  # between the crossovers [250..4000] x sqrt(2)
SEVERITIES = {
    "mild": [10, 15, 20, 30, 35, 40, 45, 50],
    "moderate": [25, 30, 35, 45, 50, 55, 60, 65],
    "moderately_severe": [35, 40, 50, 60, 65, 70, 75, 80],
    "severe": [50, 55, 65, 75, 80, 85, 90, 95],
}
# name -> (severity label, left levels, right levels) at AUDIOGRAM_CFS, dB HL
LISTENER_TEMPLATES = {
    "normal": ("No Loss", [5, 5, 5, 10, 10, 10, 15, 15], [5, 5, 10, 10, 10, 15, 15, 20]),
    "mild": ("Mild", [10, 10, 15, 20, 25, 30, 35, 40], [10, 15, 15, 25, 30, 30, 40, 40]),
    "moderate": ("Moderate", [25, 30, 35, 45, 50, 55, 60, 65], [20, 30, 40, 45, 55, 55, 65, 65]),
    "severe": ("Moderately Severe", [40, 45, 55, 60, 65, 70, 75, 80], [45, 50, 55, 65, 70, 70, 80, 80]),
}


@dataclass(frozen=True)
class FittingRule:
    gain_fraction: float
    ratio_knee: float  # dB HL below which the ratio stays 1
    ratio_span: float  # dB HL of loss above the knee per unit of ratio
    ratio_decimals: int
    max_gain: float = 24.0
    max_ratio: float = 3.0


SCENE_RULE = FittingRule(gain_fraction=0.45, ratio_knee=0.0, ratio_span=60.0, ratio_decimals=3)  # CAD2 task 2 demo
LYRIC_RULE = FittingRule(gain_fraction=0.5, ratio_knee=20.0, ratio_span=40.0, ratio_decimals=2)  # lyric demos


def interp_log(levels, cfs, at) -> np.ndarray:
    """Audiogram `levels` at `cfs` read at the frequencies `at` (log-frequency axis, flat beyond the ends)."""
    return np.interp(np.log(at), np.log(cfs), np.asarray(levels, float))


def fitting(levels, rule: FittingRule) -> dict[str, list[float]]:
    """Compression ratios ``cr`` and make-up gains ``gain`` (dB) of one ear's six bands."""
    loss = interp_log(levels, AUDIOGRAM_CFS, BAND_CENTRES)
    return {
        "cr": [round(float(min(1 + max(h - rule.ratio_knee, 0) / rule.ratio_span, rule.max_ratio)), rule.ratio_decimals)
               for h in loss],
        "gain": [round(float(min(rule.gain_fraction * max(h, 0), rule.max_gain)), 2) for h in loss],
    }


def compressor_params(levels_l, levels_r, rule: FittingRule) -> dict[str, list[float]]:
    """``compressor_params.<split>.json``'s entry: ``cr_l, cr_r, gain_l, gain_r``."""
    left, right = fitting(levels_l, rule), fitting(levels_r, rule)
    return {"cr_l": left["cr"], "cr_r": right["cr"], "gain_l": left["gain"], "gain_r": right["gain"]}


def listener_record(name: str, levels_l, levels_r) -> dict:
    """``listeners.<split>.json``'s entry."""
    return {
        "name": name,
        "audiogram_cfs": list(AUDIOGRAM_CFS),
        "audiogram_levels_l": [float(v) for v in levels_l],
        "audiogram_levels_r": [float(v) for v in levels_r],
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
        listeners[lid] = listener_record(lid, left, right)
        params[lid] = compressor_params(left, right, SCENE_RULE)
    return listeners, params


def template_listener(template: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) audiograms: the template with -5, 0 or +5 dB per frequency and ear, within 0..90 dB HL."""
    _, left, right = LISTENER_TEMPLATES[template]
    aud_l = np.clip(np.asarray(left) + rng.integers(-1, 2, 8) * 5, 0, 90)
    aud_r = np.clip(np.asarray(right) + rng.integers(-1, 2, 8) * 5, 0, 90)
    return aud_l, aud_r
