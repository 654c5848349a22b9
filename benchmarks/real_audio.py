"""Scores on real recordings: SDR and HAAQI on stempeg's MUSDB-style excerpt, Whisper
correctness on recorded Asterisk prompts (the fixtures of tests/test_real_audio.py).

    python benchmarks/real_audio.py [--prompts 8] [--per-prompt]

MUSDB excerpt: the mixture (the sum of the four decoded stems) taken as the estimate of each
stem: museval-style median SDR (dB, evaluators/sdr.py) and HAAQI per ear (evaluators/haaqi.py,
equalisation 2, level1 65 dB, seed 0, a mild sloping loss) against the stem; also how far the
file's own AAC mixture is from the stems' sum (SNR, dB). Prompts: Whisper tiny.en (int8, CPU)
on each 8 kHz prompt (evaluators/whisper.py ``score_ears``), correctness against its transcript
(evaluators/lyrics.py), the mean, and the real-time factor. Wall-clock times depend on the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.real_audio import FixtureUnavailable, asterisk_prompts, musdb_example  # noqa: E402
from tests.test_real_audio import MILD  # noqa: E402


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def musdb_table() -> None:
    from clarity.utils.audiogram import Audiogram

    from evaluators.haaqi import compute_haaqi
    from evaluators.sdr import museval_sdr

    audio, rate = musdb_example()
    mixture = audio["mixture"]
    n = min(len(mixture), len(audio["aac_mixture"]))
    off = audio["aac_mixture"][:n] - mixture[:n]
    snr = 10 * np.log10(np.sum(mixture[:n] ** 2) / np.sum(off**2))
    stems = ("drums", "bass", "other", "vocals")
    print(f"stempeg example excerpt: {len(mixture) / rate:.2f} s, {rate} Hz stereo; AAC mixture vs stems' sum: SNR {snr:.1f} dB\n")
    t = time.perf_counter()
    sdr = museval_sdr({s: mixture for s in stems}, {s: audio[s] for s in stems}, rate)
    sdr_s = time.perf_counter() - t
    audiogram = Audiogram(levels=np.array(MILD[1], dtype=float), frequencies=np.array(MILD[0]))
    print("| stem | SDR of the mixture (dB) | HAAQI left | HAAQI right |")
    print("|---|---|---|---|")
    t = time.perf_counter()
    for s in stems:
        h = [compute_haaqi(mixture[:, ch], audio[s][:, ch], rate, rate, audiogram, 2, 65.0, seed=0) for ch in (0, 1)]
        print(f"| {s} | {sdr[s]:.2f} | {h[0]:.4f} | {h[1]:.4f} |")
    print(f"\nSDR {sdr_s:.2f} s for 4 stems; HAAQI {time.perf_counter() - t:.2f} s for 8 ears (first call includes numba's cache load)\n")


def prompts_table(n: int, per_prompt: bool) -> None:
    from evaluators.whisper import Transcriber, score_ears

    prompts = asterisk_prompts(n)
    t = time.perf_counter()
    transcriber = Transcriber(device="cpu")
    load = time.perf_counter() - t
    scores, audio_s, busy = [], 0.0, 0.0
    if per_prompt:
        print("| prompt | words | correctness | hypothesis |")
        print("|---|---|---|---|")
    for name, x, rate, text in prompts:
        t = time.perf_counter()
        out = score_ears(transcriber, x[:, None], rate, text)
        busy += time.perf_counter() - t
        audio_s += len(x) / rate
        scores.append(out["better_ear"])
        if per_prompt:
            print(f"| {name} | {out['scores'][0].n_words} | {out['better_ear']:.3f} | {out['hypotheses'][0]} |")
    print(f"\nAsterisk prompts: {len(prompts)}, {audio_s:.1f} s of 8 kHz speech; Whisper tiny.en int8 CPU "
          f"(model load {load:.2f} s): mean correctness {np.mean(scores):.3f}, min {min(scores):.3f}, "
          f"RTF {busy / audio_s:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--per-prompt", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{_cpu()}, {os.cpu_count()} cores visible, 1-min load {load:.1f}\n")
    for table, targs in ((musdb_table, ()), (prompts_table, (args.prompts, args.per_prompt))):
        try:
            table(*targs)
        except FixtureUnavailable as err:
            print(f"skipped: {err}\n")


if __name__ == "__main__":
    main()
