"""Demo data for the lyric tasks, synthesised in the official layouts: CAD2 task 1 and CLIP1.

Both builders are deterministic (every random draw comes from a ``numpy.random.Generator``
seeded from ``seed`` and the item's split and index), need no network and no espeak (the
sung/spoken lyric lines are committed FLAC clips under ``harness/demo/assets/lyrics``, made
by ``scripts/render_lyrics.py``), and are cached: a folder holding a ``.demo_complete``
marker written with the same parameters is returned as it is.

* :func:`make_cad2_task1_demo` -- songs = lyric lines over synthetic band accompaniment,
  with stems, metadata and listeners as ``recipes/cad2/task1/baseline`` reads them. No labels.
* :func:`make_clip_demo` -- CLIP1 items (hearing-loss-simulated and unprocessed excerpts)
  with correctness labels from a *simulated listener* (:func:`simulated_listener`), so that
  prediction systems can be trained and scored end to end.

Both write a ``README.md`` next to the data describing the layout and how it was made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).parent / "assets" / "lyrics"
RATE = 44100
AUDIOGRAM_CFS = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]
MARKER = ".demo_complete"
DEMO_VERSION = 1

# ---------------------------------------------------------------------------------------
# building blocks


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


def _rng(seed: int, *key) -> np.random.Generator:
    """A generator for one item, independent of the order items are made in."""
    digest = hashlib.sha256(json.dumps([seed, *key]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def synth_accompaniment(n: int, rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Mono ``bass``, ``drums`` and ``other`` (chords) of ``n`` samples: a I-V-vi-IV loop."""
    t = np.arange(n) / rate
    bpm = rng.uniform(90, 130)
    beat = 60.0 / bpm
    root = 48 + int(rng.integers(0, 12))  # C3..B3
    progression = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]  # I V vi IV
    other = np.zeros(n)
    bass = np.zeros(n)
    drums = np.zeros(n)
    bar = 4 * beat
    for b in range(int(math.ceil(n / rate / bar)) + 1):
        start = b * bar
        chord = progression[b % 4]
        i0, i1 = int(start * rate), min(int((start + bar) * rate), n)
        if i0 >= n:
            break
        seg_t = t[i0:i1] - start
        env = np.minimum(1, seg_t / 0.03) * np.exp(-seg_t / (1.5 * bar))
        for k, interval in enumerate(chord):
            f = _midi_hz(root + interval)
            phase = rng.uniform(0, 2 * np.pi)
            for h in range(1, 6):  # soft saw-like pad
                other[i0:i1] += env * np.sin(2 * np.pi * h * f * seg_t + phase * h) / h**1.5
        for q in range(4):  # bass on every beat, chord root two octaves down
            j0 = int((start + q * beat) * rate)
            j1 = min(j0 + int(beat * rate), n)
            if j0 >= n:
                break
            bt = t[j0:j1] - (start + q * beat)
            f = _midi_hz(root + chord[0] - 24 + (12 if q == 3 else 0))
            bass[j0:j1] += np.exp(-bt / 0.35) * (np.sin(2 * np.pi * f * bt) + 0.3 * np.sin(4 * np.pi * f * bt))
    # drums: kick on 1 and 3, snare on 2 and 4, closed hat on eighths
    n_beats = int(n / rate / beat) + 1
    for q in range(n_beats):
        j0 = int(q * beat * rate)
        if j0 >= n:
            break
        if q % 2 == 0:
            m = min(int(0.25 * rate), n - j0)
            kt = np.arange(m) / rate
            f = 50 + 70 * np.exp(-kt / 0.03)
            drums[j0 : j0 + m] += np.exp(-kt / 0.12) * np.sin(2 * np.pi * np.cumsum(f) / rate)
        else:
            m = min(int(0.2 * rate), n - j0)
            kt = np.arange(m) / rate
            drums[j0 : j0 + m] += 0.5 * np.exp(-kt / 0.06) * rng.standard_normal(m) + 0.3 * np.exp(-kt / 0.05) * np.sin(2 * np.pi * 190 * kt)
        for half in (0, 0.5):
            h0 = int((q + half) * beat * rate)
            m = min(int(0.04 * rate), n - h0)
            if m > 0:
                noise = np.diff(rng.standard_normal(m + 1))  # crude high-pass
                drums[h0 : h0 + m] += 0.15 * np.exp(-np.arange(m) / rate / 0.012) * noise
    out = {}
    for name, x, level in (("bass", bass, -24.0), ("drums", drums, -24.0), ("other", other, -26.0)):
        rms = np.sqrt(np.mean(x**2))
        out[name] = x * (10 ** (level / 20) / rms) if rms > 0 else x
    return out


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan, -1 left .. +1 right -> (n, 2)."""
    a = (pan + 1) * np.pi / 4
    return np.stack([x * np.cos(a), x * np.sin(a)], axis=1) * np.sqrt(2)


def _write(path: Path, x: np.ndarray, rate: int = RATE) -> None:
    import soundfile as sf

    peak = np.max(np.abs(x)) if x.size else 0
    if peak >= 1:
        raise ValueError(f"{path}: peak {peak:.3f} would clip")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype="PCM_16")


def _dump(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _cached(root: Path, params: dict) -> bool:
    marker = root / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text(encoding="utf-8")) == params
        except json.JSONDecodeError:
            return False
    return False


def _finish(root: Path, params: dict) -> None:
    (root / MARKER).write_text(json.dumps(params, sort_keys=True), encoding="utf-8")


def _reset(root: Path, subdirs: list[str]) -> None:
    """Remove what an earlier, different demo build left (only our own folders)."""
    (root / MARKER).unlink(missing_ok=True)
    for sub in subdirs:
        if (root / sub).is_dir():
            shutil.rmtree(root / sub)


# ---------------------------------------------------------------------------------------
# listeners


# name -> (severity label, left levels, right levels) at AUDIOGRAM_CFS, dB HL
LISTENER_TEMPLATES = {
    "normal": ("No Loss", [5, 5, 5, 10, 10, 10, 15, 15], [5, 5, 10, 10, 10, 15, 15, 20]),
    "mild": ("Mild", [10, 10, 15, 20, 25, 30, 35, 40], [10, 15, 15, 25, 30, 30, 40, 40]),
    "moderate": ("Moderate", [25, 30, 35, 45, 50, 55, 60, 65], [20, 30, 40, 45, 55, 55, 65, 65]),
    "severe": ("Moderately Severe", [40, 45, 55, 60, 65, 70, 75, 80], [45, 50, 55, 65, 70, 70, 80, 80]),
}
BAND_CENTRES = [250, 500, 1000, 2000, 4000, 8000]  # the CAD2 multiband compressor's 6 bands


def _jittered(left, right, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Template audiograms with -5, 0 or +5 dB added per frequency and ear, within 0..90 dB HL."""
    aud_l = np.clip(np.asarray(left) + rng.integers(-1, 2, 8) * 5, 0, 90)
    aud_r = np.clip(np.asarray(right) + rng.integers(-1, 2, 8) * 5, 0, 90)
    return aud_l, aud_r


