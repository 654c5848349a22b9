"""pyclarity's multiband compressor with its per-sample Python loop compiled by numba.

The crossover is pyclarity's own; each band's compressor computes exactly what
`clarity.enhancer.multiband_compressor.compressor_qmul.Compressor` computes, in the same order
of float64 operations (numba runs without fast-math, so nothing is reassociated or fused), and
the outputs are bit-identical (tests/test_compressor.py). benchmarks/compressor_speed.py
measures the speed-up.
"""

from __future__ import annotations

import numpy as np
from clarity.enhancer.multiband_compressor import MultibandCompressor
from clarity.enhancer.multiband_compressor.compressor_qmul import Compressor
from numba import njit


@njit(cache=True)
def _attack_release(level: np.ndarray, alpha_attack: float, alpha_release: float) -> np.ndarray:
    """One-pole smoothing with separate attack and release coefficients, per channel."""
    out_signal = np.empty_like(level)
    for ch in range(level.shape[0]):
        out = 0.0
        for i in range(level.shape[1]):
            sample = level[ch, i]
            alpha = alpha_attack if sample > out else alpha_release
            out = alpha * out + (1 - alpha) * sample
            out_signal[ch, i] = out
    return out_signal


class FastCompressor(Compressor):
    def __call__(self, input_signal: np.ndarray) -> np.ndarray:
        # upstream replaces exact zeros in place before taking logs; kept for identical output
        input_signal[input_signal == 0] = self.eps
        x_g = 20 * np.log10(np.abs(input_signal))
        x_g[x_g < -120] = -120
        y_g = self.threshold + (x_g - self.threshold) / self.ratio
        if self.knee_width == 0:
            y_g[x_g < self.threshold] = x_g[x_g < self.threshold]
        else:
            index = 2 * np.abs(x_g - self.threshold) <= self.knee_width
            y_g[index] = x_g[index] + ((1 / self.ratio - 1) * (x_g[index] - self.threshold + self.knee_width / 2) ** 2) / (
                2 * self.knee_width
            )
            index = 2 * (x_g - self.threshold) < -self.knee_width
            y_g[index] = x_g[index]
        filtered = _attack_release(np.ascontiguousarray(x_g - y_g, dtype=np.float64), self.alpha_attack, self.alpha_release)
        return input_signal * 10 ** ((self.makeup_gain - filtered) / 20.0)


class FastMultibandCompressor(MultibandCompressor):
    """Drop-in for pyclarity's MultibandCompressor."""

    def set_compressors(self, *args, **kwargs) -> None:
        super().set_compressors(*args, **kwargs)
        fast = []
        for c in self.compressor:
            f = FastCompressor.__new__(FastCompressor)
            f.__dict__.update(c.__dict__)
            fast.append(f)
        self.compressor = fast
