"""The msanii post-processor's strength sweep on the CAD2 task 2 demo valid split, and its figures.

    python scripts/msanii_sweep.py [--strengths 0,100,500,900] [--exp-root exp] [--out plots/msanii_sweep]
                                   [key=value ...]   # recipe overrides, e.g. systems.msanii.steps=100

Uses the checkpoints of an earlier ``run_recipe.py cad2 --task task2 --system arunet,arunet+msanii``
in the same experiment root (trains what is missing, as the runner would). For every valid song:
arunet's stems of the scored segment (the separation cache), then each stem through msanii at
each t (same options otherwise). Scores per t against the control (arunet's stems unchanged):

* HAAQI, mean of the ears, per (scene, listener) pair, scored as the task scores a separation
  (``Task.score_separations``: gains, remix, hearing aid, HAAQI);
* SDR (BSSEval v4, median over 1 s frames, ``evaluators.sdr.museval_sdr``) and SI-SDR
  (``evaluators.sdr.si_sdr``) per stem against the true stem.

Each t's mean paired difference from the control with its seeded paired-bootstrap 95 % interval
and Wilcoxon p (``evaluators.paired``). Writes ``<out>.md`` (the table), ``<out>_haaqi.csv`` and
``<out>_stems.csv`` (per-item values) and ``<out>.png`` (the seed's figure 3 layout: input, noised and denoised mel of one stem
per t, left channel).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run(strengths: list[int], overrides: list[str]):
    import pandas as pd

    from baselines.msanii.system import MsaniiEnhancer
    from evaluators.sdr import museval_sdr, si_sdr
    from harness import registry
    from harness.recipe import load_config, make_task, select

    recipe = select("cad2", "task2")[0]
    cfg = load_config(recipe, overrides)
    task = make_task(recipe, cfg)
    if not cfg.path.is_demo:
        print("note: not the demo data", file=sys.stderr)
    if not (Path(cfg.path.root) / "metadata").is_dir():
        task.make_demo(Path(cfg.path.root))
    ctx = registry.context(task, Path(cfg.path.exp_root) / recipe.task_id / "arunet+msanii")
    separator = registry.build_chain("arunet", cfg, ctx.separation_cache_dir)
    separator.prepare(ctx)
    section = dict(cfg.systems.get("msanii", {}) or {})
    base = MsaniiEnhancer({**section, "strength": strengths[0]})
    base.prepare(ctx)
    enhancers = {t: MsaniiEnhancer({**section, "strength": t}).use(base.model, ctx.seed) for t in strengths}
    ds = task.dataset(cfg.split)
    rate = int(ds.sample_rate)
    haaqi_rows, stem_rows, figure = [], [], None
    for name, song in sorted(ds.songs.items()):
        mixture = ds.load_track(song.mixture, allow_silence=False)
        stems = separator.separate(mixture, song.instruments)
        references = ds.load_instrument_stems(song)
        separations = {"control": stems}
        for t, enhancer in enhancers.items():
            started = time.perf_counter()
            separations[f"t{t}"] = {k: enhancer.enhance(v, rate) for k, v in stems.items()}
            print(f"{name} t={t}: {time.perf_counter() - started:.1f} s for {len(stems)} stems", flush=True)
        if figure is None:
            first = song.instruments[0]
            figure = (name, first, {t: e.spectrograms(stems[first], rate) for t, e in enhancers.items()})
        scores = task.score_separations(cfg.split, name, separations)
        for label, values in scores.items():
            haaqi_rows += [{"song": name, "pair": i, "label": label, "haaqi": v} for i, v in enumerate(values)]
        for label, estimate in separations.items():
            sdr = museval_sdr({k: estimate[k] for k in references}, references, rate)
            for k in references:
                n = min(len(estimate[k]), len(references[k]))
                stem_rows.append({"song": name, "stem": k, "label": label, "sdr": sdr[k],
                                  "si_sdr": si_sdr(estimate[k][:n], references[k][:n])})
    return pd.DataFrame(haaqi_rows), pd.DataFrame(stem_rows), figure


def table(haaqi, stems, strengths: list[int]) -> str:
    from evaluators.paired import paired
    from harness.leaderboard import mean_ci

    lines = ["| t | HAAQI mean | HAAQI diff [95% CI] | SDR mean (dB) | SDR diff [95% CI] | SI-SDR mean (dB) | SI-SDR diff [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    h = haaqi.pivot_table(index=["song", "pair"], columns="label", values="haaqi")
    s = stems.pivot_table(index=["song", "stem"], columns="label", values=["sdr", "si_sdr"])
    for label in ["control", *[f"t{t}" for t in strengths]]:
        cells = [label if label == "control" else label[1:]]
        for frame, unit in ((h, None), (s["sdr"], "dB"), (s["si_sdr"], "dB")):
            fmt = "{:.3f}" if unit is None else "{:.2f}"
            both = frame[list(dict.fromkeys([label, "control"]))].replace([np.inf, -np.inf], np.nan).dropna()
            mean, half, _ = mean_ci(both[label])
            cells.append(f"{fmt.format(mean)} ± {fmt.format(half)}")
            if label == "control":
                cells.append("-")
            else:
                r = paired(both[label], both["control"])
                cells.append(f"{fmt.format(r.mean)} [{fmt.format(r.lo)}, {fmt.format(r.hi)}], p {r.p:.2g}, n {r.n}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(figure, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    song, stem, mels = figure
    rows = ("input", "noised", "denoised")
    fig, axes = plt.subplots(len(rows), len(mels), figsize=(3.2 * len(mels), 7), sharex=True, sharey=True)
    axes = np.atleast_2d(axes).reshape(len(rows), len(mels))
    for j, (t, m) in enumerate(mels.items()):
        for i, row in enumerate(rows):
            ax = axes[i, j]
            ax.imshow(m[row][0], origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma", interpolation="nearest")
            ax.set_title(f"{row}, t = {t}", fontsize=9)
            if j == 0:
                ax.set_ylabel("mel band")
            if i == len(rows) - 1:
                ax.set_xlabel("frame (hop 1024)")
    fig.suptitle(f"msanii SDEdit on arunet's {stem} stem of {song} (scaled log-mel, left channel)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    from PIL import Image

    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)  # a 64-colour palette: a few hundred kB less


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--strengths", default="0,100,500,900")
    ap.add_argument("--exp-root", default="exp")
    ap.add_argument("--out", type=Path, default=REPO / "plots" / "msanii_sweep")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    strengths = [int(t) for t in args.strengths.split(",")]
    started = time.perf_counter()
    haaqi, stems, figure = run(strengths, [f"path.exp_root={args.exp_root}", *args.overrides])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    haaqi.to_csv(f"{args.out}_haaqi.csv", index=False)  # the scores first: the table is made from these files
    stems.to_csv(f"{args.out}_stems.csv", index=False)
    plot(figure, args.out.with_suffix(".png"))
    text = table(haaqi, stems, strengths)
    (args.out.with_suffix(".md")).write_text(text + "\n")
    print(text)
    print(f"wall {time.perf_counter() - started:.0f} s; wrote {args.out}.md, _haaqi.csv, _stems.csv, .png")


if __name__ == "__main__":
    main()