def _interp_log(levels, cfs, at) -> np.ndarray:
    return np.interp(np.log(at), np.log(cfs), levels)


def compressor_params_for(levels_l, levels_r) -> dict:
    """CAD2-style ``cr_l, cr_r, gain_l, gain_r`` (6 bands) from audiograms, by a simple rule.

    The official values come from CAMFIT gain tables; the demo uses the half-gain rule:
    gain = 0.5 x hearing loss at each band centre (250..8000 Hz, log-frequency interpolation
    of the audiogram), capped at 24 dB (the compressor's documented range), and compression
    ratio = 1 + max(loss - 20, 0) / 40, capped at 3, both rounded to 2 decimals.
    """
    out = {}
    for side, levels in (("l", levels_l), ("r", levels_r)):
        hl = _interp_log(levels, AUDIOGRAM_CFS, BAND_CENTRES)
        out[f"cr_{side}"] = [round(float(min(1 + max(h - 20, 0) / 40, 3.0)), 2) for h in hl]
        out[f"gain_{side}"] = [round(float(min(0.5 * max(h, 0), 24.0)), 2) for h in hl]
    return {k: out[k] for k in ("cr_l", "cr_r", "gain_l", "gain_r")}


def _listener_record(name: str, levels_l, levels_r) -> dict:
    return {
        "name": name,
        "audiogram_cfs": list(AUDIOGRAM_CFS),
        "audiogram_levels_l": [float(v) for v in levels_l],
        "audiogram_levels_r": [float(v) for v in levels_r],
    }


