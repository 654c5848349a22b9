"""Rendering a demo score: each part alone through FluidSynth, then one shared room.

``render_parts(score, seconds)`` renders every part of a ``harness.demo.scores.Score`` on its
own (``part_midi`` -> ``harness.demo.synth.render_midi``, FluidR3_GM, 44.1 kHz, panned by the
part's CC 10) and returns ``{part name: (n, 2) float64}`` with n = round(seconds x rate); a
part is rendered once, and a mixture is the sum of the returned stems.

``Room`` is a seeded stereo reverb (exponentially decaying, decorrelated noise per ear after
a pre-delay, Moorer 1979 "About this reverberation business"); ``room.apply(stem)`` is linear
and the same for every stem, so reverberated stems still sum to the reverberated mixture.
A stem's reverb tail past the song's end is cut, as a recording's excerpt would cut it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from harness.demo.scores import Score, part_midi
from harness.demo.synth import RATE, render_midi


def render_parts(score: Score, seconds: float, rate: int = RATE) -> dict[str, np.ndarray]:
    """Each part of `score` rendered alone: {name: (n, 2) float64}, n = round(seconds x rate)."""
    n = int(round(seconds * rate))
    out, seen = {}, {}
    for part in score.parts:
        if part.name in out:
            raise ValueError(f"score has two parts named {part.name!r}")
        midi = part_midi(score, part, seconds)
        if midi not in seen:  # an identical part (same MIDI bytes) is rendered once
            seen[midi] = render_midi(midi, n, rate).astype(np.float64)
        out[part.name] = seen[midi].copy()
    return out


@dataclass(frozen=True)
class Room:
    """A stereo impulse response `ir` (m, 2) and a wet level (linear, the dry path is 1)."""
    ir: np.ndarray
    wet: float

    @classmethod
    def make(cls, rng: np.random.Generator, rt60: float, wet: float, rate: int = RATE,
             predelay: float = 0.012) -> "Room":
        """A room of reverberation time `rt60` s (60 dB decay), unit-energy response per ear."""
        m = int(rt60 * rate)
        t = np.arange(m) / rate
        decay = np.exp(-6.9078 * t / rt60)  # ln(1000): -60 dB at rt60
        tail = rng.standard_normal((m, 2)) * decay[:, None]
        tail[: int(0.005 * rate)] *= np.linspace(0, 1, int(0.005 * rate))[:, None]  # soft onset
        ir = np.concatenate([np.zeros((int(predelay * rate), 2)), tail])
        return cls(ir / np.sqrt(np.sum(ir**2, axis=0)), float(wet))

    def apply(self, stem: np.ndarray) -> np.ndarray:
        """`stem` (n, 2) with the room added: dry + wet x (mid channel * ir per ear), length n."""
        if self.wet == 0:
            return stem.copy()
        mid = stem.mean(axis=1)
        wet = np.stack([fftconvolve(mid, self.ir[:, ch])[: len(stem)] for ch in range(2)], axis=1)
        return stem + self.wet * wet
