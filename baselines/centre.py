"""Vocals as the centre of the stereo image: a training-free separator.

Lead vocals are mixed to the centre, much of the accompaniment is not. Per STFT bin, the
inter-channel similarity psi = 2|L R*| / (|L|^2 + |R|^2) (Avendano and Jot's upmix measure) is 1
for a centre-panned source and falls towards 0 for sources panned aside; psi^sharpness masks
the mid signal (L + R) / 2 to give the vocals, and the accompaniment is what is left. Used by
the CLIP STOI baseline in place of HDemucs, whose weights cannot be downloaded here.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import istft, stft

from harness.options import read_options
from harness.systems import VOCALS, RunContext, register


@register("centre", kind="separator", produces=VOCALS,
          description="vocals as the centre-panned part of the mix (no training)")
class CentreSeparator:
    name = "centre"
    sample_rate = 44100

    def __init__(self, cfg=None):
        options = read_options(self.name, cfg, {"n_fft": 2048, "sharpness": 4.0})
        self.n_fft = int(options["n_fft"])
        self.sharpness = float(options["sharpness"])

    def prepare(self, ctx: RunContext) -> None:
        pass

    def vocals(self, mixture: np.ndarray) -> np.ndarray:
        n = mixture.shape[0]
        _, _, spec = stft(mixture.T, nperseg=self.n_fft, noverlap=3 * self.n_fft // 4)
        left, right = spec[0], spec[1]
        power = np.abs(left) ** 2 + np.abs(right) ** 2
        psi = np.where(power > 0, 2 * np.abs(left * np.conj(right)) / np.maximum(power, 1e-20), 0.0)
        _, mid = istft(psi**self.sharpness * (left + right) / 2, nperseg=self.n_fft, noverlap=3 * self.n_fft // 4)
        mid = np.pad(mid[:n], (0, max(0, n - len(mid))))
        return np.stack([mid, mid], axis=1).astype(mixture.dtype)

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        vocals = self.vocals(mixture)
        out = {"vocals": vocals, "accompaniment": mixture - vocals}
        unknown = [s for s in sources if s not in out]
        if unknown:
            raise ValueError(f"centre separates vocals and accompaniment only, not {unknown}")
        return {s: out[s] for s in sources}
