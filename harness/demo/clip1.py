"""CLIP1 demo data (ICASSP 2026 lyric-intelligibility prediction) in the official layout:
hearing-loss-simulated and unprocessed excerpts of committed lyric lines over synthetic
accompaniment, labelled by a simulated listener (``harness.demo.simulated_listener``), so
prediction systems can be trained and scored end to end. Deterministic in ``seed``; a README
describing the layout and how items and labels were made is written beside the data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.demo.accompaniment import pan, synth_accompaniment
from harness.demo.listeners import AUDIOGRAM_CFS, template_listener
from harness.demo.lyric_clips import RATE, LyricClip, lyric_clips
from harness.demo.simulated_listener import (
    ITEM_SD,
    CLIP_SD,
    LISTENER_MIDPOINT,
    LISTENER_SLOPE,
    PRESENTATION_DBFS,
    RATE_EFFECT,
    intelligibility_index,
    line_difficulty,
    simulated_listener,
)
from harness.demo.store import build, item_rng, write_flac, write_json

DEMO_VERSION = 2  # 2: clean stems (stems/<id>_vocals.flac, _accompaniment.flac) for training enhancers


def _signal_id(seed: int, split: str, i: int, kind: str = "clip1") -> str:
    return hashlib.sha1(f"cadenza-demo-{kind}-{seed}-{split}-{i}".encode()).hexdigest()[:24]


CLIP_SEVERITIES = ("No Loss", "Mild", "Moderate")
_SEVERITY_TEMPLATE = {"No Loss": "normal", "Mild": "mild", "Moderate": "moderate"}


LISTENERS_PER_SEVERITY = 3


def _clip_listener(seed: int, severity: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Audiograms of the k-th demo listener of a severity: the template with 5 dB jitter."""
    return template_listener(_SEVERITY_TEMPLATE[severity], item_rng(seed, "clip1-listener", severity, k))


@dataclass
class ClipItem:
    """One CLIP demo excerpt before hearing-loss simulation (all (n, 2) at RATE)."""

    clip: LyricClip
    severity: str
    listener: str
    audiogram_l: np.ndarray
    audiogram_r: np.ndarray
    snr_db: float
    mix: np.ndarray
    vocals: np.ndarray
    accompaniment: np.ndarray
    active: slice  # the sung part
    rng: np.random.Generator  # the item's generator, positioned after the synthesis draws

    def index(self) -> float:
        """Better-ear :func:`intelligibility_index` over the sung part."""
        return max(
            intelligibility_index(self.vocals[self.active, ch], self.accompaniment[self.active, ch], RATE, aud)
            for ch, aud in ((0, self.audiogram_l), (1, self.audiogram_r))
        )


def clip_item(seed: int, split: str, i: int, clip: LyricClip, snr_range=(-15.0, 9.0)) -> ClipItem:
    """Synthesise the i-th excerpt of a split (deterministic in seed, split, i)."""
    rng = item_rng(seed, "clip1-item", split, i)
    severity = CLIP_SEVERITIES[i % len(CLIP_SEVERITIES)]
    snr = float(rng.uniform(*snr_range))
    lead, tail = 0.2, 0.2
    n = clip.signal.size + int((lead + tail) * RATE)
    vocals = np.zeros(n)
    vocals[int(lead * RATE) : int(lead * RATE) + clip.signal.size] = clip.signal
    acc = synth_accompaniment(n, RATE, rng)
    acc_st = pan(acc["bass"], 0) + pan(acc["drums"], rng.uniform(-0.3, 0.3)) + pan(acc["other"], rng.uniform(-0.6, 0.6))
    voc_st = pan(vocals, rng.uniform(-0.2, 0.2))
    # SNR: vocal power over the sung part vs accompaniment power (both ears together)
    active = slice(int(lead * RATE), int(lead * RATE) + clip.signal.size)
    acc_st = acc_st * np.sqrt(np.mean(voc_st[active] ** 2) / np.mean(acc_st[active] ** 2)) * 10 ** (-snr / 20)
    mix = voc_st + acc_st
    scale = 10 ** (PRESENTATION_DBFS / 20) / np.sqrt(np.mean(mix**2))
    listener = int(rng.integers(0, LISTENERS_PER_SEVERITY))
    aud_l, aud_r = _clip_listener(seed, severity, listener)
    return ClipItem(clip, severity, f"{severity}-{listener}", aud_l, aud_r, snr, mix * scale, voc_st * scale, acc_st * scale, active, rng)


