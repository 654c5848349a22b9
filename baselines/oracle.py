"""Upper and lower references: the ground-truth stems (`oracle`) and no separation (`mixture`)."""

from __future__ import annotations

import numpy as np

from harness.cache import content_key
from harness.errors import InputError
from harness.systems import RunContext, register


@register("oracle", kind="separator", description="ground-truth stems of the scored segment (upper bound)")
class Oracle:
    """Looks the mixture up among the split's songs and returns their true stems.

    The harness hands a separator only the mixture, so the oracle indexes the split's mixture
    segments by content once per process. A requested source that is not a stem of the song
    (e.g. `accompaniment`) is the sum of the song's stems that were not requested.
    """

    name = "oracle"
    sample_rate = 44100

    def __init__(self, cfg=None):
        self._songs: dict[str, tuple] = {}

    def prepare(self, ctx: RunContext) -> None:
        ds = ctx.dataset(ctx.cfg.split)
        self.sample_rate = ds.sample_rate
        for song in ds.songs.values():
            self._songs[content_key(ds.load_track(song.mixture), [], "")] = (ds, song)

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        key = content_key(mixture, [], "")
        if key not in self._songs:
            raise InputError("oracle", "this mixture is not a segment of any song of the split")
        ds, song = self._songs[key]
        stems = ds.load_instrument_stems(song)
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
        pass

    def prepare(self, ctx: RunContext) -> None:
        pass

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        return {"mixture": mixture}