# ---------------------------------------------------------------------------------------
# CAD2 task 1


CAD2_ALPHAS = {"alpha_0": 0.0, "alpha_3": 0.3, "alpha_5": 0.5, "alpha_7": 0.7, "alpha_10": 1.0}


def make_cad2_task1_demo(root: Path, seed: int = 0, n_songs: dict | None = None, listeners_per_scene: int = 2) -> Path:
    """A small CAD2 task 1 dataset in the official layout; returns ``root``.

    ``n_songs`` maps split to the number of songs (default ``{"train": 3, "valid": 3}``);
    each song makes one segment and one scene, heard by ``listeners_per_scene`` listeners.
    """
    root = Path(root)
    n_songs = dict(n_songs or {"train": 3, "valid": 3})
    params = {"kind": "cad2_task1", "version": DEMO_VERSION, "seed": seed, "n_songs": n_songs, "listeners_per_scene": listeners_per_scene}
    if _cached(root, params):
        return root
    _reset(root, ["audio", "metadata"])
    clips = lyric_clips()
    clip_ids = sorted(clips)
    _dump(root / "metadata" / "alpha.json", CAD2_ALPHAS)
    clip_cursor = 0
    for s_idx, (split, count) in enumerate(sorted(n_songs.items())):
        listeners = {}
        params_out = {}
        for l_idx, (tname, (_sev, left, right)) in enumerate(LISTENER_TEMPLATES.items()):
            rng = _rng(seed, "cad2-listener", split, l_idx)
            jit_l, jit_r = _jittered(left, right, rng)
            lid = f"L{'5' if split == 'valid' else '0'}{l_idx + 1:03d}"
            listeners[lid] = _listener_record(lid, jit_l, jit_r)
            params_out[lid] = compressor_params_for(jit_l, jit_r)
        music, scenes, scene_listeners = {}, {}, {}
        lids = sorted(listeners)
        for i in range(count):
            rng = _rng(seed, "cad2-song", split, i)
            picked = [clip_ids[(clip_cursor + j) % len(clip_ids)] for j in range(2)]
            clip_cursor += 2
            lead, gap, tail = 0.8, 0.4, 0.8
            vocal_parts = [clips[c].signal for c in picked]
            n = int((lead + gap + tail) * RATE) + sum(v.size for v in vocal_parts)
            vocals = np.zeros(n)
            pos = int(lead * RATE)
            for v in vocal_parts:
                vocals[pos : pos + v.size] += v
                pos += v.size + int(gap * RATE)
            acc = synth_accompaniment(n, RATE, rng)
            stems = {
                "vocals": _pan(vocals * 10 ** (-3 / 20), rng.uniform(-0.1, 0.1)),
                "bass": _pan(acc["bass"], 0.0),
                "drums": np.stack([acc["drums"], np.roll(acc["drums"], int(0.0004 * RATE))], axis=1),
                "other": _pan(acc["other"], rng.uniform(-0.5, 0.5)),
            }
            mixture = sum(stems.values())
            peak = max(np.max(np.abs(x)) for x in (*stems.values(), mixture))
            if peak > 0.9:  # one common gain keeps mixture == sum of stems
                stems = {k: x * (0.9 / peak) for k, x in stems.items()}
                mixture = mixture * (0.9 / peak)
            track = f"Demo Artist {s_idx}{i:02d} - Lyric Song {i:02d}"
            path = f"{split}/{track}"
            for name, x in {**stems, "mixture": mixture}.items():
                _write(root / "audio" / path / f"{name}.flac", x)
            seg_id = f"{track}_0"
            start = round(lead - 0.3, 3)
            end = round((n / RATE) - tail + 0.3, 3)
            music[seg_id] = {
                "track_name": track,
                "path": path,
                "split": split,
                "start_time": start,
                "end_time": end,
                "text": " ".join(clips[c].text for c in picked),
            }
            scene_id = f"S{'5' if split == 'valid' else '1'}{i + 1:04d}"
            alpha_id = sorted(CAD2_ALPHAS)[int(rng.integers(0, len(CAD2_ALPHAS)))]
            scenes[scene_id] = {"segment_id": seg_id, "alpha": alpha_id}
            order = rng.permutation(len(lids))[:listeners_per_scene]
            scene_listeners[scene_id] = [lids[k] for k in sorted(order)]
        meta = root / "metadata"
        _dump(meta / f"music.{split}.json", music)
        _dump(meta / f"scene.{split}.json", scenes)
        _dump(meta / f"scene_listeners.{split}.json", scene_listeners)
        _dump(meta / f"listeners.{split}.json", listeners)
        _dump(meta / f"compressor_params.{split}.json", params_out)
    (root / "README.md").write_text(CAD2_README.format(seed=seed, n_songs=n_songs), encoding="utf-8")
    _finish(root, params)
    return root


