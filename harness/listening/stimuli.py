"""The signals of one MUSHRA trial (ITU-R BS.1534-3, "Method for the subjective assessment of
intermediate quality level of audio systems", 2015).

A trial has the open reference, the same signal as a hidden reference, the mandatory low-pass
anchor (the reference low-passed at 3.5 kHz, section 5.1 of the recommendation) and one
condition per system. Every stimulus of a trial is stereo at one sample rate, of one length
(the shortest, at most `max_seconds`), and loudness-matched: each is brought to `target_lufs`
integrated loudness (ITU-R BS.1770 via pyloudnorm), then the whole trial is lowered by one
common gain if any sample would exceed full scale, so the stimuli stay matched.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyloudnorm as pyln
from scipy.signal import butter, sosfiltfilt

from evaluators.resample import resample

ANCHOR_HZ = 3500.0
ANCHOR_ORDER = 8  # Butterworth, applied forwards and backwards (zero phase, 16th-order slope)
PEAK = 0.999  # full scale the trial may reach after loudness matching


def low_pass_anchor(signal: np.ndarray, sample_rate: int, cutoff_hz: float = ANCHOR_HZ) -> np.ndarray:
    """`signal` (n, channels) low-passed at `cutoff_hz` (zero-phase Butterworth)."""
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"anchor cutoff {cutoff_hz} Hz must lie below the Nyquist frequency {sample_rate / 2} Hz")
    sos = butter(ANCHOR_ORDER, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, np.asarray(signal, dtype=np.float64), axis=0)


def loudness_matched(signals: dict[str, np.ndarray], sample_rate: int, target_lufs: float) -> tuple[dict, float]:
    """Each signal at `target_lufs` (silent ones unchanged), then one common gain (<= 0 dB) so
    that no sample exceeds PEAK; returns (signals, that common gain in dB)."""
    meter = pyln.Meter(sample_rate)
    out = {}
    for name, x in signals.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            level = meter.integrated_loudness(x)
        out[name] = x * 10 ** ((target_lufs - level) / 20) if np.isfinite(level) else x.copy()
    peak = max(float(np.max(np.abs(x))) for x in out.values()) if out else 0.0
    gain = min(1.0, PEAK / peak) if peak > 0 else 1.0
    return {k: v * gain for k, v in out.items()}, float(20 * np.log10(gain))


def trial(reference: tuple[np.ndarray, int], conditions: dict[str, tuple[np.ndarray, int]], sample_rate: int,
          max_seconds: float, target_lufs: float) -> tuple[dict[str, np.ndarray], float]:
    """The trial's stimuli at `sample_rate`: "reference", "anchor35" and each condition, all
    stereo, of one length, loudness-matched; returns (stimuli, common gain in dB)."""
    def prepared(signal, rate):
        x = np.asarray(signal, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x
        x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x
        return resample(x, int(rate), int(sample_rate))

    signals = {"reference": prepared(*reference), **{k: prepared(*v) for k, v in conditions.items()}}
    n = min(min(len(x) for x in signals.values()), int(round(max_seconds * sample_rate)))
    signals = {k: v[:n] for k, v in signals.items()}
    signals["anchor35"] = low_pass_anchor(signals["reference"], sample_rate)
    return loudness_matched(signals, sample_rate, target_lufs)
