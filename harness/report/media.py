"""What a task hands the report for one item, and how it is written for a browser.

`Task.item_media(item, systems)` returns an `ItemMedia`: the item's clips (signals as arrays),
the listener's audiogram and, for lyric tasks, the transcripts word by word. This module
writes them: each clip as a 16-bit stereo FLAC at the report's rate, cut to at most
`max_seconds` (Chromium, Firefox and Safari play FLAC in `<audio>`); a spectrogram PNG per clip
on one colour scale per item (so clips compare side by side); the audiogram as a PNG in the
audiological convention (right ear red circles, left ear blue crosses, hearing level downwards).
File names never come from metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from evaluators.resample import resample

DYNAMIC_RANGE_DB = 80.0  # spectrogram colour range below the item's loudest bin
CMAP = "magma"
IMAGE_ROWS, IMAGE_COLUMNS, COLOURS = 128, 320, 64  # a spectrogram PNG is at most this big, in this many colours


@dataclass(frozen=True)
class Clip:
    """One signal of an item: `signal` (n_samples,) or (n_samples, channels), float in [-1, 1]
    (louder samples are clipped), at `sample_rate` Hz; `label` is shown escaped (for a system's
    output: the system's name). `role`: "input" (e.g. the mixture), "reference" (what the
    metric compares with; the listening test's hidden reference) or "system"."""

    label: str
    signal: np.ndarray
    sample_rate: int
    role: str = "system"


@dataclass(frozen=True)
class Transcript:
    """One transcription scored against the reference text: (word, hit) pairs, in order."""

    label: str
    words: list[tuple[str, bool]]
    score: float | None = None


@dataclass(frozen=True)
class ItemMedia:
    """Everything the item's page shows besides the scores the report reads from scores.csv.

    `audiogram`: ear ("left"/"right") -> (frequencies in Hz, hearing levels in dB HL).
    `reference_text`: e.g. the lyrics the transcripts are scored against."""

    title: str
    details: dict[str, str]
    clips: list[Clip]
    audiogram: dict[str, tuple[list[float], list[float]]] | None = None
    reference_text: str | None = None
    transcripts: list[Transcript] = field(default_factory=list)


def as_stereo(signal: np.ndarray) -> np.ndarray:
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise ValueError(f"a clip must be (n,) or (n, 1|2), not {x.shape}")
    return np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x


def browser_signal(clip: Clip, rate: int, max_seconds: float) -> np.ndarray:
    """The clip at `rate` Hz, stereo, at most `max_seconds` long, clipped to [-1, 1]."""
    x = as_stereo(clip.signal)[: int(round(max_seconds * clip.sample_rate))]
    return np.clip(resample(x, int(clip.sample_rate), int(rate)), -1.0, 1.0)


def write_flac(signal: np.ndarray, rate: int, path: Path) -> float:
    """16-bit FLAC; returns its duration in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (signal * 32767.0).round().astype(np.int16), int(rate), subtype="PCM_16", format="FLAC")
    return len(signal) / rate


def spectrogram_db(signal: np.ndarray, rate: int) -> np.ndarray:
    """Power spectrogram in dB of the channels' mean, (frequency, frame), low frequencies first
    (Hann window of 32 ms, hop of 8 ms)."""
    from scipy.signal import spectrogram

    mono = np.mean(as_stereo(signal), axis=1)
    nperseg = max(16, int(0.032 * rate))
    _, _, power = spectrogram(mono, rate, window="hann", nperseg=min(nperseg, max(len(mono), 1)),
                              noverlap=min(nperseg, max(len(mono), 1)) * 3 // 4, mode="psd")
    return 10 * np.log10(power + 1e-12)


def write_spectrograms(signals: list[np.ndarray], rate: int, paths: list[Path]) -> None:
    """One PNG per signal, all on the colour scale of the loudest (top = rate / 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = [_shrink(spectrogram_db(s, rate)) for s in signals]
    top = max((float(s.max()) for s in specs if s.size), default=0.0)
    cmap = plt.get_cmap(CMAP, COLOURS)
    for spec, path in zip(specs, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        image = spec[::-1] if spec.size else np.zeros((2, 2))
        plt.imsave(path, image, cmap=cmap, vmin=top - DYNAMIC_RANGE_DB, vmax=top, format="png",
                   metadata={"Software": None})


def _shrink(spec: np.ndarray) -> np.ndarray:
    """Mean of blocks of bins (in dB) so the image has at most IMAGE_ROWS x IMAGE_COLUMNS pixels."""
    for axis, limit in ((0, IMAGE_ROWS), (1, IMAGE_COLUMNS)):
        n = spec.shape[axis]
        if n > limit:
            edges = np.linspace(0, n, limit + 1).astype(int)
            spec = np.add.reduceat(spec, edges[:-1], axis=axis) / np.diff(edges).reshape((-1, 1) if axis == 0 else (1, -1))
    return spec


def write_audiogram(audiogram: dict, path: Path) -> None:
    """Both ears' hearing levels (dB HL, downwards) against frequency (Hz, log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {"right": ("o-", "#c0392b"), "left": ("x-", "#1f4e9a")}
    fig, ax = plt.subplots(figsize=(4, 3))
    for ear in ("right", "left"):
        if ear in audiogram:
            freqs, levels = audiogram[ear]
            marker, colour = style[ear]
            ax.plot(freqs, levels, marker, color=colour, label=f"{ear} ear", ms=6)
    ax.set_xscale("log")
    ax.set_xticks([250, 500, 1000, 2000, 4000, 8000], ["250", "500", "1k", "2k", "4k", "8k"])
    ax.minorticks_off()
    ax.set_ylim(120, -10)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("hearing level (dB HL)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
