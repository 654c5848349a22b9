"""A module entry point (``example_enhancers = "cadenza_example_systems.enhancers"``): the
module registers its systems with ``harness.systems.register`` as it is imported."""

from __future__ import annotations

import numpy as np

from harness.options import read_options
from harness.systems import RunContext, register


@register("quieter", kind="enhancer", description="a fixed gain in dB (example)")
class Quieter:
    name = "quieter"

    def __init__(self, cfg=None):
        self.gain_db = float(read_options(self.name, cfg, {"gain_db": -6.0})["gain_db"])

    def prepare(self, ctx: RunContext) -> None:
        pass

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        return (signal * 10 ** (self.gain_db / 20)).astype(signal.dtype)
