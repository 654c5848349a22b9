"""Upper and lower references: the ground-truth stems (`oracle`) and no separation (`mixture`)."""

from __future__ import annotations

import numpy as np

from harness.errors import InputError
from harness.options import read_options
from harness.systems import RunContext, register


@register("oracle", kind="separator", description="ground-truth stems of the scored segment (upper bound)")
class Oracle:
    """Finds the mixture among the split's songs and returns their true stems.

    The harness hands a separator only the mixture, which a task may have rescaled (CAD2 task 1
    normalises it to -40 LUFS first), so the oracle matches it by least squares against the
    split's mixture segments of the same length and returns the stems with the same gain. A
    requested source that is not a stem of the song (e.g. `accompaniment`) is the sum of the
    song's stems that were not requested.
    """

    name = "oracle"
    sample_rate = 44100
    tolerance = 1e-4  # relative residual of a match: a gain apart, the same samples

    def __init__(self, cfg=None):
        read_options(self.name, cfg, {})
        self._ds = None
        self._mixtures: dict[str, np.ndarray | None] = {}  # read on demand: one bad file fails only its items
        self._unreadable: dict[str, str] = {}

    def prepare(self, ctx: RunContext) -> None:
        self._ds = ctx.dataset(ctx.cfg.split)
        self.sample_rate = self._ds.sample_rate

    def _mixture(self, song) -> np.ndarray | None:
        if song.name not in self._mixtures:
            try:
                self._mixtures[song.name] = self._ds.load_track(song.mixture).astype(np.float64)
            except InputError as err:
                self._mixtures[song.name] = None
                self._unreadable[song.name] = str(err)
        return self._mixtures[song.name]

    def _find(self, mixture: np.ndarray):
        x = mixture.astype(np.float64)
        ds = self._ds
        for song in ds.songs.values():
            duration = getattr(song.mixture, "duration", None)
            if duration and abs(int(round(duration * ds.sample_rate)) - x.shape[0]) > 1:
                continue  # another length: no need to read it
            candidate = self._mixture(song)
            if candidate is None or candidate.shape != x.shape:
                continue
            energy = np.sum(candidate**2)
            if energy == 0:
                continue
            gain = np.sum(x * candidate) / energy
            if np.sum((x - gain * candidate) ** 2) <= self.tolerance**2 * np.sum(x**2):
                return gain, ds, song
        unread = f" ({len(self._unreadable)} could not be read, e.g. {next(iter(self._unreadable.values()))})" if self._unreadable else ""
        raise InputError("oracle", f"this mixture is not a segment of any song of the split{unread}")

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        gain, ds, song = self._find(mixture)
        stems = {k: (gain * v).astype(np.float32) for k, v in ds.load_instrument_stems(song).items()}
        out = {s: stems[s] for s in sources if s in stems}
        rest = [s for s in sources if s not in stems]
        if len(rest) > 1:
            raise InputError("oracle", f"cannot make more than one residual source from {rest}")
        if rest:
            others = [v for k, v in stems.items() if k not in out]
            out[rest[0]] = np.sum(others, axis=0) if others else np.zeros_like(mixture)
        return out


@register("mixture", kind="separator", description="no separation: the mixture goes through the chain as one stem")
class MixturePassThrough:
    name = "mixture"
    sample_rate = 44100

    def __init__(self, cfg=None):
        read_options(self.name, cfg, {})

    def prepare(self, ctx: RunContext) -> None:
        pass

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        return {"mixture": mixture}
