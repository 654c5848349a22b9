"""Render the demo lyric clips with espeak-ng (run once by a developer; the clips are committed).

    python scripts/render_lyrics.py [--out harness/demo/assets/lyrics]

Writes ``<id>.flac`` (16-bit mono, 22.05 kHz, leading/trailing silence trimmed, RMS at
-20 dBFS) and ``lyrics.json`` (``{id: {"text", "voice", "pitch", "speed", "style"}}``) to the
output folder. Needs the ``espeak-ng`` command (Debian package espeak-ng); nothing at run
time needs it. Voices, pitches and speeds cycle through a fixed list, so a rerun with the same
espeak-ng version reproduces the files. "sung" lines use a slower rate, a higher pitch and a
longer gap between words (``-g``, in 10 ms units), a crude stand-in for singing; "spoken"
lines keep espeak's default word gap.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "harness" / "demo" / "assets" / "lyrics"
RATE = 22050

# 5-10 words each; contractions and numbers on purpose (they exercise the normaliser)
LINES = [
    "I can't stop thinking about the summer rain",
    "We walked for seven miles along the river",
    "Don't let the morning light fade away",
    "She's dancing in the kitchen after midnight",
    "You're the only song I want to hear",
    "Hold my hand and we'll run home",
    "There are 2 roads leading out of town",
    "I've been waiting here since half past nine",
    "The city lights are shining on the water",
    "We're never going back to yesterday",
    "Sing it louder so the mountains hear you",
    "It's a long way down from here",
    "Give me one more chance to say goodbye",
    "They're painting all the houses bright blue",
    "I won't forget the words you said",
    "Turn the radio up and drive all night",
    "My heart beats 100 times for you",
    "Tomorrow we'll be dancing in the sun",
]

# (voice, pitch 0-99, speed wpm, word gap in 10 ms units, style)
VOICES = [
    ("en-us", 50, 150, 0, "spoken"),
    ("en-gb+f3", 70, 125, 6, "sung"),
    ("en-us+m3", 35, 140, 0, "spoken"),
    ("en-gb-x-rp+f2", 65, 120, 8, "sung"),
    ("en-us+f4", 60, 160, 0, "spoken"),
    ("en-gb+m1", 45, 115, 6, "sung"),
]


def trim_and_level(x: np.ndarray, rate: int, pad_s: float = 0.05, rms_dbfs: float = -20.0) -> np.ndarray:
    env = np.abs(x)
    keep = np.flatnonzero(env > 10 ** (-40 / 20) * env.max())  # -40 dB re peak
    pad = int(pad_s * rate)
    x = x[max(keep[0] - pad, 0) : keep[-1] + pad + 1]
    x = x * (10 ** (rms_dbfs / 20) / np.sqrt(np.mean(x**2)))
    peak = np.abs(x).max()
    return x * (0.98 / peak) if peak > 0.98 else x


def render(out: Path) -> dict:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(LINES):
            voice, pitch, speed, gap, style = VOICES[i % len(VOICES)]
            clip_id = f"lyric{i:02d}"
            wav = Path(tmp) / f"{clip_id}.wav"
            cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-g", str(gap), "-w", str(wav), text]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0 or run.stderr.strip() or not wav.is_file():
                raise SystemExit(f"espeak-ng failed for {clip_id}: {' '.join(cmd)}\n{run.stderr}")
            x, rate = sf.read(wav, dtype="float64")
            if rate != RATE:
                raise SystemExit(f"espeak-ng wrote {rate} Hz, expected {RATE}")
            x = trim_and_level(x, rate)
            sf.write(out / f"{clip_id}.flac", x, rate, subtype="PCM_16")
            meta[clip_id] = {"text": text, "voice": voice, "pitch": pitch, "speed": speed, "word_gap": gap, "style": style}
            print(f"{clip_id} {len(x) / rate:5.2f} s  {voice:14s} {style:6s} {text}")
    (out / "lyrics.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    render(ap.parse_args().out)


if __name__ == "__main__":
    main()
