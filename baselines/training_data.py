"""Training data of the separators: random segments of (mixture, target, accompaniment), or
of (mixture, one stem per target) for a multi-target model, cut from a dataset split (the
harness's ``ctx.dataset(split)``).

Per-instrument mode (``SegmentSampler(..., "Violin", ...)``): the target is the sum of every track of the target instrument in a song (two voices of one
instrument are one target, as in the official CAD2 baseline), the accompaniment the sum of
the other tracks, and the mixture their sum. Augmentation: a random gain per stem
(-6..+3 dB) and a random left/right swap. Each example is divided by its mixture's RMS (the
separators do the same to the whole track at inference and scale back), so quiet and loud
songs weigh the same.

Multi-target mode (``SegmentSampler(..., ["vocals", "drums", "bass", "other"], ...,
rest="other")``): each target is the sum of its instrument's tracks (silence where a song has
none), tracks of any other instrument go to the ``rest`` target (an error without one), and
the mixture is the sum of the targets. Augmentation as open-unmix's (Stöter et al. 2019,
``openunmix/data.py``): a random gain per stem (-6..+3 dB) and a left/right swap drawn per
stem; with ``mix_songs`` each stem comes from its own random song and offset (open-unmix's
``random_track_mix``), otherwise all stems from one song and offset. A fixed share of the training songs (by a hash of the name) is held
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


def target_stems(dataset, song, targets, rest: str | None = None) -> list[np.ndarray]:
    """One (n, channels) array per target: the sum of that instrument's tracks, zeros where the
    song has none; tracks of other instruments are added to the `rest` target (ValueError
    naming the song and the instruments without one). All cut to the shortest track."""
    targets = list(targets)
    if rest is not None and rest not in targets:
        raise ValueError(f"rest target {rest!r} is not one of the targets {targets}")
    sums: dict[str, np.ndarray] = {}
    stray = sorted({t.instrument for t in song.sources.values()} - set(targets))
    if stray and rest is None:
        raise ValueError(f"song {song.name!r} has track(s) of {stray}, not among the targets {targets}")
    for key, audio in dataset.load_song_sources(song).items():
        audio = np.asarray(audio, dtype=np.float32)
        name = song.sources[key].instrument
        name = name if name in targets else rest
        sums[name] = audio if name not in sums else _add(sums[name], audio)
    if not sums:
        raise ValueError(f"song {song.name!r} has no tracks")
    length = min(len(a) for a in sums.values())
    channels = next(iter(sums.values())).shape[1]
    return [sums[t][:length] if t in sums else np.zeros((length, channels), np.float32) for t in targets]


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    length = min(len(a), len(b))
    return a[:length] + b[:length]


class SegmentSampler:
    """Draws reproducible batches of (mixture, target, accompaniment) segments at the model's
    rate, or, when `instrument` is a list of targets, of (mixture, one stem per target)."""

    def __init__(self, dataset, songs: list[str], instrument, model_rate: int, segment_seconds: float, max_cached: int = 64,
                 rest: str | None = None, mix_songs: bool = False):
        self.multi = not isinstance(instrument, str)
        if self.multi:
            instrument = [str(t) for t in instrument]
            if not instrument:
                raise ValueError("no training targets")
            if rest is not None and rest not in instrument:
                raise ValueError(f"rest target {rest!r} is not one of the targets {instrument}")
        elif rest is not None or mix_songs:
            raise ValueError("rest and mix_songs are options of the multi-target mode (a list of targets)")
        if not songs:
            raise ValueError(f"no training song contains {instrument}" if not self.multi else "no training songs")
        self.dataset, self.songs, self.instrument = dataset, list(songs), instrument
        self.rest, self.mix_songs = rest, bool(mix_songs)
        self.model_rate, self.segment = model_rate, int(round(segment_seconds * model_rate))
        self.max_cached = max_cached
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        durations = np.array([max(float(getattr(dataset.songs[n].mixture, "duration", 1.0) or 1.0), 1e-3) for n in self.songs])
        self.song_weights = durations / durations.sum()

    def stems(self, name: str) -> tuple[np.ndarray, ...]:
        """(target, accompaniment), or one stem per target, at the model's rate (cached)."""
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        song = self.dataset.songs[name]
        if self.multi:
            parts = target_stems(self.dataset, song, self.instrument, self.rest)
        else:
            parts = target_and_accompaniment(self.dataset, song, self.instrument)
        rate = int(self.dataset.sample_rate)
        stems = tuple(resample(p, rate, self.model_rate, "polyphase") for p in parts)
        self._cache[name] = stems
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return stems

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """mixture (b, ch, t) and references (b, 2, ch, t) (target, accompaniment), or (b, targets,
        ch, t) in the multi-target mode, each example scaled to unit mixture RMS."""
        if self.multi:
            return self._multi_batch(rng, batch_size)
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


    def _draw(self, rng: np.random.Generator) -> tuple[str, int]:
        name = self.songs[rng.choice(len(self.songs), p=self.song_weights)]
        length = len(self.stems(name)[0])
        return name, int(rng.integers(0, max(1, length - self.segment + 1)))

    def _multi_batch(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        mixes, refs = [], []
        for _ in range(batch_size):
            shared = None if self.mix_songs else self._draw(rng)
            parts = []
            for k in range(len(self.instrument)):
                name, start = shared or self._draw(rng)
                x = _crop(self.stems(name)[k], start, self.segment) * np.float32(10 ** (rng.uniform(-6, 3) / 20))
                if rng.random() < 0.5:
                    x = x[:, ::-1]
                parts.append(x)
            mix = np.sum(parts, axis=0)
            scale = np.float32(np.sqrt(np.mean(mix**2)) + 1e-5)
            mixes.append(mix.T / scale)
            refs.append(np.stack([p.T for p in parts]) / scale)
        return torch.from_numpy(np.ascontiguousarray(np.stack(mixes))), torch.from_numpy(np.ascontiguousarray(np.stack(refs)))


class StemSampler:
    """Batches (batch, channels, samples) of unit-RMS clean single-instrument segments at
    `rate`: every instrument of the split (``SegmentSampler``'s multi-target mode, with its
    gain and left/right augmentation), silent segments (RMS <= 1e-4) dropped, each scaled to
    unit RMS. The training data of the models that learn what clean stems sound like (Msanii,
    the codec)."""

    def __init__(self, dataset, segment_samples: int, max_cached: int = 64, rate: int = 44100, songs=None):
        songs = sorted(dataset.songs) if songs is None else sorted(songs)
        self.instruments = list(dataset.instruments)
        self.segments = SegmentSampler(dataset, songs, self.instruments, rate, segment_samples / rate, max_cached)

    def batch(self, rng: np.random.Generator, batch_size: int) -> torch.Tensor:
        picked = []
        while len(picked) < batch_size:
            _, refs = self.segments.batch(rng, max(1, batch_size // 2))
            stems = refs.reshape(-1, *refs.shape[2:])
            rms = stems.pow(2).mean(dim=(1, 2)).sqrt()
            picked.extend(stems[i] / rms[i] for i in range(len(stems)) if rms[i] > 1e-4)
        order = rng.permutation(len(picked))[:batch_size]
        return torch.stack([picked[i] for i in order])


def _crop(signal: np.ndarray, start: int, length: int) -> np.ndarray:
    out = signal[start : start + length]
    if len(out) < length:
        out = np.pad(out, ((0, length - len(out)), (0, 0)))
    return out.astype(np.float32)
