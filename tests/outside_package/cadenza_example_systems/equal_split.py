"""A factory entry point (``equal_split = "cadenza_example_systems.equal_split:EqualSplit"``):
every requested source is the mixture divided by the number of sources."""

from __future__ import annotations

import numpy as np

from harness.options import read_options
from harness.systems import INSTRUMENTS, RunContext


class EqualSplit:
    name = "equal_split"
    sample_rate = 44100

    def __init__(self, cfg=None):
        self.gain = float(read_options(self.name, cfg, {"gain": 1.0})["gain"])

    def prepare(self, ctx: RunContext) -> None:
        pass

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        share = self.gain / max(1, len(sources))
        return {source: (mixture * share).astype(mixture.dtype) for source in sources}


EqualSplit.__cadenza_spec__ = {"kind": "separator", "produces": INSTRUMENTS,
                               "description": "the mixture shared equally between the sources (example)"}
