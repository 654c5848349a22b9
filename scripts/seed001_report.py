"""Seed 001's Table 3/4 layout for a separator and its generative post-processors: per stem, rows =
metrics, columns = pipeline stages, on a task's demo valid split and (VDBO tasks) on stempeg's
real excerpt; with the codec's token diagnostics.

    python scripts/seed001_report.py [--recipe cad2/task2] [--separator arunet] [--codebooks 1,4,8]
                                     [--real] [--exp-root exp] [--out plots/seed001_cad2_task2] [key=value ...]
    python scripts/seed001_report.py --recipe cad_icassp_2024 --separator umx4 --real

Uses the checkpoints of an earlier ``run_recipe.py <recipe> --system <separator>+msg,<separator>+codec``
in the same experiment root (and trains what is missing, as the runner would). Stages (columns):

* ``mixture``: the mixture as every stem's estimate;
* ``<sep>``: the separator's stems (the separation cache, as the leaderboard's runs);
* ``<sep>+msg``: each stem through ``msg``;
* ``<sep>+codec(k)``: each stem through the codec, decoded from its first k codebooks;
* ``ceiling(k)``: the true stems through the same codec (the codec ceiling beside each codec column).

Rows (per stem, mean over the songs that have it; the "all stems" table pools every song's
stems): BSSEval v4 SDR, SIR, SAR, ISR with 1 s windows and hops, aggregated over frames by the
median (SiSEC) and by the mean (``evaluators.sdr.bsseval_v4``, ``aggregate_frames``; the song's
stems are the sources, so SIR counts the other stems' leakage), SI-SDR
(``evaluators.sdr.si_sdr``), and the perceptual proxies (``evaluators.perceptual``: 98 %
roll-off distance, onset F1, centroid, flatness and loudness differences); the "all stems"
table adds HAAQI through the task's own chain (gains, remix, hearing aid, ``Task.score_separations``;
tasks without it, and the real excerpt, have none). Token diagnostics: per codebook, the share of
frames where the codec's token of the separator's estimate equals the token of the true stem
(the seed's per-RVQ-layer token accuracy), and codebook-usage histograms of both.

Writes ``<out>.md`` (tables), ``<out>_stems.csv`` (per song, stem and stage), ``<out>_haaqi.csv``,
``<out>_tokens.csv`` and ``<out>_tokens.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SDR_ROWS = [(f"{m}_{how}", f"{m.upper()} ({how} over frames), dB") for m in ("sdr", "sir", "sar", "isr")
            for how in ("median", "mean")]
ROWS = [*SDR_ROWS, ("si_sdr", "SI-SDR, dB"), ("rolloff_distance_hz", "98 % roll-off distance, Hz (lower is better)"),
        ("onset_f1", "onset F1 (higher is better)"), ("centroid_diff_hz", "centroid difference, Hz (0 is best)"),
        ("flatness_diff", "flatness difference (0 is best)"), ("loudness_diff_lu", "loudness difference, LU (0 is best)")]


def stem_scores(estimates: dict, references: dict, rate: int) -> dict[str, dict[str, float]]:
    """Per stem: the SDR family (median and mean over 1 s frames), SI-SDR and the perceptual proxies."""
    from evaluators.perceptual import perceptual_metrics
    from evaluators.sdr import aggregate_frames, bsseval_v4, si_sdr

    names = sorted(references)
    n = min(min(len(references[k]), len(estimates[k])) for k in names)
    refs = np.stack([np.asarray(references[k][:n], dtype=np.float64) for k in names])
    ests = np.stack([np.asarray(estimates[k][:n], dtype=np.float64) for k in names])
    out = {k: {} for k in names}
    try:
        frames = bsseval_v4(ests, refs, rate) if len(names) > 1 else None
    except ValueError:  # a silent stem or estimate: BSSEval is undefined
        frames = None
    for i, k in enumerate(names):
        for metric in ("sdr", "sir", "sar", "isr"):
            for how in ("median", "mean"):
                out[k][f"{metric}_{how}"] = (float(aggregate_frames(frames[metric][i:i + 1], how)[0])
                                             if frames is not None else float("nan"))
        out[k]["si_sdr"] = si_sdr(ests[i], refs[i])
        out[k].update(perceptual_metrics(ests[i], refs[i], rate))
    return out


def stages(separator: str, codebooks: list[int]) -> list[str]:
    labels = ["mixture", separator, f"{separator}+msg"]
    for k in codebooks:
        labels += [f"{separator}+codec({k})", f"ceiling({k})"]
    return labels


def build(recipe_id: str, separator_name: str, codebooks: list[int], overrides: list[str]):
    from baselines.codec import CodecEnhancer
    from baselines.msg import MSGEnhancer
    from harness import registry
    from harness.recipe import load_config, make_task, select

    challenge, _, task_name = recipe_id.partition("/")
    recipe = select(challenge, task_name or None)[0]
    cfg = load_config(recipe, overrides)
    task = make_task(recipe, cfg)
    task.prepare_data()
    ctx = registry.context(task, Path(cfg.path.exp_root) / recipe.task_id / f"{separator_name}+codec")
    separator = registry.build_chain(separator_name, cfg, ctx.separation_cache_dir)
    separator.prepare(ctx)
    section = dict(cfg.systems.get("codec", {}) or {})
    base = CodecEnhancer(section)
    base.prepare(ctx)
    codecs = {k: CodecEnhancer({**section, "codebooks": k}).use(base.model, base.model_dir) for k in codebooks}
    msg = MSGEnhancer(dict(cfg.systems.get("msg", {}) or {}))
    msg.chain_input = separator_name
    msg.prepare(ctx)
    return task, cfg, separator, base, codecs, msg


def separations(mixture, references, stems, separator_name, codecs, msg, rate) -> dict[str, dict]:
    out = {"mixture": {k: mixture for k in references}, separator_name: stems,
           f"{separator_name}+msg": {k: msg.post_process(v, rate, source=k, mixture=mixture) for k, v in stems.items()}}
    for k, codec in codecs.items():
        out[f"{separator_name}+codec({k})"] = {s: codec.enhance(v, rate) for s, v in stems.items()}
        out[f"ceiling({k})"] = {s: codec.enhance(v, rate) for s, v in references.items()}
    return out


def tokens(codec, estimates: dict, references: dict, rate: int):
    """(per-codebook token accuracy, usage of the true stems' tokens, usage of the estimates') of one song."""
    import torch

    from baselines.models.rvq import codebook_usage, token_accuracy

    size, n_q = codec.model.cfg.codebook_size, codec.model.cfg.n_q
    accuracy, usage_ref, usage_est = [], np.zeros((n_q, size)), np.zeros((n_q, size))
    for k, ref in references.items():
        if not np.any(ref) or not np.any(estimates[k]):
            continue
        a, b = codec.tokens(estimates[k], rate, n_q), codec.tokens(ref, rate, n_q)
        accuracy.append(token_accuracy(torch.from_numpy(a), torch.from_numpy(b)).numpy())
        usage_est += codebook_usage(torch.from_numpy(a), size).numpy()
        usage_ref += codebook_usage(torch.from_numpy(b), size).numpy()
    return accuracy, usage_ref, usage_est


def evaluate(recipe_id, separator_name, codebooks, overrides, real: bool):
    import pandas as pd

    task, cfg, separator, base, codecs, msg = build(recipe_id, separator_name, codebooks, overrides)
    ds = task.dataset(cfg.split)
    rate = int(ds.sample_rate)
    stem_rows, haaqi_rows, token_rows = [], [], []
    usage = {"reference": 0, "estimate": 0}
    items = []
    for name, song in sorted(ds.songs.items()):
        mixture = ds.load_track(song.mixture, allow_silence=False)
        references = {k: v[: len(mixture)] for k, v in ds.load_instrument_stems(song).items()}
        items.append(("demo valid", name, mixture, references))
    if real:
        from tests.real_audio import FixtureUnavailable, musdb_example

        try:
            audio, real_rate = musdb_example()
        except FixtureUnavailable as error:
            print(f"stempeg excerpt unavailable: {error}", file=sys.stderr)
        else:
            if real_rate != rate:
                raise SystemExit(f"the stempeg excerpt is at {real_rate} Hz, the task at {rate} Hz")
            refs = {s: audio[s].astype(np.float32) for s in ("vocals", "drums", "bass", "other")}
            items.append(("stempeg excerpt", "The Easton Ellises - Falcon 69", audio["mixture"].astype(np.float32), refs))
    for data, name, mixture, references in items:
        started = time.perf_counter()
        stems = separator.separate(mixture, sorted(references))
        seps = separations(mixture, references, stems, separator_name, codecs, msg, rate)
        for label, estimates in seps.items():
            for stem, scores in stem_scores(estimates, references, rate).items():
                stem_rows.append({"data": data, "song": name, "stem": stem, "stage": label, **scores})
        if data == "demo valid" and hasattr(task, "score_separations"):
            heard = {**seps, "mixture": {"mixture": mixture}}  # the mixture at 0 dB, as the task's `mixture` system
            for label, values in task.score_separations(cfg.split, name, heard).items():
                haaqi_rows += [{"data": data, "song": name, "pair": i, "stage": label, "haaqi": v} for i, v in enumerate(values)]
        accuracy, used_ref, used_est = tokens(base, stems, references, rate)
        token_rows += [{"data": data, "song": name, "codebook": i + 1, "accuracy": a} for acc in accuracy for i, a in enumerate(acc)]
        if data == "demo valid":
            usage["reference"] = usage["reference"] + used_ref
            usage["estimate"] = usage["estimate"] + used_est
        print(f"{data} {name}: {time.perf_counter() - started:.1f} s", flush=True)
    info = {"separator": separator_name, "codec": base.model.cfg.to_dict(), "codec_dir": str(base.model_dir),
            "msg_dir": str(msg.model_dir), "processing": base.processing(base.model_rate),
            "msg_processing": msg.processing(msg.model_rate)}
    return pd.DataFrame(stem_rows), pd.DataFrame(haaqi_rows), pd.DataFrame(token_rows), usage, info


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.4f}"


def tables(stems, haaqi, tokens_frame, labels: list[str], info: dict) -> str:
    lines = [f"Separator `{info['separator']}`; codec {info['codec']['n_q']} codebooks of {info['codec']['codebook_size']} "
             f"at {info['codec']['sample_rate']} Hz (hop {int(np.prod(info['codec']['strides']))}); rate and channel policy "
             f"{info['processing']}; MSG at {info['msg_processing']['model_sample_rate']} Hz.", ""]
    for data, frame in stems.groupby("data", sort=False):
        groups = [("all stems", frame)] + [(stem, sub) for stem, sub in frame.groupby("stem")]
        for stem, sub in groups:
            n = sub[sub["stage"] == labels[0]].shape[0]
            lines += [f"### {data}: {stem} (mean over {n} song-stem(s))", "",
                      "| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
            for key, title in ROWS:
                means = sub.groupby("stage")[key].apply(lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan)
                lines.append(f"| {title} | " + " | ".join(_fmt(means.get(lab, np.nan)) for lab in labels) + " |")
            if stem == "all stems" and not haaqi.empty and data in set(haaqi["data"]):
                h = haaqi[haaqi["data"] == data].groupby("stage")["haaqi"].mean()
                count = int((haaqi[(haaqi["data"] == data)]["stage"] == labels[0]).sum())
                lines.append(f"| HAAQI (task chain, {count} pairs) | " + " | ".join(
                    f"{h.get(lab, np.nan):.3f}" if np.isfinite(h.get(lab, np.nan)) else "n/a" for lab in labels) + " |")
            lines.append("")
    if not tokens_frame.empty:
        lines += ["### Token accuracy: the codec's tokens of the separator's estimates vs of the true stems", "",
                  "| data | " + " | ".join(f"codebook {i}" for i in sorted(tokens_frame['codebook'].unique())) + " |",
                  "|---|" + "---|" * tokens_frame["codebook"].nunique()]
        for data, sub in tokens_frame.groupby("data", sort=False):
            acc = sub.groupby("codebook")["accuracy"].mean()
            lines.append(f"| {data} | " + " | ".join(f"{a:.3f}" for a in acc) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_tokens(usage: dict, tokens_frame, path: Path, info: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, est = np.asarray(usage["reference"], float), np.asarray(usage["estimate"], float)
    if ref.ndim != 2:
        return
    n_q = ref.shape[0]
    shown = [i for i in sorted({0, 1, n_q // 2, n_q - 1}) if i < n_q]
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(3.2 * (len(shown) + 1), 3.0))
    for ax, i in zip(axes, shown):
        order = np.argsort(-ref[i])
        ax.bar(np.arange(ref.shape[1]), ref[i][order] / max(ref[i].sum(), 1), width=1.0, color="#1f77b4", label="true stems")
        ax.bar(np.arange(ref.shape[1]), est[i][order] / max(est[i].sum(), 1), width=1.0, color="#ff7f0e", alpha=0.6,
               label=f"{info['separator']} estimates")
        used = int((ref[i] > 0).sum())
        ax.set_title(f"codebook {i + 1}: {used}/{ref.shape[1]} codes used", fontsize=9)
        ax.set_xlabel("code (by usage on the true stems)", fontsize=8)
        ax.set_yscale("log")
    axes[0].set_ylabel("share of frames")
    axes[0].legend(fontsize=7)
    acc = tokens_frame[tokens_frame["data"] == "demo valid"].groupby("codebook")["accuracy"].mean()
    axes[-1].bar(acc.index, acc.values, color="#2ca02c")
    axes[-1].set_xlabel("codebook")
    axes[-1].set_ylabel("token accuracy")
    axes[-1].set_title("estimate tokens = true-stem tokens", fontsize=9)
    fig.suptitle("codec codebook usage on the demo valid split (log scale) and per-codebook token accuracy", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    from PIL import Image

    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default="cad2/task2")
    ap.add_argument("--separator", default="arunet")
    ap.add_argument("--codebooks", default="1,4,8")
    ap.add_argument("--real", action="store_true", help="also the stempeg excerpt (VDBO tasks)")
    ap.add_argument("--exp-root", default="exp")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    codebooks = [int(k) for k in args.codebooks.split(",")]
    out = args.out or REPO / "plots" / f"seed001_{args.recipe.replace('/', '_')}"
    started = time.perf_counter()
    stems, haaqi, token_frame, usage, info = evaluate(args.recipe, args.separator, codebooks,
                                                      [f"path.exp_root={args.exp_root}", *args.overrides], args.real)
    out.parent.mkdir(parents=True, exist_ok=True)
    stems.to_csv(f"{out}_stems.csv", index=False)
    haaqi.to_csv(f"{out}_haaqi.csv", index=False)
    token_frame.to_csv(f"{out}_tokens.csv", index=False)
    plot_tokens(usage, token_frame, Path(f"{out}_tokens.png"), info)
    text = tables(stems, haaqi, token_frame, stages(args.separator, codebooks), info)
    Path(f"{out}.md").write_text(text + "\n")
    print(text)
    print(f"wall {time.perf_counter() - started:.0f} s; wrote {out}.md, _stems.csv, _haaqi.csv, _tokens.csv, _tokens.png")


if __name__ == "__main__":
    main()
