"""The hearing-aid chain of the Cadenza enhancement tasks, as the official recipes run it.

``FixedHearingAid`` is the other one: CAD1 task 2's evaluation passes what reaches each ear
through a fixed hearing aid, NAL-R then pyclarity's single-band RMS compressor.

Per-stem gains are LUFS-relative (pyloudnorm integrated loudness, -inf read as -80 LUFS),
stems are summed, the level is adjusted for the average gain, and each ear goes through the
listener's multiband compressor (pyclarity's, with its per-sample loop compiled: see
harness/compressor.py; the recipe's crossovers, attack, release and threshold, and the
listener's ratio and make-up gain per band), or, where the official config turns the
compressor off (CAD1 task 1, ICASSP 2024), through the listener's NAL-R filter (`NalR`),
after the remix is brought to the mixture's loudness (`match_loudness`).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pyloudnorm as pyln

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


def match_loudness(signal: np.ndarray, reference: np.ndarray, sample_rate: int) -> np.ndarray:
    """`signal` brought to the integrated loudness of `reference` (pyclarity's
    ``level_normalisation``, ``recipes/cad_icassp_2024/baseline/evaluate.py``, with its
    arithmetic: target = own loudness + (reference - own), so results are bit-identical)."""
    own = loudness(signal, sample_rate)
    return normalise_loudness(signal, sample_rate, own + (loudness(reference, sample_rate) - own))


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


class NalR:
    """Per-ear NAL-R prescription (Byrne and Dillon 1986) as pyclarity's ``NALR`` builds and
    applies it (``clarity/enhancer/nalr.py``): a linear-phase FIR of `nfir` taps per ear from
    the listener's audiogram, applied by full convolution, so the output is `nfir` samples
    longer than the input (delay ``nfir // 2``). The compressor of the official CAD1 and
    ICASSP 2024 configs is off (``apply_compressor: False``), so this is their whole hearing aid."""

    def __init__(self, nfir: int, sample_rate: int):
        from clarity.enhancer.nalr import NALR

        self.nfir = int(nfir)
        self.sample_rate = int(sample_rate)
        self._nalr = NALR(self.nfir, self.sample_rate)

    def ear(self, signal: np.ndarray, listener: Listener, ear: str) -> np.ndarray:
        """(n,) in, (n + nfir,) float64 out, with the FIR of the listener's `ear` audiogram."""
        fir, _ = self._nalr.build(getattr(listener, f"audiogram_{ear}"))
        return self._nalr.apply(fir, signal)

    def __call__(self, signal: np.ndarray, listener: Listener) -> np.ndarray:
        """(n, 2) in, (n + nfir, 2) out: left channel with the left audiogram, right with the right."""
        return np.stack([self.ear(signal[:, i], listener, ear) for i, ear in enumerate(EARS)], axis=1)


class FixedHearingAid:
    """NAL-R then a single-band compressor, per ear, as pyclarity's
    ``recipes/cad1/task2/baseline/car_scene_acoustics.py`` (``apply_hearing_aid``) runs them:
    the listener's `NalR` filter (the output is `nfir` samples longer than the input), then
    ``clarity.enhancer.compressor.Compressor(**compressor)`` (threshold and attenuation on a
    running RMS, attack and release in ms)."""

    def __init__(self, sample_rate: int, nfir: int, compressor: dict):
        from clarity.enhancer.compressor import Compressor

        self.sample_rate = int(sample_rate)
        self.nalr = NalR(nfir, self.sample_rate)
        self.compressor = Compressor(fs=self.sample_rate, **dict(compressor))

    def ear(self, signal: np.ndarray, listener: Listener, ear: str) -> np.ndarray:
        """(n,) in, (n + nfir,) out."""
        return self.compressor.process(self.nalr.ear(signal, listener, ear))[0]

    def __call__(self, signal: np.ndarray, listener: Listener) -> np.ndarray:
        """(n, 2) in, (n + nfir, 2) out: each channel with its ear's audiogram."""
        return np.stack([self.ear(signal[:, i], listener, ear) for i, ear in enumerate(EARS)], axis=1)