CAD2_README = """# CAD2 task 1 demo data (synthetic)

Made by `harness.demo.lyrics.make_cad2_task1_demo(root, seed={seed})`, songs per split {n_songs}.
Layout as `recipes/cad2/task1/baseline/{{enhance,evaluate}}.py` (pyclarity 0.9.0) read it:

```
metadata/alpha.json                      {{alpha_id: alpha}}            (scene["alpha"] is an alpha_id)
metadata/music.<split>.json              {{segment_id: {{track_name, path, split, start_time, end_time, text}}}}
metadata/scene.<split>.json              {{scene_id: {{segment_id, alpha}}}}
metadata/scene_listeners.<split>.json    {{scene_id: [listener_id, ...]}}
metadata/listeners.<split>.json          {{listener_id: {{name, audiogram_cfs, audiogram_levels_l, audiogram_levels_r}}}}
metadata/compressor_params.<split>.json  {{listener_id: {{cr_l, cr_r, gain_l, gain_r}}}}  (6 bands each)
audio/<path>/{{mixture,vocals,bass,drums,other}}.flac   stereo, 44.1 kHz, 16-bit
```

How it is made:
* vocals: two committed espeak-ng lyric lines (harness/demo/assets/lyrics), resampled to 44.1 kHz,
  placed after a 0.8 s lead-in with a 0.4 s gap, near the centre; `text` is the two lines joined.
* accompaniment: deterministic numpy synthesis (I-V-vi-IV chord pad = `other`, bass on every
  beat = `bass`, kick/snare/hat = `drums`); mixture = vocals + bass + drums + other, all
  scaled by one gain when needed so that no file peaks above 0.9.
* segment: `start_time`/`end_time` (seconds) cover the sung part with 0.3 s margins.
* listeners: 4 per split from no loss to moderately severe, with 5 dB jitter; compressor
  parameters from the half-gain rule (gain = loss/2 at the band centres 250..8000 Hz, max 24 dB;
  CR = 1 + max(loss-20, 0)/40, max 3) -- not the official CAMFIT values.
"""


# ---------------------------------------------------------------------------------------
# CLIP1

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
    hl = _interp_log(audiogram_levels, AUDIOGRAM_CFS, SII_BANDS)
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


def _signal_id(seed: int, split: str, i: int) -> str:
    return hashlib.sha1(f"cadenza-demo-clip1-{seed}-{split}-{i}".encode()).hexdigest()[:24]


CLIP_SEVERITIES = ("No Loss", "Mild", "Moderate")
_SEVERITY_TEMPLATE = {"No Loss": "normal", "Mild": "mild", "Moderate": "moderate"}


LISTENERS_PER_SEVERITY = 3


