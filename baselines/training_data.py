"""Training data of the per-instrument separators: random segments of (mixture, target,
accompaniment) cut from a dataset split (the harness's ``ctx.dataset(split)``).

The target is the sum of every track of the target instrument in a song (two voices of one
instrument are one target, as in the official CAD2 baseline), the accompaniment the sum of
the other tracks, and the mixture their sum. Augmentation: a random gain per stem
(-6..+3 dB) and a random left/right swap. Each example is divided by its mixture's RMS (the
separators do the same to the whole track at inference and scale back), so quiet and loud
songs weigh the same. A fixed share of the training songs (by a hash of the name) is held
out of member training, for fitting ensemble weights on unseen songs.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict

import numpy as np
import torch

from evaluators.resample import resample

logger = logging.getLogger(__name__)


def holdout_songs(song_names, fraction: float) -> set[str]:
    """A fixed subset of songs (by a hash of the name, not the order) kept out of training."""
    names = sorted(song_names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    if fraction <= 0 or len(names) < 3:
        return set()
    count = max(1, int(round(fraction * len(names))))
    return set(names[:count])


def song_instruments(song) -> list[str]:
    return sorted({track.instrument for track in song.sources.values()})


def training_songs(dataset, instrument: str, holdout_fraction: float) -> list[str]:
    """Songs of the split that contain `instrument`, minus the held-out songs (unless that
    would leave none)."""
    held = holdout_songs(dataset.songs, holdout_fraction)
    with_instrument = [name for name, song in sorted(dataset.songs.items()) if instrument in song_instruments(song)]
    kept = [name for name in with_instrument if name not in held]
    if not kept and with_instrument:
        logger.warning("every song with %s is held out; training on them anyway", instrument)
        return with_instrument
    return kept


def target_and_accompaniment(dataset, song, instrument: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, channels) target = sum of the instrument's tracks, accompaniment = sum of the rest."""
    sources = dataset.load_song_sources(song)
    target = accompaniment = None
    for key, audio in sources.items():
        audio = np.asarray(audio, dtype=np.float32)
        if song.sources[key].instrument == instrument:
            target = audio if target is None else _add(target, audio)
        else:
            accompaniment = audio if accompaniment is None else _add(accompaniment, audio)
    if target is None:
        raise ValueError(f"song {song.name!r} has no {instrument} track")
    if accompaniment is None:
        accompaniment = np.zeros_like(target)
    length = min(len(target), len(accompaniment))
    return target[:length], accompaniment[:length]


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    length = min(len(a), len(b))
    return a[:length] + b[:length]


class SegmentSampler:
    """Draws reproducible batches of (mixture, target, accompaniment) segments at the model's rate."""

    def __init__(self, dataset, songs: list[str], instrument: str, model_rate: int, segment_seconds: float, max_cached: int = 64):
        if not songs:
            raise ValueError(f"no training song contains {instrument}")
        self.dataset, self.songs, self.instrument = dataset, list(songs), instrument
        self.model_rate, self.segment = model_rate, int(round(segment_seconds * model_rate))
        self.max_cached = max_cached
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        durations = np.array([max(float(getattr(dataset.songs[n].mixture, "duration", 1.0) or 1.0), 1e-3) for n in self.songs])
        self.song_weights = durations / durations.sum()

    def stems(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        target, accompaniment = target_and_accompaniment(self.dataset, self.dataset.songs[name], self.instrument)
        rate = int(self.dataset.sample_rate)
        stems = (resample(target, rate, self.model_rate, "polyphase"), resample(accompaniment, rate, self.model_rate, "polyphase"))
        self._cache[name] = stems
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return stems

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """mixture (b, ch, t) and references (b, 2, ch, t), each example scaled to unit mixture RMS."""
        mixes, refs = [], []
        for _ in range(batch_size):
            name = self.songs[rng.choice(len(self.songs), p=self.song_weights)]
            target, accompaniment = self.stems(name)
            length = len(target)
            start = int(rng.integers(0, max(1, length - self.segment + 1)))
            t = _crop(target, start, self.segment)
            a = _crop(accompaniment, start, self.segment)
            t = t * np.float32(10 ** (rng.uniform(-6, 3) / 20))
            a = a * np.float32(10 ** (rng.uniform(-6, 3) / 20))
            if rng.random() < 0.5:
                t, a = t[:, ::-1], a[:, ::-1]
            mix = t + a
            scale = np.float32(np.sqrt(np.mean(mix**2)) + 1e-5)
            mixes.append(mix.T / scale)
            refs.append(np.stack([t.T, a.T]) / scale)
        return torch.from_numpy(np.ascontiguousarray(np.stack(mixes))), torch.from_numpy(np.ascontiguousarray(np.stack(refs)))


def _crop(signal: np.ndarray, start: int, length: int) -> np.ndarray:
    out = signal[start : start + length]
    if len(out) < length:
        out = np.pad(out, ((0, length - len(out)), (0, 0)))
    return out.astype(np.float32)
