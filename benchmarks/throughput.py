"""Scoring throughput against workers: items per minute, side by side in one run.

    python benchmarks/throughput.py [--songs 4] [--system mixture]

Runs the enhance and evaluate stages of CAD2 task 2 on a demo of `--songs` validation songs
(2 scenes x 2 listeners each) with 1 and 2 local workers and, where a local SLURM runs
(`bash scripts/slurm_local.sh start`, SLURM_CONF set), with 2 SLURM worker jobs
(`--backend slurm`). Each configuration starts from an empty experiment folder; worker start-up
counts (it is part of what a user waits for). State the CPU (`lscpu`) with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.cli import main  # noqa: E402


def run(data: Path, exp: Path, system: str, extra: list[str]) -> float:
    args = ["cad2", "--task", "task2", "--system", system, "--alone", "--data-root", str(data), f"--exp-dir={exp}", *extra]
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        code = main(args)
        seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{' '.join(extra)}: exit {code}")
    return seconds


def main_(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--songs", type=int, default=4)
    p.add_argument("--system", default="mixture")
    args = p.parse_args(argv)
    from harness.demo.cad2_task2 import make_demo

    base = Path(tempfile.mkdtemp(prefix="throughput-"))
    data = base / "data"
    make_demo(data, train_songs=2, train_seconds=2.0, valid_songs=args.songs, valid_seconds=8.0, segment_seconds=4.0,
              scenes_per_song=2, listeners_per_scene=2)
    items = args.songs * 2 * 2
    configs = [("1 local worker", ["--jobs", "1"]), ("2 local workers", ["--jobs", "2"])]
    if shutil.which("sbatch") and os.environ.get("SLURM_CONF"):
        configs.append(("2 SLURM jobs", ["--backend", "slurm", "runner.slurm.jobs=2", "runner.slurm.memory=2GB"]))
    else:
        print("(no SLURM: start one with bash scripts/slurm_local.sh start and export SLURM_CONF)")
    print(f"| workers | seconds | items per minute |  ({items} items, {args.system}, enhance + evaluate)\n|---|---|---|")
    for name, extra in configs:
        seconds = run(data, base / name.replace(" ", "_"), args.system, ["--stage", "enhance", *extra])
        seconds += run(data, base / name.replace(" ", "_"), args.system, ["--stage", "evaluate", *extra])
        print(f"| {name} | {seconds:.1f} | {60 * items / seconds:.1f} |", flush=True)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main_()
