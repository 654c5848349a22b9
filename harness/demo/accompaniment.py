"""Synthetic band accompaniment (chord pad, bass, drums) under the lyric demo sets' vocals,
and constant-power panning."""

from __future__ import annotations

import math

import numpy as np


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def synth_accompaniment(n: int, rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Mono ``bass``, ``drums`` and ``other`` (chords) of ``n`` samples: a I-V-vi-IV loop."""
    t = np.arange(n) / rate
    bpm = rng.uniform(90, 130)
    beat = 60.0 / bpm
    root = 48 + int(rng.integers(0, 12))  # C3..B3
    progression = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]  # I V vi IV
    other = np.zeros(n)
    bass = np.zeros(n)
    drums = np.zeros(n)
    bar = 4 * beat
    for b in range(int(math.ceil(n / rate / bar)) + 1):
        start = b * bar
        chord = progression[b % 4]
        i0, i1 = int(start * rate), min(int((start + bar) * rate), n)
        if i0 >= n:
            break
        seg_t = t[i0:i1] - start
        env = np.minimum(1, seg_t / 0.03) * np.exp(-seg_t / (1.5 * bar))
        for k, interval in enumerate(chord):
            f = _midi_hz(root + interval)
            phase = rng.uniform(0, 2 * np.pi)
            for h in range(1, 6):  # soft saw-like pad
                other[i0:i1] += env * np.sin(2 * np.pi * h * f * seg_t + phase * h) / h**1.5
        for q in range(4):  # bass on every beat, chord root two octaves down
            j0 = int((start + q * beat) * rate)
            j1 = min(j0 + int(beat * rate), n)
            if j0 >= n:
                break
            bt = t[j0:j1] - (start + q * beat)
            f = _midi_hz(root + chord[0] - 24 + (12 if q == 3 else 0))
            bass[j0:j1] += np.exp(-bt / 0.35) * (np.sin(2 * np.pi * f * bt) + 0.3 * np.sin(4 * np.pi * f * bt))
    # drums: kick on 1 and 3, snare on 2 and 4, closed hat on eighths
    n_beats = int(n / rate / beat) + 1
    for q in range(n_beats):
        j0 = int(q * beat * rate)
        if j0 >= n:
            break
        if q % 2 == 0:
            m = min(int(0.25 * rate), n - j0)
            kt = np.arange(m) / rate
            f = 50 + 70 * np.exp(-kt / 0.03)
            drums[j0 : j0 + m] += np.exp(-kt / 0.12) * np.sin(2 * np.pi * np.cumsum(f) / rate)
        else:
            m = min(int(0.2 * rate), n - j0)
            kt = np.arange(m) / rate
            drums[j0 : j0 + m] += 0.5 * np.exp(-kt / 0.06) * rng.standard_normal(m) + 0.3 * np.exp(-kt / 0.05) * np.sin(2 * np.pi * 190 * kt)
        for half in (0, 0.5):
            h0 = int((q + half) * beat * rate)
            m = min(int(0.04 * rate), n - h0)
            if m > 0:
                noise = np.diff(rng.standard_normal(m + 1))  # crude high-pass
                drums[h0 : h0 + m] += 0.15 * np.exp(-np.arange(m) / rate / 0.012) * noise
    out = {}
    for name, x, level in (("bass", bass, -24.0), ("drums", drums, -24.0), ("other", other, -26.0)):
        rms = np.sqrt(np.mean(x**2))
        out[name] = x * (10 ** (level / 20) / rms) if rms > 0 else x
    return out


def pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan, -1 left .. +1 right -> (n, 2)."""
    a = (pan + 1) * np.pi / 4
    return np.stack([x * np.cos(a), x * np.sin(a)], axis=1) * np.sqrt(2)
