"""Spectrograms of one demo song: its mixture and each stem, one row each (docs/demo_spectrogram.png).

    python scripts/plot_demo.py [--set musdb4|cad2_task2] [--out docs/demo_spectrogram.png]

The song is built fresh in a temporary folder (deleted afterwards) with the set's generator:
``musdb4``, the first training track of ``make_musdb4_demo(seed=0, n_train=1, n_test=0)``
(vocals, drums, bass, other); ``cad2_task2``, the first valid song of a two-song
``make_demo`` (its instruments). Log-magnitude STFT of the left+right mean (2048-point Hann
window, hop 512), on a log-frequency axis from 40 Hz to 16 kHz, dB relative to the mixture's
peak, the bottom 80 dB shown; saved with a 64-colour palette.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _song(which: str, folder: Path) -> tuple[str, dict[str, np.ndarray], int]:
    import soundfile as sf

    if which == "musdb4":
        from harness.demo.musdb4 import STEMS, make_musdb4_demo

        root = make_musdb4_demo(folder / "musdb4", seed=0, n_train=1, n_test=0, seconds=10.0)
        track = next((root / "train").iterdir())
        genre = json.loads((root / "metadata.json").read_text())["train"][track.name]["genre"]
        names = ("mixture", *STEMS)
        audio = {n: sf.read(track / f"{n}.wav")[0] for n in names}
        return f"{track.name} ({genre})", audio, 44100
    from harness.demo.cad2_task2 import make_demo

    root = make_demo(folder / "cad2", train_songs=2, valid_songs=1, valid_seconds=8.0)
    song, entry = next(iter(json.loads((root / "metadata" / "music.valid.json").read_text()).items()))
    audio = {("mixture" if k == "mixture" else t["instrument"]): sf.read(root / "audio" / t["track"])[0]
             for k, t in entry.items()}
    return song, {"mixture": audio.pop("mixture"), **audio}, 44100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=("musdb4", "cad2_task2"), default="musdb4")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "demo_spectrogram.png")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import stft

    with tempfile.TemporaryDirectory() as tmp:
        title, audio, rate = _song(args.set, Path(tmp))
    specs = {}
    for name, x in audio.items():
        f, t, z = stft(x.mean(axis=1), rate, window="hann", nperseg=2048, noverlap=2048 - 512)
        specs[name] = 20 * np.log10(np.abs(z) + 1e-10)
    top = specs["mixture"].max()
    keep = (f >= 40) & (f <= 16000)
    fig, axes = plt.subplots(len(specs), 1, figsize=(7, 1.35 * len(specs) + 0.4), sharex=True, dpi=72)
    for ax, (name, s) in zip(axes, specs.items()):
        ax.pcolormesh(t, f[keep], s[keep] - top, vmin=-80, vmax=0, cmap="magma", shading="auto", rasterized=True)
        ax.set_yscale("log")
        ax.set_yticks([100, 1000, 10000], ["100", "1k", "10k"])
        ax.set_ylabel("Hz")
        ax.text(0.01, 0.85, name, transform=ax.transAxes, color="white", fontsize=9, weight="bold")
    axes[0].set_title(f"demo {args.set}: {title}", fontsize=9)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=72)
    from PIL import Image  # matplotlib's own dependency

    with Image.open(args.out) as image:  # a 64-colour palette keeps the PNG small
        small = image.convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
