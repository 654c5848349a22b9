"""Real recordings used as test fixtures, read from installed packages (never committed).

* ``musdb_example()``: the 6 s MUSDB18-style excerpt that stempeg installs
  (``stempeg.example_stem_path()``, "The Easton Ellises - Falcon 69", a Native Instruments
  stem file: stream 0 the AAC mixture, then drums, bass, other, vocals; 44.1 kHz stereo).
  The AAC mixture is not the sum of the decoded stems (each stream was coded on its own), so
  the ``"mixture"`` returned is the sum of the four stems; the coded one is ``"aac_mixture"``.
  Decoding needs the ffmpeg program.
* ``asterisk_prompts(n)``: ``n`` recorded English telephone prompts (Allison Smith's voice,
  Debian package ``asterisk-core-sounds-en-wav``: 8 kHz, 16-bit, mono WAV) with their
  transcripts (``core-sounds-en.txt.gz`` from ``asterisk-core-sounds-en``, lines
  ``name: text``). Prompts are taken from the top folder only, with transcripts of 5 to 16
  words and no bracketed descriptions (``[this is a simple beep tone]``) or symbols, spread
  evenly over the sorted eligible names, so the same ``n`` always gives the same prompts.

Each raises ``FixtureUnavailable`` with a one-line reason (the package to install) when its
source is missing; tests turn that into a skip.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np

PROMPTS_DIR = Path("/usr/share/asterisk/sounds/en")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
MUSDB_STEMS = ("drums", "bass", "other", "vocals")  # streams 1..4 of a stem file


class FixtureUnavailable(RuntimeError):
    """A real-audio fixture's package is not installed."""


def musdb_example() -> tuple[dict[str, np.ndarray], int]:
    """({"mixture", "aac_mixture", "drums", "bass", "other", "vocals"}: (n, 2) float64), rate."""
    if shutil.which("ffmpeg") is None:
        raise FixtureUnavailable("ffmpeg is not installed (apt-get install ffmpeg): stempeg cannot decode")
    try:
        import stempeg
    except ImportError:
        raise FixtureUnavailable("stempeg is not installed (pip install museval)") from None
    path = Path(stempeg.example_stem_path())
    if not path.is_file():
        raise FixtureUnavailable(f"{path}: stempeg's example stem file is missing")
    audio, rate = stempeg.read_stems(str(path))
    stems = {name: np.asarray(audio[k + 1], dtype=np.float64) for k, name in enumerate(MUSDB_STEMS)}
    return {"mixture": sum(stems.values()), "aac_mixture": np.asarray(audio[0], dtype=np.float64), **stems}, int(rate)


_WORDS = re.compile(r"^[A-Za-z][A-Za-z' ,.?!-]*$")


def _transcripts() -> dict[str, str]:
    if not TRANSCRIPTS.is_file():
        raise FixtureUnavailable(f"{TRANSCRIPTS}: transcripts missing (apt-get install asterisk-core-sounds-en)")
    out = {}
    for line in gzip.decompress(TRANSCRIPTS.read_bytes()).decode("utf-8", "replace").splitlines():
        name, sep, text = line.partition(":")
        if sep and not line.startswith(";") and "/" not in name:
            out[name.strip()] = text.strip()
    return out


def asterisk_prompts(n: int = 8) -> list[tuple[str, np.ndarray, int, str]]:
    """`n` prompts as (name, mono float64 signal, rate, transcript)."""
    import soundfile as sf

    if not PROMPTS_DIR.is_dir():
        raise FixtureUnavailable(f"{PROMPTS_DIR}: prompts missing (apt-get install asterisk-core-sounds-en-wav)")
    eligible = sorted(name for name, text in _transcripts().items()
                      if _WORDS.match(text) and 5 <= len(text.split()) <= 16 and (PROMPTS_DIR / f"{name}.wav").is_file())
    if len(eligible) < n:
        raise FixtureUnavailable(f"{PROMPTS_DIR}: only {len(eligible)} prompts with transcripts, {n} asked for")
    picked = [eligible[int(i)] for i in np.linspace(0, len(eligible) - 1, n).round()]
    texts = _transcripts()
    out = []
    for name in picked:
        x, rate = sf.read(PROMPTS_DIR / f"{name}.wav", dtype="float64")
        out.append((name, x if x.ndim == 1 else x.mean(axis=1), int(rate), texts[name]))
    return out
