"""Plot one CAD1 task 2 demo scene: the spectra at the listener's ears of the music through the
car and of the car noise scaled to the scene's SNR, and the per-band SNR that results.

    python3 scripts/plot_car_scene.py [--out plots/cad1_task2_scene.png] [--scene S500000]

Builds (or reuses) the recipe's demo set, puts the scene's song through the car responses and
the scene's noise (seeded from the scene id) through the anechoic ones, scales the noise to the
scene's SNR by loudness as the evaluation does, and draws Welch spectra of the left ear.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("plots/cad1_task2_scene.png"))
    parser.add_argument("--scene", default=None, help="scene id (default: the split's first)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import welch

    from harness.hearing_aid import loudness, normalise_loudness
    from harness.recipe import load_config, make_task, select
    from harness.task import legacy_rng

    recipe = select("cad1", "task2")[0]
    task = make_task(recipe, load_config(recipe))
    task.prepare_data()
    items = task.work_items()
    item = next((it for it in items if it.fields["scene"] == args.scene), items[0]) if args.scene else items[0]
    scene = task._scenes()[item.fields["scene"]]
    car = task.car_scene()
    rate = car.sample_rate
    song = task._song(item)
    music = car.through_speakers(song, task._responses(task.cfg.split, item.fields["scene"], scene)["car"], "Car")
    noise = car.noise_at_ears(car.car_noise(scene["car_noise_parameters"], song.shape[0] / rate,
                                            legacy_rng(item.fields["scene"])))
    noise = normalise_loudness(noise, rate, loudness(music, rate) - float(scene["snr"]))[: music.shape[0]]
    f, p_music = welch(music[:, 0], rate, nperseg=4096)
    _, p_noise = welch(noise[:, 0], rate, nperseg=4096)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.semilogx(f[1:], 10 * np.log10(p_music[1:] + 1e-20), label="music through the car (left ear)")
    top.semilogx(f[1:], 10 * np.log10(p_noise[1:] + 1e-20), label=f"car noise at {scene['snr']:.1f} dB SNR (loudness)")
    top.set_ylabel("power (dB/Hz)")
    top.legend(fontsize=8)
    top.set_title(f"{item.fields['scene']}: {scene['song_path']}, {scene['car_noise_parameters']['speed']:.0f} km/h, "
                  f"hr {scene['hr']} (synthetic responses)", fontsize=9)
    bottom.semilogx(f[1:], 10 * np.log10((p_music[1:] + 1e-20) / (p_noise[1:] + 1e-20)))
    bottom.axhline(0, color="k", lw=0.5)
    bottom.set_ylabel("SNR per frequency (dB)")
    bottom.set_xlabel("frequency (Hz)")
    bottom.set_xlim(20, rate / 2)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