def make_clip_demo(root: Path, seed: int = 0, n_train: int = 40, n_valid: int = 20, snr_range=(-15.0, 9.0)) -> Path:
    """A small CLIP1 dataset in the official layout with simulated-listener labels; returns ``root``.

    Lyric lines are split between train (the first two thirds of the clips) and valid (the
    rest), so no prompt appears in both. See the README written into ``root`` for details.
    """
    root = Path(root)
    params = {"kind": "clip1", "version": DEMO_VERSION, "seed": seed, "n_train": n_train, "n_valid": n_valid, "snr_range": list(snr_range)}
    return build(root, params, lambda folder: _write_clip(folder, seed, n_train, n_valid, snr_range))


def clip_pools(clips: dict) -> dict[str, list[str]]:
    """Lyric-clip ids per split: train the first two thirds of the sorted ids, valid the rest
    (so no prompt is in both)."""
    ids = sorted(clips)
    cut = (2 * len(ids)) // 3
    return {"train": ids[:cut], "valid": ids[cut:]}


def write_clip_split(folder: Path, kind: str, seed: int, split: str, count: int, pool: list[str],
                     snr_range=(-15.0, 9.0), stems: bool = False) -> tuple[list[dict], dict]:
    """Write ``count`` excerpts of a split as ``folder/signals/<id>.flac`` (heard: MSBG per ear,
    or the mixture for "No Loss") and ``folder/unprocessed/<id>_unproc.flac`` (stereo, RATE,
    16-bit), cycling through the lyric clips ``pool``; ``kind`` names the signal ids' family.
    With ``stems``, also the clean ``folder/stems/<id>_vocals.flac`` and ``<id>_accompaniment.flac``
    (their sum is the unprocessed excerpt): training pairs for enhancers (not official data).

    Returns the metadata records (CLIP1 keys; ``correctness`` 0..100) and, per signal id, how
    the item was made (not for prediction)."""
    from evaluators.lyrics import normalise_lyrics
    from evaluators.msbg import simulate_ears

    clips = lyric_clips()
    records, truth = [], {}
    for i in range(count):
        item = clip_item(seed, split, i, clips[pool[i % len(pool)]], snr_range)
        clip, severity, mix = item.clip, item.severity, item.mix
        aud_l, aud_r = item.audiogram_l, item.audiogram_r
        heard = mix if severity == "No Loss" else simulate_ears(mix, RATE, aud_l, aud_r, trim=True)
        sid = _signal_id(seed, split, i, kind)
        write_flac(folder / "unprocessed" / f"{sid}_unproc.flac", mix, RATE)
        write_flac(folder / "signals" / f"{sid}.flac", heard, RATE)
        if stems:
            write_flac(folder / "stems" / f"{sid}_vocals.flac", item.vocals, RATE)
            write_flac(folder / "stems" / f"{sid}_accompaniment.flac", item.accompaniment, RATE)
        index = item.index()
        n_words = len(normalise_lyrics(clip.text).split())
        words_correct, p = simulated_listener(index, n_words, item.rng, line_difficulty(clip, seed))
        records.append(
            {
                "signal": sid,
                "original_prompt": clip.text,
                "prompt": clip.text,
                "n_words": n_words,
                "words_correct": words_correct,
                "correctness": round(100.0 * words_correct / n_words, 4),
                "hearing_loss": severity,
            }
        )
        truth[sid] = {
            "split": split,
            "lyric_clip": clip.clip_id,
            "listener": item.listener,
            "snr_db": round(item.snr_db, 3),
            "audiogram_levels_l": aud_l.tolist(),
            "audiogram_levels_r": aud_r.tolist(),
            "audiogram_cfs": AUDIOGRAM_CFS,
            "intelligibility_index": round(index, 4),
            "p_word": round(p, 4),
        }
    return records, truth


def _write_clip(root: Path, seed: int, n_train: int, n_valid: int, snr_range) -> None:
    pools = clip_pools(lyric_clips())
    truth = {}
    for split, count in (("train", n_train), ("valid", n_valid)):
        records, made = write_clip_split(root / "audio" / split, "clip1", seed, split, count, pools[split], snr_range, stems=True)
        truth.update(made)
        write_json(root / "metadata" / f"{split}_metadata.json", records)
        if split == "valid":  # what the official evaluate.py reads (with correctness)
            write_json(root / "metadata" / f"{split}_metadata_evalai.json", records)
    write_json(root / "metadata" / "demo_generation.json", truth)
    (root / "README.md").write_text(
        CLIP_README.format(seed=seed, n_train=n_train, n_valid=n_valid, snr_lo=snr_range[0], snr_hi=snr_range[1],
                           mid=LISTENER_MIDPOINT, slope=LISTENER_SLOPE, item_sd=ITEM_SD, clip_sd=CLIP_SD, rate_effect=RATE_EFFECT),
        encoding="utf-8",
    )


