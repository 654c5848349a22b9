"""HAAQI speed: pyclarity vs the fast backend (and torch), same signals, one process.

One ear, one thread, 10 s and 30 s of music-like audio at 24 kHz against a clipped and
delayed copy, mild-to-moderate sloping loss (``--levels`` for another), the same legacy
seed for both implementations. The fast backend skips covariances that HAAQI gives zero
weight, so its speed-up grows with the loss (fewer bands above threshold). Prints
per length: pyclarity seconds, fast seconds, ratio, |score difference|, then the smallest
ratio and largest difference over lengths; then both ears
batched (compute_haaqi_stereo) and the torch backend on the CPU (and on CUDA if present).

    python benchmarks/haaqi_speed.py [--lengths 10 30] [--repeats 1] [--no-torch]
                                     [--levels 0 0 0 0 0 0]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clarity.utils.audiogram import Audiogram  # noqa: E402

from evaluators.haaqi import compute_haaqi, compute_haaqi_stereo  # noqa: E402

RATE = 24000
FREQUENCIES = np.array([250, 500, 1000, 2000, 4000, 6000])
HEARING = Audiogram(levels=np.array([20.0, 25, 35, 45, 55, 60]), frequencies=FREQUENCIES)


def music(duration: float, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    t = np.arange(int(duration * RATE)) / RATE
    x = np.zeros_like(t)
    for f0 in (110.0, 164.8, 220.0, 277.2):
        for h in range(1, 7):
            am = 1 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.3, 5) * t + rng.uniform(0, 6))
            x += (0.3 / h) * am * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6))
    x += 0.02 * rng.randn(len(t))
    return 0.1 * x / np.std(x)


def processed_from(reference: np.ndarray) -> np.ndarray:
    limit = 0.4 * np.max(np.abs(reference))
    delayed = np.concatenate([np.zeros(120), reference])[: len(reference)]
    return 1.5 * np.clip(delayed, -limit, limit)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--repeats", type=int, default=1, help="fast timing: best of N")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--levels", type=float, nargs=6, metavar="DB",
                        help="audiogram at 250..6000 Hz (default 20 25 35 45 55 60)")
    args = parser.parse_args()
    global HEARING
    if args.levels:
        HEARING = Audiogram(levels=np.array(args.levels), frequencies=FREQUENCIES)

    # Warm-up: numba compilation (cached on disk after the first run) and coefficient caches
    warm = music(1.0, 0)
    compute_haaqi(processed_from(warm), warm, RATE, RATE, HEARING, seed=0)
    compute_haaqi(processed_from(warm), warm, RATE, RATE, HEARING, seed=0, backend="pyclarity")

    print(f"{'length s':>8} {'pyclarity s':>12} {'fast s':>8} {'ratio':>6} {'|diff|':>9}")
    rows = {}
    ratios, diffs = [], []
    for length in args.lengths:
        reference = music(length, 1)
        processed = processed_from(reference)
        t_ref, s_ref = timed(lambda: compute_haaqi(processed, reference, RATE, RATE, HEARING,
                                                   seed=1, backend="pyclarity"))
        fast_runs = [timed(lambda: compute_haaqi(processed, reference, RATE, RATE, HEARING,
                                                 seed=1)) for _ in range(args.repeats)]
        t_fast, s_fast = min(fast_runs)
        rows[length] = (reference, processed, t_fast, s_ref)
        ratios.append(t_ref / t_fast)
        diffs.append(abs(s_ref - s_fast))
        print(f"{length:8.0f} {t_ref:12.2f} {t_fast:8.3f} {t_ref / t_fast:6.1f} "
              f"{abs(s_ref - s_fast):9.1e}", flush=True)
    print(f"min ratio {min(ratios):.1f}, max |score diff| {max(diffs):.1e}")

    print("\nfast backend, other entry points / backends (seconds)")
    for length, (reference, processed, t_fast, s_ref) in rows.items():
        stereo_ref = np.stack([reference, music(length, 2)], axis=1)
        stereo_proc = np.stack([processed, processed_from(stereo_ref[:, 1])], axis=1)
        t_two, _ = timed(lambda: compute_haaqi_stereo(stereo_proc, stereo_ref, RATE, RATE,
                                                      HEARING, HEARING, seed=1))
        print(f"{length:4.0f} s  one ear {t_fast:.3f}  two ears batched {t_two:.3f}", flush=True)
        if args.no_torch:
            continue
        import torch

        torch.set_num_threads(1)
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            from evaluators.haaqi import haaqi_v1
            from evaluators.haaqi_torch import TorchStages

            run = (lambda: haaqi_v1(reference, RATE, processed, RATE, HEARING, 1, seed=1,
                                    stages=TorchStages(device))[0])
            run() if device == "cuda" else None  # CUDA context and kernels
            t_torch, s_torch = timed(run)
            print(f"{length:4.0f} s  torch {device} {t_torch:.3f}  "
                  f"|diff| vs pyclarity {abs(s_torch - s_ref):.1e}", flush=True)


if __name__ == "__main__":
    main()
