"""Does the Whisper baseline predict the CLIP1 demo labels better than a constant?

    python benchmarks/clip_demo_baseline.py [--root /tmp/cadenza_demo/clip1] [--beam 1]

Builds (or reuses) the demo with ``make_clip_demo``, transcribes every ``signals/`` item per
ear with the default offline Whisper (faster-whisper tiny.en), scores better-ear correctness
against the prompt, fits the CLIP logistic map on train and reports on valid: RMSE / NCC / KT of
the mapped Whisper score versus the RMSE of predicting the train mean (the constant baseline),
with bootstrap 95 % intervals. Prints a table and writes ``whisper_scores.json`` beside the data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluators.prediction import LogisticMap, bootstrap_ci, compute_scores, rmse  # noqa: E402
from evaluators.whisper import Transcriber, score_ears  # noqa: E402
from harness.demo.lyrics import make_clip_demo  # noqa: E402


def whisper_scores(root: Path, transcriber: Transcriber) -> dict:
    out = {}
    for split in ("train", "valid"):
        records = json.loads((root / "metadata" / f"{split}_metadata.json").read_text())
        for r in records:
            x, sr = sf.read(root / "audio" / split / "signals" / f"{r['signal']}.flac", dtype="float64")
            res = score_ears(transcriber, x, sr, r["prompt"])
            out[r["signal"]] = {"split": split, "whisper": res["better_ear"], "hypotheses": res["hypotheses"], "correctness": r["correctness"], "hearing_loss": r["hearing_loss"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/tmp/cadenza_demo/clip1"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--beam", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    make_clip_demo(args.root, seed=args.seed)
    t1 = time.perf_counter()
    scores = whisper_scores(args.root, Transcriber(beam_size=args.beam))
    t2 = time.perf_counter()
    (args.root / "whisper_scores.json").write_text(json.dumps(scores, indent=1))
    tr = [v for v in scores.values() if v["split"] == "train"]
    va = [v for v in scores.values() if v["split"] == "valid"]
    xt, yt = np.array([v["whisper"] for v in tr]), np.array([v["correctness"] for v in tr])
    xv, yv = np.array([v["whisper"] for v in va]), np.array([v["correctness"] for v in va])
    mapping = LogisticMap().fit(xt, yt)
    pred = mapping.predict(xv)
    const = np.full_like(yv, yt.mean())
    s = compute_scores(pred, yv)
    ci = bootstrap_ci(pred, yv, metrics=("RMSE", "NCC"), n_boot=1000, seed=0)
    print(f"demo build {t1 - t0:.1f} s, Whisper on {len(scores)} items x 2 ears {t2 - t1:.1f} s")
    print(f"logistic map: x0={mapping.x0:.3f} k={mapping.k:.3f}; train whisper mean {xt.mean():.3f}, label mean {yt.mean():.1f}")
    print("| valid system | RMSE | NCC | KT |")
    print("|---|---|---|---|")
    print(f"| Whisper tiny.en + logistic | {s['RMSE']:.2f} [{ci['RMSE'][0]:.2f}, {ci['RMSE'][1]:.2f}] | {s['NCC']:.3f} [{ci['NCC'][0]:.2f}, {ci['NCC'][1]:.2f}] | {s['KT']:.3f} |")
    print(f"| constant (train mean {yt.mean():.1f}) | {rmse(const, yv):.2f} | - | - |")
    print(f"train NCC(whisper, labels) = {np.corrcoef(xt, yt)[0, 1]:.3f}")


if __name__ == "__main__":
    main()
