"""Whisper real-time factor per ear on CPU over the committed demo lyric clips.

    python benchmarks/whisper_rtf.py [--beams 1 5] [--threads 0] [--repeats 1] [--per-clip]

RTF = transcription time / audio duration for one ear (one channel at 44.1 kHz, so the
16 kHz resampling inside the transcriber is counted). The model is loaded and warmed up on
one clip first; load time is printed separately. Also prints the mean correctness of the
transcripts against the lyric text so that speed and accuracy are read together.

Whisper pads every input to a 30 s window, so the encoder costs about the same for a 2 s or
a 30 s excerpt: the RTF of these short clips (2-5 s) is much higher than on long audio.
Timings are wall-clock and depend on what else runs on the machine (report the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluators.lyrics import correctness  # noqa: E402
from evaluators.whisper import Transcriber, load_model  # noqa: E402
from harness.demo.lyric_clips import lyric_clips  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    ap.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads (0 = its default)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--per-clip", action="store_true")
    args = ap.parse_args()

    clips = lyric_clips(22050)
    signals = {k: (resample_poly(c.signal, 2, 1), c.text) for k, c in clips.items()}  # 44.1 kHz ear signals
    t0 = time.perf_counter()
    load_model("faster-whisper", device="cpu", cpu_threads=args.threads)
    load_s = time.perf_counter() - t0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"faster-whisper tiny.en int8, CPU, {os.cpu_count()} cores visible (1-min load {load:.1f}), cpu_threads={args.threads}; model load {load_s:.2f} s")
    print(f"{len(signals)} clips, {sum(x.size for x, _ in signals.values()) / 44100:.1f} s of audio, one ear each, 44.1 kHz in\n")
    print("| beam | transcriptions | audio (s) | time (s) | RTF mean | RTF median | RTF max | correctness |")
    print("|---|---|---|---|---|---|---|---|")
    for beam in args.beams:
        tr = Transcriber(device="cpu", beam_size=beam, cpu_threads=args.threads)
        first = next(iter(signals.values()))[0]
        tr.transcribe(first, 44100)  # warm-up
        rtfs, total_t, total_a, corr, rows = [], 0.0, 0.0, [], []
        for _ in range(args.repeats):
            for k, (x, text) in signals.items():
                t = time.perf_counter()
                hyp = tr.transcribe(x, 44100)
                dt = time.perf_counter() - t
                dur = x.size / 44100
                rtfs.append(dt / dur)
                total_t += dt
                total_a += dur
                corr.append(correctness(text, hyp))
                rows.append((k, dur, dt, hyp))
        print(
            f"| {beam} | {len(rtfs)} | {total_a:.1f} | {total_t:.2f} | {total_t / total_a:.3f} | "
            f"{statistics.median(rtfs):.3f} | {max(rtfs):.3f} | {statistics.mean(corr):.3f} |"
        )
        if args.per_clip:
            for k, dur, dt, hyp in rows:
                print(f"  {k} {dur:.2f} s  RTF {dt / dur:.3f}  {hyp}")


if __name__ == "__main__":
    main()
