"""The committed lyric clips (sung/spoken lines made by ``scripts/render_lyrics.py`` with
espeak-ng, under ``harness/demo/assets/lyrics``) that the lyric demo sets are built from."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).parent / "assets" / "lyrics"
RATE = 44100


@dataclass(frozen=True)
class LyricClip:
    clip_id: str
    text: str
    signal: np.ndarray  # mono float64 at RATE, RMS -20 dBFS
    style: str


@functools.lru_cache(maxsize=2)
def lyric_clips(rate: int = RATE) -> dict[str, LyricClip]:
    """The committed lyric clips, resampled to ``rate`` (mono)."""
    import soundfile as sf

    from evaluators.resample import resample

    meta_file = ASSETS / "lyrics.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"demo lyric clips missing: {meta_file} (run scripts/render_lyrics.py)")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    clips = {}
    for clip_id, info in meta.items():
        x, sr = sf.read(ASSETS / f"{clip_id}.flac", dtype="float64")
        x = resample(x, sr, rate)
        x.setflags(write=False)  # shared through the cache
        clips[clip_id] = LyricClip(clip_id, info["text"], x, info.get("style", ""))
    return clips
