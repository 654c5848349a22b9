"""Deterministic test signals for the HAAQI tests (music-like, noise, silences, distortions)."""

from __future__ import annotations

import numpy as np
from clarity.utils.audiogram import Audiogram
from scipy.signal import butter, lfilter

FREQUENCIES = np.array([250, 500, 1000, 2000, 4000, 6000])
AUDIOGRAMS = {
    "normal": [0, 0, 0, 0, 0, 0],
    "mild": [10, 15, 20, 30, 40, 45],
    "moderate": [30, 35, 45, 55, 60, 65],
    "severe": [60, 65, 70, 80, 85, 90],
    "sloping": [5, 10, 30, 60, 80, 100],
}


def audiogram(name: str) -> Audiogram:
    return Audiogram(levels=np.array(AUDIOGRAMS[name], dtype=float), frequencies=FREQUENCIES)


def music(duration: float, rate: float, seed: int = 0) -> np.ndarray:
    """Chords of harmonic tones with slow amplitude modulation and a little noise."""
    rng = np.random.RandomState(seed)
    t = np.arange(int(duration * rate)) / rate
    x = np.zeros_like(t)
    for f0 in rng.choice([110.0, 146.8, 196.0, 261.6, 329.6, 440.0], size=4, replace=False):
        for h in range(1, 7):
            if f0 * h < rate / 2:
                am = 1 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.5, 6) * t + rng.uniform(0, 6))
                x += (0.3 / h) * am * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6))
    x += 0.02 * rng.randn(len(t))
    return 0.1 * x / np.std(x)


def noise(duration: float, rate: float, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return 0.05 * rng.randn(int(duration * rate))


def with_silence(x: np.ndarray, rate: float, start: float, stop: float) -> np.ndarray:
    y = x.copy()
    y[int(start * rate):int(stop * rate)] = 0.0
    return y


def distort(x: np.ndarray, rate: float, kind: str, seed: int = 1) -> np.ndarray:
    rng = np.random.RandomState(seed)
    if kind == "identical":
        return x.copy()
    if kind == "near":  # tiny additive noise
        return x + 1e-4 * rng.randn(len(x))
    if kind == "delay_gain":  # 5 ms later, 3 dB quieter
        return 0.7 * np.concatenate([np.zeros(int(0.005 * rate)), x])[: len(x)]
    if kind == "lowpass":
        b, a = butter(4, 1500 / (rate / 2))
        return lfilter(b, a, x)
    if kind == "clip":
        limit = 0.3 * np.max(np.abs(x))
        return np.clip(x, -limit, limit) * 2
    if kind == "noisy":  # 0 dB SNR white noise
        return x + np.std(x) * rng.randn(len(x))
    if kind == "tremolo":
        t = np.arange(len(x)) / rate
        return x * (1 + 0.9 * np.sin(2 * np.pi * 13 * t))
    if kind == "unrelated":
        return 0.1 * rng.randn(len(x))
    raise ValueError(kind)
