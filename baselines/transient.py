"""A transient booster, the post-processor of the attention U-Net masking system submitted to the
ICASSP 2026 Cadenza challenge (CLIP) as T050.

"calculating the derivative of the masked signal and then applying a gain to parts of the audio
with a positive gradient". Here the derivative is taken of a short RMS envelope (the raw
waveform's derivative changes sign every half period), and the gain is smoothed so that it
does not click. No training; usable after any separator or before any predictor.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from harness.options import read_options
from harness.systems import RunContext, register


@register("transient_boost", kind="enhancer", description="boosts rising envelopes (the T050 CLIP system's post-processing)")
class TransientBooster:
    name = "transient_boost"

    def __init__(self, cfg=None):
        options = read_options(self.name, cfg, {"boost_db": 3.0, "envelope_ms": 5.0, "smooth_ms": 2.0})
        self.boost_db = float(options["boost_db"])
        self.envelope_ms = float(options["envelope_ms"])
        self.smooth_ms = float(options["smooth_ms"])

    def prepare(self, ctx: RunContext) -> None:
        pass

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        x = np.asarray(signal, dtype=np.float64)
        width = max(1, int(self.envelope_ms * 1e-3 * sample_rate))
        envelope = np.sqrt(uniform_filter1d(x**2, width, axis=0))
        rising = np.diff(envelope, axis=0, prepend=envelope[:1]) > 0
        gain = np.where(rising, 10 ** (self.boost_db / 20), 1.0)
        gain = uniform_filter1d(gain, max(1, int(self.smooth_ms * 1e-3 * sample_rate)), axis=0)
        return (x * gain).astype(signal.dtype)
