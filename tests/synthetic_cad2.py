"""A tiny stand-in for the harness's CAD2 task-2 dataset, built from synthetic instruments.

Same interface as ``ctx.dataset(split)``: ``sample_rate``, ``instruments``, ``songs``
(name -> Song with ``mixture`` and ``sources`` Tracks), ``load_track`` and
``load_song_sources``. Each instrument is a harmonic tone with its own pitch range, spectral
slope (odd harmonics only for the clarinet) and note envelope; notes are random but fixed by
the track's seed, and each track has its own stereo pan.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

INSTRUMENTS = {
    # name: (lowest f0, highest f0, harmonic slope, odd harmonics only)
    "Bassoon": (60.0, 250.0, 1.0, False),
    "Cello": (70.0, 400.0, 1.1, False),
    "Clarinet": (150.0, 600.0, 1.0, True),
    "Flute": (300.0, 1100.0, 2.5, False),
    "Oboe": (250.0, 900.0, 0.5, False),
    "Violin": (200.0, 1000.0, 0.8, False),
}


@dataclass
class Track:
    instrument: str
    path: str
    start: float = 0.0
    duration: float = 0.0
    seed: int = 0


@dataclass
class Song:
    name: str
    mixture: Track
    sources: dict[str, Track] = field(default_factory=dict)


@lru_cache(maxsize=256)
def render(instrument: str, seconds: float, rate: int, seed: int) -> np.ndarray:
    low, high, slope, odd = INSTRUMENTS[instrument]
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n, dtype=np.float64)
    t0 = 0
    while t0 < n:
        length = int(rng.uniform(0.2, 0.5) * rate)
        f0 = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        t = np.arange(min(length, n - t0)) / rate
        env = np.minimum(1.0, t / 0.02) * np.exp(-t * rng.uniform(1.0, 4.0))
        note = np.zeros_like(t)
        for k in range(1, 30):
            if odd and k % 2 == 0:
                continue
            if k * f0 > 0.45 * rate:
                break
            note += np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k**slope
        out[t0 : t0 + len(t)] = note * env * rng.uniform(0.5, 1.0)
        t0 += length
    pan = rng.uniform(0.2, 0.8)
    stereo = np.stack([out * np.sqrt(1 - pan), out * np.sqrt(pan)], axis=1)
    return (0.1 * stereo / (np.abs(stereo).max() + 1e-9)).astype(np.float32)


class SyntheticCAD2:
    """`songs` songs of `seconds` seconds, each with 2..`max_sources` tracks of `instruments`."""

    def __init__(self, instruments=("Violin", "Cello", "Flute"), songs: int = 4, seconds: float = 3.0,
                 sample_rate: int = 44100, max_sources: int = 3, split: str = "train", seed: int = 0):
        self.sample_rate = sample_rate
        rng = np.random.default_rng(zlib.crc32(f"{split}/{seed}".encode()))
        self.songs: dict[str, Song] = {}
        for i in range(songs):
            name = f"{split}_song_{i:02d}"
            count = int(rng.integers(2, max_sources + 1))
            # every instrument appears regularly: song i starts its list at instrument i
            names = [instruments[(i + j) % len(instruments)] for j in range(count)]
            sources = {
                f"source_{j + 1}": Track(inst, f"{name}/{inst}_{j}.flac", 0.0, seconds, int(rng.integers(1 << 30)))
                for j, inst in enumerate(names)
            }
            self.songs[name] = Song(name, Track("mixture", f"{name}/mix.flac", 0.0, seconds), sources)
        self.instruments = sorted({t.instrument for s in self.songs.values() for t in s.sources.values()})

    def load_track(self, track: Track) -> np.ndarray:
        if track.instrument == "mixture":
            song = self.songs[track.path.split("/")[0]]
            return sum(self.load_song_sources(song).values())
        return render(track.instrument, track.duration, self.sample_rate, track.seed).copy()

    def load_song_sources(self, song: Song) -> dict[str, np.ndarray]:
        return {key: self.load_track(track) for key, track in song.sources.items()}
