"""The data model shared by the tasks: listeners, tracks, songs, scenes and work items,
and the music dataset that systems read (to separate, or to train on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from clarity.utils.audiogram import Audiogram

from harness.audio import read_audio


@dataclass(frozen=True)
class EarFitting:
    """One ear's hearing-aid fitting: multiband compressor ratio and make-up gain (dB) per band."""

    ratio: tuple[float, ...]
    makeup_gain: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Listener:
    id: str
    audiogram_left: Audiogram
    audiogram_right: Audiogram
    fitting_left: EarFitting | None = None
    fitting_right: EarFitting | None = None

    def audiogram(self, ear: str) -> Audiogram:
        return self.audiogram_left if ear == "left" else self.audiogram_right

    def fitting(self, ear: str) -> EarFitting | None:
        return self.fitting_left if ear == "left" else self.fitting_right

    @property
    def severity(self) -> str:
        """The worse ear's severity in pyclarity's terms (NOTHING, MILD, MODERATE, SEVERE)."""
        order = ["NOTHING", "MILD", "MODERATE", "SEVERE"]
        return max((self.audiogram_left.severity, self.audiogram_right.severity), key=order.index)


@dataclass(frozen=True)
class Track:
    """An audio file and the segment of it that is used, relative to the dataset's audio root."""

    instrument: str
    path: str
    start: float = 0.0
    duration: float | None = None


@dataclass(frozen=True)
class Song:
    name: str
    mixture: Track
    sources: dict[str, Track]

    @property
    def instruments(self) -> list[str]:
        """Instruments in the order they first appear (two voices of one instrument count once)."""
        return list(dict.fromkeys(t.instrument for t in self.sources.values()))


@dataclass(frozen=True)
class WorkItem:
    """One unit of work (scene x listener for enhancement tasks, a signal for prediction tasks)."""

    key: str
    fields: dict = field(default_factory=dict)


class MusicDataset:
    """Songs of one split with their stems, read from an audio root."""

    def __init__(self, audio_root: Path, songs: dict[str, Song], sample_rate: int, split: str):
        self.audio_root = Path(audio_root)
        self.songs = songs
        self.sample_rate = sample_rate
        self.split = split

    @property
    def instruments(self) -> list[str]:
        return sorted({t.instrument for s in self.songs.values() for t in s.sources.values()})

    def load_track(self, track: Track, *, allow_silence: bool = True) -> np.ndarray:
        return read_audio(
            self.audio_root / track.path,
            self.sample_rate,
            channels=2,
            start=track.start,
            duration=track.duration,
            allow_silence=allow_silence,
        )

    def load_song_sources(self, song: Song) -> dict[str, np.ndarray]:
        return {key: self.load_track(track) for key, track in song.sources.items()}

    def load_instrument_stems(self, song: Song) -> dict[str, np.ndarray]:
        """Ground-truth stem per instrument: the sum of that instrument's voices."""
        stems: dict[str, np.ndarray] = {}
        for key, signal in self.load_song_sources(song).items():
            inst = song.sources[key].instrument
            stems[inst] = stems[inst] + signal if inst in stems else signal
        return stems


@dataclass(frozen=True, eq=False)
class PredictionItem:
    """What an intelligibility predictor sees of one signal (CLIP-style tasks).

    `signal` is what the listener heard (hearing-loss simulated in CLIP), `unprocessed` the same
    excerpt before that simulation; both (n, 2) at `sample_rate`. `prompt` is the lyric text
    (intrusive systems may use it), `hearing_loss` the listener's severity label.
    """

    signal_id: str
    signal: np.ndarray
    unprocessed: np.ndarray | None
    sample_rate: int
    prompt: str
    hearing_loss: str = ""


@dataclass(frozen=True, eq=False)
class PredictionSet:
    """A prediction task's split as a trainable predictor reads it (``RunContext.dataset``).

    Parallel lists in metadata order: `signals` (ids), `prompts` (lyrics) and `labels` (listener
    intelligibility 0..100, None where the split has none); `load(signal_id)` reads one
    :class:`PredictionItem`. `source` names the metadata file (for errors)."""

    split: str
    signals: list[str]
    prompts: list[str]
    labels: list[float | None]
    load: Callable[[str], PredictionItem]
    source: str = ""
