"""BSSEval v4: museval's ``bss_eval`` vs ours, same signals, one process.

Ours: the numpy backend (evaluators/bsseval.py) and the torch backend
(evaluators/bsseval_torch.py) on the CPU and, when torch sees one, on a GPU. 4 stereo stems at
44.1 kHz, 1 s windows and hops, one CPU thread. Prints per backend the time of each, the ratio
and the largest difference of any finite metric (dB), and whether the NaN/inf patterns agree.
museval runs once per signal, each of ours ``--repeats`` times (best kept; the first call of a
process also pays for growing its memory).

    python benchmarks/bsseval_speed.py [--seconds 10 60] [--tonal-seconds 10] [--repeats 3]
        [--backends numpy torch-cpu torch-cuda numpy-museval-filters]

``numpy-museval-filters`` is ``bss_eval(..., filters="museval")`` (museval's filters bit for bit,
its dense solve once instead of once per source), for the ill-conditioned ``tonal`` signals.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import torch  # noqa: E402
from museval import metrics  # noqa: E402

from evaluators import bsseval, bsseval_torch  # noqa: E402

torch.set_num_threads(1)
BACKENDS = {
    "numpy": bsseval.bss_eval,
    "numpy-museval-filters": lambda r, e, w, h: bsseval.bss_eval(r, e, w, h, filters="museval"),
    "torch-cpu": lambda r, e, w, h: bsseval_torch.bss_eval(r, e, w, h, device="cpu"),
    "torch-cuda": lambda r, e, w, h: bsseval_torch.bss_eval(r, e, w, h, device="cuda"),
}

RATE = 44100


def stems(seconds: float, kind: str = "noise", n_src: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """References and imperfect estimates (80% of the source, 10% of the mix, noise at -34 dB).

    ``noise``: full-band coloured noise, amplitude-modulated per source (a well-conditioned
    Gram matrix of delayed references). ``tonal``: band-limited noise plus harmonic notes, whose
    Gram matrix is numerically singular, so that museval's ISR/SIR/SAR depend on rounding.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    if kind == "noise":
        t = np.arange(n) / RATE
        white = rng.standard_normal((n_src, n, 2))
        refs = scipy.signal.lfilter([1.0], [1.0, -0.6], white, axis=1)
        refs *= (1.0 + 0.5 * np.sin(2 * np.pi * (0.2 + 0.1 * np.arange(n_src)[:, None]) * t))[:, :, None]
        mix = refs.sum(axis=0)
        ests = 0.8 * refs + 0.1 * mix[None] + 0.02 * rng.standard_normal(refs.shape)
        return refs, ests
    t = np.arange(n) / RATE
    refs = np.empty((n_src, n, 2))
    for s in range(n_src):
        lo, hi = 60 * 2 ** (1.5 * s), 60 * 2 ** (1.5 * s + 4)
        sos = scipy.signal.butter(4, [lo, min(hi, 0.45 * RATE)], btype="band", fs=RATE, output="sos")
        noise = scipy.signal.sosfilt(sos, rng.standard_normal((2, n)), axis=1)
        f0 = lo * 2
        tone = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6))
        env = 0.6 + 0.4 * np.sin(2 * np.pi * (0.3 + 0.2 * s) * t)
        refs[s] = (0.3 * noise + env * tone * np.array([[1.0], [0.7]])).T
    mix = refs.sum(axis=0)
    ests = 0.8 * refs + 0.1 * mix[None] + 0.02 * rng.standard_normal(refs.shape)
    return refs, ests


def compare(a, b) -> tuple[float, bool]:
    worst, same = 0.0, True
    for x, y in zip(a, b):
        fin = np.isfinite(x) & np.isfinite(y)
        same &= bool(np.array_equal(np.isnan(x), np.isnan(y)) and np.array_equal(np.isposinf(x), np.isposinf(y)))
        if fin.any():
            worst = max(worst, float(np.max(np.abs(x[fin] - y[fin]))))
    return worst, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="*", default=[10.0, 60.0])
    parser.add_argument("--tonal-seconds", type=float, nargs="*", default=[10.0],
                        help="also these lengths of the ill-conditioned tonal signals")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours (best kept); museval runs once")
    parser.add_argument("--backends", nargs="+", default=["numpy", "torch-cpu", "torch-cuda"], choices=list(BACKENDS))
    args = parser.parse_args()
    backends = [b for b in args.backends if b != "torch-cuda" or torch.cuda.is_available()]
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name()}")
    print(f"{'signals':>8} {'seconds':>8} {'backend':>22} {'museval s':>10} {'ours s':>8} {'ratio':>7} "
          f"{'max |diff| dB  sdr':>19} {'isr':>9} {'sir':>9} {'sar':>9} {'same NaN/inf':>13}", flush=True)
    for kind, seconds in [("noise", s) for s in args.seconds] + [("tonal", s) for s in args.tonal_seconds]:
        refs, ests = stems(seconds, kind)
        start = time.perf_counter()
        theirs = metrics.bss_eval(refs, ests, window=RATE, hop=RATE, compute_permutation=False)[:4]
        t_theirs = time.perf_counter() - start
        for name in backends:
            t_ours = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                ours = BACKENDS[name](refs, ests, RATE, RATE)
                if name == "torch-cuda":
                    torch.cuda.synchronize()
                t_ours = min(t_ours, time.perf_counter() - start)
            diffs = [compare([x], [y]) for x, y in zip(theirs, ours)]
            same = all(d[1] for d in diffs)
            print(f"{kind:>8} {seconds:8.0f} {name:>22} {t_theirs:10.2f} {t_ours:8.3f} {t_theirs / t_ours:6.1f}x "
                  f"{diffs[0][0]:19.2e} {diffs[1][0]:9.2e} {diffs[2][0]:9.2e} {diffs[3][0]:9.2e} {str(same):>13}",
                  flush=True)


if __name__ == "__main__":
    main()
