"""umx4 on real music: trains (or loads) the demo model on the synthetic 4-stem demo and scores
it on stempeg's real MUSDB-style excerpt, which it never saw.

    python benchmarks/umx4_real_excerpt.py [--work DIR] [--songs 8] [--seconds 10] [--seed 0]
        [--checkpoint DIR] [--set key=value ...]

* Training set: ``harness.demo.musdb4.make_musdb4_demo(<work>/musdb4, seed, n_train=songs,
  n_test=4, seconds)``; ``umx4`` with ``preset=demo`` is trained into ``<work>/checkpoints``
  (or an existing finished checkpoint folder given with ``--checkpoint`` is loaded). The
  training wall-clock and CPU time of this process are printed (nothing when it loads).
* Scores: museval-style median SDR per stem (``evaluators.sdr.museval_sdr``, 1 s frames, dB)
  of umx4's stems and of the mixture taken as every stem's estimate, on the stempeg excerpt
  (``tests.real_audio.musdb_example``: "The Easton Ellises - Falcon 69", 6 s; the mixture is
  the sum of the decoded stems) and, in-domain, on the demo's 4 test songs (mean over songs).
  ``--set`` passes options of ``systems.umx4`` (``wiener=false``, ``train.steps=400``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402,F401  (CPU numerics before torch)
from baselines.umx4 import UMX4Separator  # noqa: E402
from evaluators.sdr import museval_sdr  # noqa: E402
from harness.systems import RunContext  # noqa: E402
from tests.real_audio import FixtureUnavailable, musdb_example  # noqa: E402
from tests.test_umx4 import STEMS, musdb_split  # noqa: E402


def options(pairs: list[str]) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.from_dotlist(pairs), resolve=True) if pairs else {}


def row(name: str, scores: dict[str, float]) -> str:
    return f"| {name} | " + " | ".join(f"{scores[s]:.2f}" for s in STEMS) + f" | {np.mean([scores[s] for s in STEMS]):.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/umx4_bench"))
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None, help="a finished umx4 checkpoint folder to load")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    from harness.demo.musdb4 import make_musdb4_demo

    t = time.perf_counter()
    root = make_musdb4_demo(args.work / "musdb4", seed=args.seed, n_train=args.songs, n_test=4, seconds=args.seconds)
    print(f"demo set {root}: {args.songs} train songs x {args.seconds:g} s ({time.perf_counter() - t:.1f} s to build or find)")
    train, test = musdb_split(root, "train"), musdb_split(root, "test")
    separator = UMX4Separator({"preset": "demo", **options(args.set)})
    if args.checkpoint:
        separator.load(args.checkpoint)
        print(f"loaded {args.checkpoint}")
    else:
        ctx = RunContext(exp_dir=args.work / "exp" / "umx4", cfg={}, dataset=lambda split: train, is_demo=True, seed=args.seed)
        wall, cpu = time.perf_counter(), time.process_time()
        separator.prepare(ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        steps = separator.train_config("demo").steps
        print(f"trained or loaded {separator.model_dir}: {wall:.1f} s wall, {cpu:.1f} s CPU in this process "
              f"({steps} steps; a finished checkpoint is only loaded)")
    header = "| estimate | " + " | ".join(STEMS) + " | mean |\n|---|" + "---|" * (len(STEMS) + 1)

    try:
        audio, rate = musdb_example()
    except FixtureUnavailable as error:
        print(f"stempeg excerpt unavailable: {error}")
    else:
        mixture = audio["mixture"].astype(np.float32)
        refs = {s: audio[s] for s in STEMS}
        t = time.perf_counter()
        est = separator.separate(mixture, list(STEMS))
        took = time.perf_counter() - t
        print(f"\nstempeg excerpt (real, held out): {len(mixture) / rate:.2f} s; separation {took:.2f} s")
        print("median SDR per stem (dB)\n" + header)
        print(row("umx4", museval_sdr(est, refs, rate)))
        print(row("mixture", museval_sdr({s: mixture for s in STEMS}, refs, rate)))

    ours, base = [], []
    for song in test.songs.values():
        mixture = test.load_track(song.mixture)
        refs = {s: test.load_track(song.sources[s]) for s in STEMS}
        ours.append(museval_sdr(separator.separate(mixture, list(STEMS)), refs, 44100))
        base.append(museval_sdr({s: mixture for s in STEMS}, refs, 44100))
    mean = lambda rows: {s: float(np.nanmean([r[s] for r in rows])) for s in STEMS}  # noqa: E731
    print(f"\ndemo test split (synthetic, {len(ours)} songs x {args.seconds:g} s): mean over songs of the median SDR (dB)\n" + header)
    print(row("umx4", mean(ours)))
    print(row("mixture", mean(base)))


if __name__ == "__main__":
    main()
