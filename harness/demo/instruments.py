"""Additive-synthesis models of the eight CAD2 instruments.

Not realistic instruments, but they differ where the real ones differ, so separating them is
a real task: register (pitch range), spectral envelope (tilt and formants), odd/even harmonic
balance (clarinet), breath or bow noise, attack and release, and vibrato.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timbre:
    low_hz: float  # register
    high_hz: float
    tilt: float  # harmonic amplitude ~ n ** -tilt
    formants: tuple[tuple[float, float, float], ...]  # (centre Hz, bandwidth Hz, gain)
    even_gain: float  # even harmonics scaled by this (clarinet ~0.1)
    noise: float  # breath/bow noise relative level
    attack: float  # seconds
    release: float
    vibrato_hz: float
    vibrato_depth: float  # fraction of f0


TIMBRES = {
    "Bassoon": Timbre(58, 520, 0.9, ((480, 180, 4.0), (1150, 300, 1.5)), 1.0, 0.02, 0.04, 0.06, 4.5, 0.002),
    "Cello": Timbre(65, 700, 1.1, ((300, 200, 2.0), (2500, 800, 0.7)), 1.0, 0.03, 0.08, 0.15, 5.0, 0.006),
    "Clarinet": Timbre(147, 1400, 0.8, ((1500, 600, 1.2),), 0.12, 0.015, 0.03, 0.05, 0.0, 0.0),
    "Flute": Timbre(262, 2000, 2.2, ((800, 600, 1.0),), 1.0, 0.08, 0.06, 0.08, 5.0, 0.008),
    "Oboe": Timbre(233, 1500, 0.6, ((1100, 250, 4.0), (2900, 500, 2.0)), 1.0, 0.02, 0.03, 0.05, 5.5, 0.004),
    "Sax": Timbre(139, 880, 0.7, ((600, 250, 3.0), (1600, 400, 2.0)), 1.0, 0.04, 0.03, 0.06, 5.0, 0.007),
    "Viola": Timbre(131, 1100, 1.0, ((400, 250, 2.0), (1600, 500, 1.2)), 1.0, 0.03, 0.07, 0.12, 5.5, 0.006),
    "Violin": Timbre(196, 1760, 0.9, ((550, 250, 1.5), (2800, 700, 2.0)), 1.0, 0.03, 0.06, 0.10, 6.0, 0.006),
}

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


def _harmonic_weights(timbre: Timbre, f0: float, n_harm: int) -> np.ndarray:
    n = np.arange(1, n_harm + 1)
    freqs = n * f0
    amp = n.astype(float) ** -timbre.tilt
    for centre, bw, gain in timbre.formants:
        amp *= 1 + gain * np.exp(-0.5 * ((freqs - centre) / bw) ** 2)
    amp[1::2] *= timbre.even_gain
    return amp / np.sqrt(np.sum(amp**2))


_TABLE = 2048


def _period(weights: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """One period of the harmonic waveform, sampled at _TABLE points."""
    theta = 2 * np.pi * np.arange(_TABLE) / _TABLE
    return np.sin(np.outer(theta, np.arange(1, len(weights) + 1)) + phases) @ weights


def _wavetable_lookup(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Read the period at a running phase (radians), linearly interpolated: O(n), not O(n x harmonics)."""
    pos = (phase / (2 * np.pi) % 1.0) * _TABLE
    i = pos.astype(np.int64)
    frac = pos - i
    return table[i] * (1 - frac) + table[(i + 1) % _TABLE] * frac


def melody(rng: np.random.Generator, timbre: Timbre, duration: float, key: int) -> list[tuple[float, float, float]]:
    """(start s, length s, f0 Hz) notes: a random walk on a major scale inside the register."""
    lo, hi = 12 * np.log2(timbre.low_hz / 440) + 69, 12 * np.log2(timbre.high_hz / 440) + 69
    scale = np.array([m for m in range(int(lo), int(hi) + 1) if (m - key) % 12 in _MAJOR])
    # stay in the lower two-thirds of the register, where the instrument mostly plays
    idx = int(rng.integers(0, max(1, 2 * len(scale) // 3)))
    notes, t = [], 0.0
    while t < duration:
        length = float(rng.choice([0.25, 0.5, 0.5, 0.75, 1.0]))
        notes.append((t, min(length, duration - t), 440 * 2 ** ((scale[idx] - 69) / 12)))
        idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(scale) - 1))
        t += length
    return notes


def render(instrument: str, rng: np.random.Generator, duration: float, sample_rate: int, key: int) -> np.ndarray:
    """A mono line of `duration` seconds."""
    timbre = TIMBRES[instrument]
    n = int(round(duration * sample_rate))
    out = np.zeros(n)
    for start, length, f0 in melody(rng, timbre, duration, key):
        i0, m = int(start * sample_rate), int(length * sample_rate)
        if m < 16:
            continue
        t = np.arange(m) / sample_rate
        vib = 1 + timbre.vibrato_depth * np.sin(2 * np.pi * timbre.vibrato_hz * t + rng.uniform(0, 2 * np.pi))
        phase = 2 * np.pi * np.cumsum(f0 * vib) / sample_rate
        n_harm = max(1, min(30, int(9000 // f0)))
        weights = _harmonic_weights(timbre, f0, n_harm)
        tone = _wavetable_lookup(_period(weights, rng.uniform(0, 2 * np.pi, n_harm)), phase)
        noise = rng.standard_normal(m)
        noise = np.convolve(noise, np.ones(8) / 8, mode="same")  # soft breath/bow hiss
        env = np.minimum(1.0, t / timbre.attack) * np.minimum(1.0, (length - t) / timbre.release).clip(0)
        out[i0 : i0 + m] += env * (tone + timbre.noise * noise) * rng.uniform(0.6, 1.0)
    return out
