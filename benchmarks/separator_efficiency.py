"""bilstm_mask in PyTorch, ONNX fp32 and ONNX int8, and its post-processing options, side by
side with the official ConvTasNet (``convtasnet_vocals``, non-causal and causal): parameters,
model file sizes, CPU real-time factor and peak memory on 30 s of stereo, and the vocal
SDR/SIR/SAR of each variant on the CAD2 task 1 evaluation split (``centre`` and the mixture as
references).

    python benchmarks/separator_efficiency.py [--exp-dir exp] [--seconds 30] [--threads 1]
        [--data-root DIR] [override ...]

* Data and model: the CAD2 task 1 recipe (demo data unless ``--data-root``); the model is the
  one ``run_recipe.py cad2 --task task1 --system bilstm_mask --exp-dir EXP`` trains (shared
  checkpoints under ``EXP/cad2/task1/checkpoints``; trained here when missing). Overrides
  (``systems.bilstm_mask.preset=full``) go to the recipe's config.
* SDR: BSSEval v4 (``evaluators.sdr.bsseval_v4``, 1 s windows and hops) of the (vocals,
  accompaniment) estimates of each song's segment mixture against its vocals and the sum of the
  other stems; per song the median over frames, then the median over songs (SiSEC). "mixture"
  scores the mixture as both estimates.
* Speed and memory: each variant in a fresh process: load, one warm-up second, then
  ``separate`` of a ``--seconds`` stereo signal (the evaluation mixtures repeated) with
  ``--threads`` CPU threads; real-time factor = wall time / signal duration; peak memory =
  the process's peak resident set (VmHWM) during ``separate``, after a reset of the mark
  (``/proc/self/clear_refs``), beside its resident set after loading.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402,F401  (CPU numerics before torch)

COMPRESSOR = {"threshold": -25.0, "ratio": 3.0, "attack": 10.0, "release": 100.0, "makeup_gain": 0.0}
VARIANTS = {  # label: (system, extra options)
    "bilstm_mask (PyTorch)": ("bilstm_mask", {}),
    "bilstm_mask_onnx (ONNX fp32)": ("bilstm_mask_onnx", {}),
    "bilstm_mask_int8 (ONNX int8)": ("bilstm_mask_int8", {}),
    "+ median filter 5 bins x 1 frame": ("bilstm_mask", {"median_filter": {"freq": 5, "time": 1}}),
    "+ median filter 1 bin x 5 frames": ("bilstm_mask", {"median_filter": {"freq": 1, "time": 5}}),
    "+ Wiener, 1 iteration": ("bilstm_mask", {"wiener_iterations": 1}),
    "+ Wiener, 3 iterations": ("bilstm_mask", {"wiener_iterations": 3}),
    "+ vocal compressor -25 dB 3:1 10/100 ms": ("bilstm_mask", {"compressor": COMPRESSOR}),
}
TIMED = ("bilstm_mask (PyTorch)", "bilstm_mask_onnx (ONNX fp32)", "bilstm_mask_int8 (ONNX int8)")
CONVTASNETS = ("convtasnet_vocals", "convtasnet_vocals_causal")  # trained here when missing, like bilstm_mask


def setup(exp_dir: Path, data_root: str | None, overrides: list[str], system: str = "bilstm_mask"):
    """(task, run context of `system`) of the CAD2 task 1 recipe."""
    from harness.recipe import load_config, make_task, select
    from harness.registry import context

    recipe = select("cad2", "task1")[0]
    cfg = load_config(recipe, [*overrides, f"path.exp_root={exp_dir}"], data_root)
    task = make_task(recipe, cfg)
    task.prepare_data()
    return task, context(task, Path(cfg.path.exp_root) / "cad2" / "task1" / system)


def build(task, system: str, extra: dict, threads: int):
    from omegaconf import OmegaConf

    from harness.registry import spec

    section = OmegaConf.to_container(task.cfg.systems.get(system, OmegaConf.create({})), resolve=True) \
        if "systems" in task.cfg else {}
    threads = {"threads": threads} if system.startswith(("bilstm_mask", "convtasnet_vocals")) else {}
    return spec(system).factory({**section, **extra, **threads})


def evaluation_songs(task):
    """[(mixture, vocals, accompaniment)] of the evaluation split's segments, each (n, 2)."""
    ds = task.dataset(task.cfg.split)
    out = []
    for name in sorted(ds.songs):
        song = ds.songs[name]
        stems = ds.load_song_sources(song)
        vocals = stems.pop("vocals")
        accompaniment = sum(stems.values())
        n = min(len(vocals), len(accompaniment))
        out.append((ds.load_track(song.mixture)[:n], vocals[:n], accompaniment[:n]))
    return out


def scores(separate, songs, rate: int = 44100) -> dict[str, float]:
    """Median over songs of the per-song median-over-frames vocal SDR, SIR, SAR (dB)."""
    from evaluators.sdr import aggregate_frames, bsseval_v4

    per = {"sdr": [], "sir": [], "sar": []}
    for mixture, vocals, accompaniment in songs:
        est = separate(mixture)
        out = bsseval_v4(np.stack([est["vocals"], est["accompaniment"]]), np.stack([vocals, accompaniment]), rate)
        for key in per:
            per[key].append(aggregate_frames(out[key])[0])
    return {k: float(np.nanmedian(v)) for k, v in per.items()}


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024  # MiB
    return float("nan")


