"""Multiband compressor: pyclarity vs ours (harness/compressor.py), one ear, same signal, one process.

    python benchmarks/compressor_speed.py [--seconds 10 30]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from clarity.enhancer.multiband_compressor import MultibandCompressor  # noqa: E402

from harness.compressor import FastMultibandCompressor  # noqa: E402

XOVER = [353.55, 707.11, 1414.21, 2828.43, 5656.85]
PARAMS = dict(attack=[11, 11, 14, 13, 11, 11], release=[80, 80, 80, 80, 100, 100], threshold=[-30] * 6,
              ratio=[1.5, 1.6, 1.8, 2.0, 2.2, 2.4], makeup_gain=[5, 8, 12, 16, 20, 22])


def timed(compressor, signal, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = compressor(signal.copy())
        best = min(best, time.perf_counter() - start)
    return best, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 30.0])
    args = parser.parse_args()
    rate = 44100
    ours, theirs = FastMultibandCompressor(XOVER, rate), MultibandCompressor(XOVER, rate)
    ours.set_compressors(**PARAMS)
    theirs.set_compressors(**PARAMS)
    ours(np.zeros((1, 100)))  # compile once, outside the timing
    print(f"{'seconds':>8} {'pyclarity s':>12} {'ours s':>8} {'speed-up':>9} {'max |diff|':>11}")
    for seconds in args.seconds:
        signal = 0.05 * np.random.default_rng(0).standard_normal((1, int(seconds * rate)))
        t_ref, y_ref = timed(theirs, signal, repeats=1)
        t_ours, y_ours = timed(ours, signal)
        print(f"{seconds:8.1f} {t_ref:12.3f} {t_ours:8.3f} {t_ref / t_ours:8.1f}x {np.max(np.abs(y_ref - y_ours)):11.2e}")


if __name__ == "__main__":
    main()
