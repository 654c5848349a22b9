"""The simulated listener that labels the CLIP1 demo: a simplified Speech Intelligibility
Index per ear and a logistic word-correctness model.

Labels do not come from Whisper (that would make the Whisper baseline right by
construction); see ``harness.demo.clip1`` and the README it writes for the whole recipe.
"""

from __future__ import annotations

import math

import numpy as np

from harness.demo.listeners import AUDIOGRAM_CFS, interp_log
from harness.demo.lyric_clips import RATE, LyricClip
from harness.demo.store import item_rng


# octave band-importance weights for speech (ANSI S3.5-1997, octave-band procedure)
SII_BANDS = [250, 500, 1000, 2000, 4000, 8000]
SII_WEIGHTS = np.array([0.0617, 0.1671, 0.2373, 0.2648, 0.2142, 0.0549])
# reference equivalent threshold SPL of normal hearing at those frequencies (approximate, dB SPL)
RETSPL = np.array([12.0, 6.0, 2.5, 0.0, -1.0, 12.0])
EQUIV_0DB_SPL = 100.0  # 0 dBFS <-> 100 dB SPL, as the CAD2/CLIP MSBG setting

# simulated-listener parameters (documented in simulated_listener and the README)
LISTENER_MIDPOINT = 0.45
LISTENER_SLOPE = 0.12
ITEM_SD = 0.5  # logit s.d. of the per-item listener variability
CLIP_SD = 0.3  # logit s.d. of the random part of a lyric line's difficulty
RATE_EFFECT = 0.8  # logit change per word/s of speaking rate
PRESENTATION_DBFS = -30.0  # mixture RMS
DISTORTION_ONSET, DISTORTION_SPAN, DISTORTION_MAX = 10.0, 70.0, 0.7  # dB HL, dB HL, fraction


def _octave_levels(x: np.ndarray, rate: int) -> np.ndarray:
    """dB SPL per SII octave band (0 dBFS = 100 dB SPL) of the active part of ``x``."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    levels = []
    for fc in SII_BANDS:
        band = (freqs >= fc / np.sqrt(2)) & (freqs < fc * np.sqrt(2))
        power = 2 * spec[band].sum() / x.size**2  # mean-square of the band-passed signal
        levels.append(10 * np.log10(power + 1e-20) + EQUIV_0DB_SPL)
    return np.array(levels)


def intelligibility_index(vocals: np.ndarray, accompaniment: np.ndarray, rate: int, audiogram_levels) -> float:
    """A simplified SII for one ear: 0 (nothing audible) .. 1.

    Per octave band: the vocal level is compared with the larger of the accompaniment level
    and the listener's threshold (audiogram dB HL + normal threshold in dB SPL);
    audibility = clip((SNR + 15) / 30, 0, 1); a distortion factor
    1 - clip((loss - 10) / 70, 0, 0.7) lowers it for supra-threshold deficits; bands are
    weighted by the ANSI S3.5 octave importance weights.
    """
    v = _octave_levels(vocals, rate)
    a = _octave_levels(accompaniment, rate)
    hl = interp_log(audiogram_levels, AUDIOGRAM_CFS, SII_BANDS)
    threshold = hl + RETSPL
    noise = 10 * np.log10(10 ** (a / 10) + 10 ** (threshold / 10))
    audibility = np.clip((v - noise + 15) / 30, 0, 1)
    distortion = 1 - np.clip((hl - DISTORTION_ONSET) / DISTORTION_SPAN, 0, DISTORTION_MAX)
    return float(np.sum(SII_WEIGHTS * audibility * distortion))


def simulated_listener(index: float, n_words: int, rng: np.random.Generator, clip_offset: float = 0.0) -> tuple[int, float]:
    """Words a simulated listener gets right, and the probability used.

    p = sigmoid((index - 0.45) / 0.12 + clip_offset + e), e ~ N(0, 0.5^2) per item (attention,
    familiarity, the listener); words_correct ~ Binomial(n_words, p). ``clip_offset`` is the
    line's :func:`line_difficulty`.
    """
    logit = (index - LISTENER_MIDPOINT) / LISTENER_SLOPE + clip_offset + rng.normal(0, ITEM_SD)
    p = 1 / (1 + math.exp(-logit))
    return int(rng.binomial(n_words, p)), p


def line_difficulty(clip: LyricClip, seed: int) -> float:
    """Logit offset of a lyric line: faster lines are harder, plus a seeded random part.

    -RATE_EFFECT x (words per second - 2.8) + N(0, CLIP_SD^2).
    """
    from evaluators.lyrics import normalise_lyrics

    wps = len(normalise_lyrics(clip.text).split()) / (clip.signal.size / RATE)
    return float(-RATE_EFFECT * (wps - 2.8) + item_rng(seed, "line-difficulty", clip.clip_id).normal(0, CLIP_SD))