def _clip_listener(seed: int, severity: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Audiograms of the k-th demo listener of a severity: the template with 5 dB jitter."""
    _sev, left, right = LISTENER_TEMPLATES[_SEVERITY_TEMPLATE[severity]]
    rng = _rng(seed, "clip1-listener", severity, k)
    return _jittered(left, right, rng)


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
    rng = _rng(seed, "clip1-item", split, i)
    severity = CLIP_SEVERITIES[i % len(CLIP_SEVERITIES)]
    snr = float(rng.uniform(*snr_range))
    lead, tail = 0.2, 0.2
    n = clip.signal.size + int((lead + tail) * RATE)
    vocals = np.zeros(n)
    vocals[int(lead * RATE) : int(lead * RATE) + clip.signal.size] = clip.signal
    acc = synth_accompaniment(n, RATE, rng)
    acc_st = _pan(acc["bass"], 0) + _pan(acc["drums"], rng.uniform(-0.3, 0.3)) + _pan(acc["other"], rng.uniform(-0.6, 0.6))
    voc_st = _pan(vocals, rng.uniform(-0.2, 0.2))
    # SNR: vocal power over the sung part vs accompaniment power (both ears together)
    active = slice(int(lead * RATE), int(lead * RATE) + clip.signal.size)
    acc_st = acc_st * np.sqrt(np.mean(voc_st[active] ** 2) / np.mean(acc_st[active] ** 2)) * 10 ** (-snr / 20)
    mix = voc_st + acc_st
    scale = 10 ** (PRESENTATION_DBFS / 20) / np.sqrt(np.mean(mix**2))
    listener = int(rng.integers(0, LISTENERS_PER_SEVERITY))
    aud_l, aud_r = _clip_listener(seed, severity, listener)
    return ClipItem(clip, severity, f"{severity}-{listener}", aud_l, aud_r, snr, mix * scale, voc_st * scale, acc_st * scale, active, rng)


def line_difficulty(clip: LyricClip, seed: int) -> float:
    """Logit offset of a lyric line: faster lines are harder, plus a seeded random part.

    -RATE_EFFECT x (words per second - 2.8) + N(0, CLIP_SD^2).
    """
    from evaluators.lyrics import normalise_lyrics

    wps = len(normalise_lyrics(clip.text).split()) / (clip.signal.size / RATE)
    return float(-RATE_EFFECT * (wps - 2.8) + _rng(seed, "line-difficulty", clip.clip_id).normal(0, CLIP_SD))


def make_clip_demo(root: Path, seed: int = 0, n_train: int = 40, n_valid: int = 20, snr_range=(-15.0, 9.0)) -> Path:
    """A small CLIP1 dataset in the official layout with simulated-listener labels; returns ``root``.

    Lyric lines are split between train (the first two thirds of the clips) and valid (the
    rest), so no prompt appears in both. See the README written into ``root`` for details.
    """
    from evaluators.lyrics import normalise_lyrics
    from evaluators.msbg import simulate_ears

    root = Path(root)
    params = {"kind": "clip1", "version": DEMO_VERSION, "seed": seed, "n_train": n_train, "n_valid": n_valid, "snr_range": list(snr_range)}
    if _cached(root, params):
        return root
    _reset(root, ["audio", "metadata"])
    clips = lyric_clips()
    ids = sorted(clips)
    cut = (2 * len(ids)) // 3
    pools = {"train": ids[:cut], "valid": ids[cut:]}
    line_offsets = {c: line_difficulty(clips[c], seed) for c in ids}
    truth = {}
    for split, count in (("train", n_train), ("valid", n_valid)):
        records = []
        for i in range(count):
            item = clip_item(seed, split, i, clips[pools[split][i % len(pools[split])]], snr_range)
            clip, severity, mix = item.clip, item.severity, item.mix
            aud_l, aud_r = item.audiogram_l, item.audiogram_r
            rng = item.rng
            heard = mix if severity == "No Loss" else simulate_ears(mix, RATE, aud_l, aud_r, trim=True)
            sid = _signal_id(seed, split, i)
            _write(root / "audio" / split / "unprocessed" / f"{sid}_unproc.flac", mix)
            _write(root / "audio" / split / "signals" / f"{sid}.flac", heard)
            index = item.index()
            n_words = len(normalise_lyrics(clip.text).split())
            words_correct, p = simulated_listener(index, n_words, rng, line_offsets[clip.clip_id])
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
        _dump(root / "metadata" / f"{split}_metadata.json", records)
        if split == "valid":  # what the official evaluate.py reads (with correctness)
            _dump(root / "metadata" / f"{split}_metadata_evalai.json", records)
    _dump(root / "metadata" / "demo_generation.json", truth)
    (root / "README.md").write_text(
        CLIP_README.format(seed=seed, n_train=n_train, n_valid=n_valid, snr_lo=snr_range[0], snr_hi=snr_range[1],
                           mid=LISTENER_MIDPOINT, slope=LISTENER_SLOPE, item_sd=ITEM_SD, clip_sd=CLIP_SD, rate_effect=RATE_EFFECT),
        encoding="utf-8",
    )
    _finish(root, params)
    return root


CLIP_README = """# CLIP1 (ICASSP 2026 lyric intelligibility prediction) demo data (synthetic)

Made by `harness.demo.lyrics.make_clip_demo(root, seed={seed}, n_train={n_train}, n_valid={n_valid})`.
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
