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
        self._songs: dict[int, list[tuple]] = {}

    def prepare(self, ctx: RunContext) -> None:
        ds = ctx.dataset(ctx.cfg.split)
        self.sample_rate = ds.sample_rate
        for song in ds.songs.values():
            mixture = ds.load_track(song.mixture).astype(np.float64)
            self._songs.setdefault(mixture.shape[0], []).append((mixture, ds, song))

    def _find(self, mixture: np.ndarray):
        x = mixture.astype(np.float64)
        for candidate, ds, song in self._songs.get(x.shape[0], []):
            energy = np.sum(candidate**2)
            if candidate.shape != x.shape or energy == 0:
                continue
            gain = np.sum(x * candidate) / energy
            if np.sum((x - gain * candidate) ** 2) <= self.tolerance**2 * np.sum(x**2):
                return gain, ds, song
        raise InputError("oracle", "this mixture is not a segment of any song of the split")

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
