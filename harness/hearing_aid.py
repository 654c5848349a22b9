"""The hearing-aid chain of the Cadenza enhancement tasks, as the official recipes run it.

``FixedHearingAid`` is the other one: CAD1 task 2's evaluation passes what reaches each ear
through a fixed hearing aid, NAL-R then pyclarity's single-band RMS compressor.

Per-stem gains are LUFS-relative (pyloudnorm integrated loudness, -inf read as -80 LUFS),
stems are summed, the level is adjusted for the average gain, and each ear goes through the
listener's multiband compressor (pyclarity's, with its per-sample loop compiled: see
harness/compressor.py; the recipe's crossovers, attack, release and threshold, and the
listener's ratio and make-up gain per band).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pyloudnorm as pyln
from clarity.enhancer.compressor import Compressor
from clarity.enhancer.nalr import NALR
from clarity.utils.audiogram import Audiogram

from harness.compressor import FastMultibandCompressor
from harness.data import Listener
from harness.errors import InputError

EARS = ("left", "right")


@lru_cache(maxsize=8)
def _meter(sample_rate: int) -> pyln.Meter:
    return pyln.Meter(int(sample_rate))


def loudness(signal: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS; silence (or a signal too short to gate) reads -80 as upstream."""
    lufs = _meter(sample_rate).integrated_loudness(signal)
    return -80.0 if lufs == -np.inf else float(lufs)


def normalise_loudness(signal: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Possible clipped samples in output")
        return pyln.normalize.loudness(signal, loudness(signal, sample_rate), target_lufs)


def apply_gains(stems: dict[str, np.ndarray], sample_rate: int, gains_db: dict[str, float]) -> dict[str, np.ndarray]:
    """Each stem brought to (its own loudness + its gain in dB)."""
    out = {}
    for name, stem in stems.items():
        if name not in gains_db:
            raise InputError(name, f"no gain for stem {name!r}; gains are given for {sorted(gains_db)}")
        out[name] = normalise_loudness(stem, sample_rate, loudness(stem, sample_rate) + gains_db[name])
    return out


def remix(stems: dict[str, np.ndarray]) -> np.ndarray:
    shapes = {s.shape for s in stems.values()}
    if len(shapes) != 1:
        raise InputError("remix", f"stems differ in shape: {sorted(shapes)}")
    return np.sum(list(stems.values()), axis=0)


def adjust_level(signal: np.ndarray, gains_db) -> np.ndarray:
    """Compensate the average power change of the gains (official `adjust_level`)."""
    dbi = np.asarray(list(gains_db), dtype=float)
    dbn = -10 * np.log10(np.sum(10 ** (dbi / 10)) / dbi.shape[0])
    return signal * 10 ** (dbn / 20)


class HearingAid:
    """Per-ear multiband compressor with the recipe's settings and the listener's fitting."""

    def __init__(self, sample_rate: int, crossover_frequencies, attack, release, threshold):
        self.sample_rate = int(sample_rate)
        self.settings = dict(attack=list(attack), release=list(release), threshold=list(threshold))
        self.compressor = FastMultibandCompressor(
            crossover_frequencies=list(crossover_frequencies), sample_rate=self.sample_rate
        )

    @classmethod
    def from_config(cls, cfg, sample_rate: int) -> "HearingAid":
        return cls(sample_rate, cfg.crossover_frequencies, cfg.attack, cfg.release, cfg.threshold)

    def ear(self, signal: np.ndarray, listener: Listener, ear: str) -> np.ndarray:
        fitting = listener.fitting(ear)
        if fitting is None:
            raise InputError(f"listener {listener.id}", "has no compressor parameters (ratio, make-up gain)")
        self.compressor.set_compressors(
            **self.settings, ratio=list(fitting.ratio), makeup_gain=list(fitting.makeup_gain)
        )
        return self.compressor(signal)[0]

    def __call__(self, signal: np.ndarray, listener: Listener) -> np.ndarray:
        """(n, 2) in, (n, 2) out: left channel with the left fitting, right with the right."""
        return np.stack([self.ear(signal[:, i], listener, ear) for i, ear in enumerate(EARS)], axis=1)


class FixedHearingAid:
    """NAL-R then a single-band compressor, per ear, as pyclarity's
    ``recipes/cad1/task2/baseline/car_scene_acoustics.py`` (``apply_hearing_aid``) runs them:
    ``NALR(nfir, sample_rate).build(audiogram)``, ``np.convolve`` (the output is `nfir`
    samples longer than the input), then ``clarity.enhancer.compressor.Compressor(**compressor)``
    (threshold and attenuation on a running RMS, attack and release in ms)."""

    def __init__(self, sample_rate: int, nfir: int, compressor: dict):
        self.sample_rate = int(sample_rate)
        self.nalr = NALR(int(nfir), self.sample_rate)
        self.compressor = Compressor(fs=self.sample_rate, **dict(compressor))

    def ear(self, signal: np.ndarray, audiogram: Audiogram) -> np.ndarray:
        """(n,) in, (n + nfir,) out."""
        fir, _ = self.nalr.build(audiogram)
        return self.compressor.process(self.nalr.apply(fir, signal))[0]

    def __call__(self, signal: np.ndarray, listener: Listener) -> np.ndarray:
        """(n, 2) in, (n + nfir, 2) out: each channel with its ear's audiogram."""
        return np.stack([self.ear(signal[:, i], getattr(listener, f"audiogram_{ear}")) for i, ear in enumerate(EARS)], axis=1)