CLIP_README = """# CLIP1 (ICASSP 2026 lyric intelligibility prediction) demo data (synthetic)

Made by `harness.demo.clip1.make_clip_demo(root, seed={seed}, n_train={n_train}, n_valid={n_valid})`.
Layout as the official baseline code reads it (`recipes/cad_icassp_2026/baseline`, pyclarity 0.9.0,
`shared_predict_utils.load_mixture`; note the official README draws the tree without `audio/`):

```
metadata/train_metadata.json, valid_metadata.json   [{{signal, original_prompt, prompt, n_words,
                                                      words_correct, correctness, hearing_loss}}, ...]
metadata/valid_metadata_evalai.json                 same records (what the official evaluate.py reads)
metadata/demo_generation.json                       per signal: SNR, audiograms, index, p -- how the item
                                                    was made; NOT for prediction
audio/<split>/signals/<signal>.flac                 what the listener heard (hearing-loss simulated)
audio/<split>/unprocessed/<signal>_unproc.flac      the same excerpt before simulation
audio/<split>/stems/<signal>_vocals.flac            its clean vocals (and _accompaniment.flac; not in the official data)
```
All audio: stereo, 44.1 kHz, 16-bit FLAC. `correctness` is 0..100 (= 100 x words_correct / n_words);
`hearing_loss` is "No Loss", "Mild" or "Moderate" (items cycle through the three).

## How an item is made
1. A committed espeak-ng lyric line (harness/demo/assets/lyrics) with 0.2 s of lead-in and tail;
   train uses the first 12 lines, valid the last 6 (no prompt in both splits).
2. Synthetic accompaniment (chords, bass, drums; numpy, seeded) mixed at a vocal-to-accompaniment
   SNR drawn uniformly in [{snr_lo}, {snr_hi}] dB (measured over the sung part); the mixture is
   presented at -30 dBFS RMS (0 dBFS = 100 dB SPL). This is `unprocessed/`.
3. Each item is heard by one of 3 demo listeners of its severity, whose audiograms are the
   severity's template with 5 dB jitter per frequency and ear. `signals/` is
   the mixture through pyclarity's MSBG hearing-loss simulator per ear (Ear(equiv_0db_spl=100),
   output cut to the input length), or the mixture itself for "No Loss".

## How the labels are made: the simulated listener
Labels do NOT come from Whisper (that would make the Whisper baseline right by construction).
For each ear a simplified Speech Intelligibility Index is computed from the separate vocal and
accompaniment signals at that ear: per octave band (250..8000 Hz) the vocal level is compared with
the larger of the accompaniment level and the listener's threshold (dB HL + normal threshold in dB
SPL); audibility = clip((SNR_band + 15)/30, 0, 1), times a distortion factor
1 - clip((loss - 10)/70, 0, 0.7) for supra-threshold deficits, weighted by the ANSI S3.5 octave
band-importance weights.
The better ear's index I gives the probability of getting a word right

    p = sigmoid((I - {mid}) / {slope} + d_line + e),   e ~ N(0, {item_sd}^2) per item,
    d_line = -{rate_effect} x (words per second - 2.8) + N(0, {clip_sd}^2)   per lyric line,

and words_correct ~ Binomial(n_words, p), with n_words the number of words of the normalised prompt
(evaluators.lyrics.normalise_lyrics). d_line stands for how hard a line is to follow (faster lines
are harder; the random part for voice and style), e for the listener's variability on one item.
The parameters were chosen so that labels spread over 0..100 (mean about 55) and so that the
Whisper baseline is informative but far from perfect, as on the real CLIP1 data. Check with
`python benchmarks/clip_demo_baseline.py` (seed 0, 40 train + 20 valid, faster-whisper tiny.en,
greedy): on valid, Whisper better-ear correctness + logistic map (fitted on train) gave RMSE 27.7
(bootstrap 95 % 22.5-32.3) and NCC 0.66, against RMSE 35.6 for predicting the train mean.
"""