def timed_run(exp_dir: str, data_root, overrides, system: str, threads: int, seconds: float) -> dict:
    """In a fresh process: real-time factor and memory of one variant."""
    task, ctx = setup(Path(exp_dir), data_root, overrides, system.split("_onnx")[0].split("_int8")[0])
    sep = build(task, system, {}, threads)
    sep.prepare(ctx)
    songs = evaluation_songs(task)
    signal = np.concatenate([m for m, _, _ in songs])
    signal = np.tile(signal, (int(np.ceil(seconds * 44100 / len(signal))), 1))[: int(seconds * 44100)]
    sep.separate(signal[:44100], ["vocals", "accompaniment"])  # warm-up
    loaded = _vm("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
    except OSError:
        pass
    start = time.perf_counter()
    sep.separate(signal, ["vocals", "accompaniment"])
    wall = time.perf_counter() - start
    return {"rtf": wall / seconds, "rss_loaded": loaded, "rss_peak": _vm("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-dir", type=Path, default=Path("exp"))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    exp_dir = args.exp_dir.resolve()

    import torch

    from baselines.bilstm_mask_onnx import FP32_NAME, INT8_NAME
    from baselines.models.hf_checkpoint import WEIGHTS_NAME

    task, ctx = setup(exp_dir, args.data_root, args.overrides)
    songs = evaluation_songs(task)
    torch_sep = build(task, "bilstm_mask", {}, args.threads)
    t = time.perf_counter()
    torch_sep.prepare(ctx)  # trains when missing
    prepare_seconds = time.perf_counter() - t
    for system in ("bilstm_mask_onnx", "bilstm_mask_int8"):
        build(task, system, {}, args.threads).prepare(ctx)  # makes the ONNX files
    folder = torch_sep.model_dir
    params = sum(p.numel() for p in torch_sep.model.parameters())
    sizes = {name: (folder / f).stat().st_size / 2**20 for name, f in
             (("PyTorch (safetensors)", WEIGHTS_NAME), ("ONNX fp32", FP32_NAME), ("ONNX int8", INT8_NAME))}

    print(f"model {folder} ({torch_sep.model.cfg.to_dict()}), prepare {prepare_seconds:.1f} s")
    print(f"parameters: {params:,}; files: " + ", ".join(f"{k} {v:.2f} MiB" for k, v in sizes.items()))
    print(f"evaluation split {task.cfg.split}: {len(songs)} songs, {sum(len(m) for m, _, _ in songs) / 44100:.1f} s\n")

    rows = []
    centre = build(task, "centre", {}, args.threads)
    rows.append(("mixture (both estimates)", scores(lambda m: {"vocals": m, "accompaniment": m}, songs)))
    rows.append(("centre", scores(lambda m: centre.separate(m, ["vocals", "accompaniment"]), songs)))
    for label, (system, extra) in VARIANTS.items():
        sep = build(task, system, extra, args.threads)
        sep.prepare(ctx)
        rows.append((label, scores(lambda m, s=sep: s.separate(m, ["vocals", "accompaniment"]), songs)))

    size_of = dict(zip(TIMED, sizes.values()))
    timed = {label: VARIANTS[label][0] for label in TIMED}
    for system in CONVTASNETS:
        from baselines.convtasnet_vocals import TARGET

        _, ctx_c = setup(exp_dir, args.data_root, args.overrides, system)
        sep = build(task, system, {}, args.threads)
        sep.prepare(ctx_c)
        label = f"{system} (PyTorch, {sum(p.numel() for p in sep.models[TARGET].parameters()):,} parameters)"
        rows.append((label, scores(lambda m, s=sep: s.separate(m, ["vocals", "accompaniment"]), songs)))
        size_of[label] = (sep.model_dirs[TARGET] / WEIGHTS_NAME).stat().st_size / 2**20
        timed[label] = system

    timing = {}
    spawn = multiprocessing.get_context("spawn")
    for label, system in timed.items():
        with futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
            timing[label] = pool.submit(timed_run, str(exp_dir), args.data_root, args.overrides,
                                        system, args.threads, args.seconds).result()

    print(f"| variant | vocal SDR (dB) | SIR | SAR | file (MiB) | RTF ({args.seconds:g} s, {args.threads} thread) "
          "| RSS loaded / peak (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for label, s in rows:
        extra = ""
        if label in timing:
            tm = timing[label]
            extra = f" {size_of[label]:.2f} | {tm['rtf']:.3f} | {tm['rss_loaded']:.0f} / {tm['rss_peak']:.0f} |"
        else:
            extra = " | | |"
        print(f"| {label} | {s['sdr']:.2f} | {s['sir']:.2f} | {s['sar']:.2f} |{extra}")


if __name__ == "__main__":
    main()
