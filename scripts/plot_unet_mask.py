"""Plot what the trained `unet_mask` does to one CLIP1 demo excerpt, as seed 000's figures 2, 3 and 6:
the input, mask and output spectrograms beside the clean vocals (`<out>/unet_mask_spectrograms.png`),
and the bottleneck's self-attention (`<out>/unet_mask_attention.png`).

    python3 scripts/plot_unet_mask.py [--out plots] [--signal ID] [--checkpoint DIR] [--split valid]
                                      [--dpi 90] [--colors N]

(docs/unet_mask_*.png: ``--out docs --dpi 68 --colors 96``, a 96-colour palette to keep them small.)

The model is the one `run_recipe.py cad_icassp_2026 --system unet_mask+whisper` trained
(`exp/cad_icassp_2026/checkpoints/unet_mask/<preset>/`, or `--checkpoint`); nothing is trained here.
The input is the excerpt's unprocessed signal (left channel, at the model's rate), what the masker
was trained on; its clean vocals come from the demo's `stems/`. The attention figure shows the
4-head average of the attention weights over the bottleneck's (frequency x time) positions, and how
much attention each position receives (the column sums) laid out on the bottleneck grid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def find_checkpoint(task, given: Path | None) -> Path:
    """`given`, else the recipe's trained demo or full model folder (one-line error if none)."""
    from harness.errors import HarnessError

    if given is not None:
        candidates = [Path(given)]
    else:
        root = Path(task.cfg.path.exp_root) / task.task_id / "checkpoints" / "unet_mask"
        candidates = [root / "demo", root / "full"]
    for folder in candidates:
        if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
            return folder
    raise HarnessError(f"no trained unet_mask model in {', '.join(map(str, candidates))}: run "
                       "run_recipe.py cad_icassp_2026 --system unet_mask+whisper first, or pass --checkpoint")


def spectrogram_db(magnitude: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(magnitude, 1e-5))


def save(fig, path: Path, dpi: int, colors: int | None) -> None:
    """Write `fig` as PNG; with `colors`, re-save it with a palette of that many colours."""
    fig.savefig(path, dpi=dpi)
    if colors:
        from PIL import Image

        Image.open(path).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("plots"))
    parser.add_argument("--signal", default=None, help="signal id (default: the split's first)")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--dpi", type=int, default=90)
    parser.add_argument("--colors", type=int, default=None, help="palette colours (smaller files); default: full colour")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from baselines.models.hf_checkpoint import load_pretrained
    from evaluators.resample import resample
    from harness.errors import HarnessError
    from harness.recipe import load_config, make_task, select

    recipe = select("cad_icassp_2026", None)[0]
    task = make_task(recipe, load_config(recipe))
    try:
        task.prepare_data()
        folder = find_checkpoint(task, args.checkpoint)
        dataset = task.dataset(args.split)
        names = sorted(dataset.songs)
        name = args.signal or names[0]
        if name not in dataset.songs:
            raise HarnessError(f"signal {name!r} is not in the {args.split} split")
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    model = load_pretrained(folder)
    rate = int(model.cfg.samplerate)
    song = dataset.songs[name]
    mixture = resample(dataset.load_track(song.mixture)[:, 0], dataset.sample_rate, rate, "polyphase")
    vocals = resample(dataset.load_song_sources(song)["vocals"][:, 0], dataset.sample_rate, rate, "polyphase")
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(mixture))[None]
        spec, mask, masked = model.spectra(x)
        clean = model.stft(torch.from_numpy(np.ascontiguousarray(vocals))[None]).abs()
    attention = model.attention[0].numpy()
    spec, mask, masked, clean = spec[0].abs().numpy(), mask[0].numpy(), masked[0].numpy(), clean[0].numpy()
    seconds = len(mixture) / rate
    extent = (0, seconds, 0, rate / 2000)

    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True, sharey=True)
    top = spectrogram_db(spec).max()
    panels = [("input: unprocessed (music + vocals)", spectrogram_db(spec), "magma", (top - 80, top)),
              ("mask (0..1)", mask, "viridis", (0, 1)),
              ("output: mask x input (mixture phase)", spectrogram_db(masked), "magma", (top - 80, top)),
              ("clean vocals (training target)", spectrogram_db(clean), "magma", (top - 80, top))]
    for ax, (title, image, cmap, (lo, hi)) in zip(axes.flat, panels):
        shown = ax.imshow(image, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=9)
        fig.colorbar(shown, ax=ax, label="dB" if cmap == "magma" else "gain")
    for ax in axes[1]:
        ax.set_xlabel("time (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("frequency (kHz)")
    fig.suptitle(f"unet_mask on CLIP1 demo {args.split} excerpt {name} (left channel, {rate} Hz; {folder.name} model)",
                 fontsize=10)
    fig.tight_layout()
    spectra_png = args.out / "unet_mask_spectrograms.png"
    save(fig, spectra_png, args.dpi, args.colors)
    plt.close(fig)

    frames = spec.shape[-1]
    levels = len(model.encoder)
    grid_f = -(-spec.shape[0] // 2**levels)
    grid_t = -(-frames // 2**levels)
    received = attention.sum(0).reshape(grid_f, grid_t)  # rows (queries) sum to 1: column sums average to 1
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.4]})
    shown = left.imshow(attention, cmap="viridis", aspect="auto")
    left.set_title(f"bottleneck attention (4-head mean), {attention.shape[0]} positions\n"
                   f"(frequency-major: position = f x {grid_t} + t)", fontsize=9)
    left.set_xlabel("key position")
    left.set_ylabel("query position")
    fig.colorbar(shown, ax=left)
    shown = right.imshow(received, origin="lower", aspect="auto", cmap="inferno",
                         extent=(0, grid_t * 2**levels * model.hop / rate, 0, grid_f * 2**levels * rate / model.cfg.n_fft / 1000))
    right.set_title("attention received per bottleneck position (column sum; mean 1)", fontsize=9)
    right.set_xlabel("time (s)")
    right.set_ylabel("frequency (kHz)")
    fig.colorbar(shown, ax=right)
    fig.tight_layout()
    attention_png = args.out / "unet_mask_attention.png"
    save(fig, attention_png, args.dpi, args.colors)
    plt.close(fig)
    print(f"wrote {spectra_png} and {attention_png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
