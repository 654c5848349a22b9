"""Demo data for the ICASSP 2024 Cadenza challenge (rebalancing at the hearing-aid microphones)
in the official at-mic layout (pyclarity ``recipes/cad_icassp_2024/baseline/config.yaml``):

    <root>/audio/at_mic_music/<split>/<music>-<hlp>/{mixture,vocals,drums,bass,other}.wav
    <root>/metadata/gains.json                       gain id -> dB per vocals/drums/bass/other
    <root>/metadata/head_loudspeaker_positions.json  hlp id -> subject, left/right angle, mic
    <root>/metadata/scenes.<split>.json              scene id -> music, gain, head_loudspeaker_positions
    <root>/metadata/scene_listeners.<split>.json     scene id -> [listener ids]
    <root>/metadata/listeners.<split>.json           audiograms (no compressor: NAL-R only)
    <root>/metadata/at_mic_music.<split>.json        sample -> Track Name, Split, Path, Original Track Name, Head Position
    <root>/metadata/at_mic_segments.<split>.json     sample -> {start, end} s (valid only; see below)

The music is the 4-stem demo (``harness.demo.musdb4.make_musdb4_demo``: its train songs make
the train split, its test songs the valid split), built in a scratch folder and discarded. Each
song is placed at ``positions_per_song`` head and loudspeaker positions, each position making
one at-mic sample, as ``generate_at_mic_musdb18.py`` makes them: the left loudspeaker's channel
filtered by the left HRIR pair and the right one's by the right pair, summed at each ear
(``apply_hrtf``), and **each stem and the mixture LUFS-normalised separately back to the
loudness of its own original** (``normalise_lufs_level``), so the at-mic stems do not sum to
the at-mic mixture, as in the official data. One gain per sample then keeps every file's peak
below 0.99 (the official script writes whatever comes out; it never clips on MUSDB's levels).

The HRIRs are **synthetic spherical-head responses** (``harness.demo.hrir.spherical_head_hrir``,
Brown and Duda 1998: interaural delay and head shadow only, no pinnae or torso), not the measured
OlHeaD-HRTF responses of the official data; the loudspeaker angles are the official nine
combinations of -22.5/-30/-37.5 and 22.5/30/37.5 degrees, the subject ``sphere``.

Each sample has ``scenes_per_sample`` scenes with different gains (the official scenes have one
sample each; two scenes of one sample exercise the separation cache across scenes), and each
scene ``listeners_per_scene`` listeners of its split. Gains are drawn as the official set was
made: 1, 2 or 3 of the four stems changed by one of [-10, -6, -3, 3, 6, 10] dB, the others 0.

The official validation and evaluation samples are already the 10-second excerpts that are
scored and submitted; the demo's valid samples are whole demo songs, and
``at_mic_segments.valid.json`` names a seeded ``segment_seconds`` excerpt of each that the task
cuts before processing (so cutting and its checks are exercised). Deterministic in `seed`;
built through ``harness.demo.store.build``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from harness.audio import read_audio, write_audio
from harness.demo.hrir import spherical_head_hrir
from harness.demo.listeners import make_listeners
from harness.demo.musdb4 import STEMS, make_musdb4_demo
from harness.demo.store import build, item_rng, write_json
from harness.hearing_aid import loudness, normalise_loudness

SAMPLE_RATE = 44100
VERSION = 1  # bump when the generator changes what it writes
HRIR_TAPS = 256
PEAK = 0.99
GAIN_STEPS_DB = (-10, -6, -3, 3, 6, 10)
LEFT_ANGLES = (-22.5, -30.0, -37.5)
RIGHT_ANGLES = (22.5, 30.0, 37.5)
FIRST_SCENE = {"train": 10001, "valid": 50001}
DEFAULTS = dict(seed=2024, train_songs=2, valid_songs=3, seconds=8.0, segment_seconds=6.0,
                positions_per_song=2, scenes_per_sample=2, listeners_per_scene=2, listeners_per_split=4)


def head_positions() -> dict[str, dict]:
    """The nine official angle pairs as ``head_loudspeaker_positions.json`` entries."""
    out = {}
    for i, (left, right) in enumerate(((lft, rgt) for lft in LEFT_ANGLES for rgt in RIGHT_ANGLES), 1):
        out[f"hlp_{i:04d}"] = {"subject": "sphere", "left_angle": left, "right_angle": right, "mic": "BTE_fr"}
    return out


def apply_hrtf(signal: np.ndarray, hrtf_left: np.ndarray, hrtf_right: np.ndarray) -> np.ndarray:
    """(n, 2) loudspeaker signal -> (n, 2) at the left and right ear microphones.

    `hrtf_left` / `hrtf_right`: (taps, 2) responses (columns: left ear, right ear) of the left and
    right loudspeaker, as ``generate_at_mic_musdb18.py``'s ``apply_hrtf`` takes them."""
    left = lfilter(hrtf_left[:, 0], 1, signal[:, 0]) + lfilter(hrtf_right[:, 0], 1, signal[:, 1])
    right = lfilter(hrtf_left[:, 1], 1, signal[:, 0]) + lfilter(hrtf_right[:, 1], 1, signal[:, 1])
    return np.stack([left, right], axis=1)


def draw_gains(rng: np.random.Generator) -> dict[str, float]:
    """1-3 of the four stems changed by one of GAIN_STEPS_DB, the others 0 dB."""
    changed = rng.choice(len(STEMS), size=int(rng.integers(1, 4)), replace=False)
    return {s: float(rng.choice(GAIN_STEPS_DB)) if i in changed else 0.0 for i, s in enumerate(STEMS)}


def make_demo(root: Path, **overrides) -> Path:
    """Write (or reuse) the demo under `root`; returns `root`."""
    settings = {**DEFAULTS, **overrides, "version": VERSION}
    if settings["segment_seconds"] is not None and not 0 < settings["segment_seconds"] <= settings["seconds"]:
        raise ValueError(f"cad_icassp_2024 demo: segment_seconds must be within (0, seconds={settings['seconds']}], "
                         f"got {settings['segment_seconds']}")
    if not 1 <= settings["positions_per_song"] <= len(LEFT_ANGLES) * len(RIGHT_ANGLES):
        raise ValueError(f"cad_icassp_2024 demo: positions_per_song must be within 1..9, got {settings['positions_per_song']}")
    return build(Path(root), settings, lambda folder: _write(folder, settings))


def _write(root: Path, settings: dict) -> None:
    source = make_musdb4_demo(root / "_musdb4", seed=settings["seed"], n_train=settings["train_songs"],
                              n_test=settings["valid_songs"], seconds=settings["seconds"])
    positions = head_positions()
    meta = root / "metadata"
    write_json(meta / "head_loudspeaker_positions.json", positions)
    gains: dict = {}
    for split, musdb_split in (("train", "train"), ("valid", "test")):
        _write_split(root, source / musdb_split, split, settings, positions, gains)
    write_json(meta / "gains.json", gains)
    shutil.rmtree(source)


def _write_split(root: Path, source: Path, split: str, settings: dict, positions: dict, gains: dict) -> None:
    seed = settings["seed"]
    listeners, _ = make_listeners(item_rng(seed, "icassp24-listeners", split), f"L{FIRST_SCENE[split] // 10000}",
                                  settings["listeners_per_split"])
    at_mic, scenes, scene_listeners, segments = {}, {}, {}, {}
    scene_id = FIRST_SCENE[split]
    for song_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        music = song_dir.name
        rng = item_rng(seed, "icassp24-song", split, music)
        originals = {s: read_audio(song_dir / f"{s}.wav", SAMPLE_RATE).astype(np.float64) for s in ("mixture", *STEMS)}
        for hlp in rng.choice(sorted(positions), size=settings["positions_per_song"], replace=False):
            hlp = str(hlp)
            name = f"{music}-{hlp}"
            left = spherical_head_hrir(positions[hlp]["left_angle"], SAMPLE_RATE, HRIR_TAPS).T
            right = spherical_head_hrir(positions[hlp]["right_angle"], SAMPLE_RATE, HRIR_TAPS).T
            files = {s: normalise_loudness(apply_hrtf(x, left, right), SAMPLE_RATE, loudness(x, SAMPLE_RATE))
                     for s, x in originals.items()}
            scale = min(1.0, PEAK / max(np.max(np.abs(x)) for x in files.values()))
            for s, x in files.items():
                write_audio(root / "audio" / "at_mic_music" / split / name / f"{s}.wav", (x * scale).astype(np.float32),
                            SAMPLE_RATE)
            at_mic[name] = {"Track Name": name, "Split": split, "Path": f"{split}/{name}",
                            "Original Track Name": music, "Head Position": hlp}
            if split == "valid" and settings["segment_seconds"] is not None:
                seconds = originals["mixture"].shape[0] / SAMPLE_RATE
                start = round(float(rng.uniform(0, seconds - settings["segment_seconds"])), 2)
                segments[name] = {"start": start, "end": round(start + settings["segment_seconds"], 2)}
            for _ in range(settings["scenes_per_sample"]):
                gain_id = f"gain_{len(gains) + 1:04d}"
                gains[gain_id] = draw_gains(rng)
                sid = f"scene_{scene_id}"
                scenes[sid] = {"music": music, "gain": gain_id, "head_loudspeaker_positions": hlp}
                picked = rng.choice(sorted(listeners), size=settings["listeners_per_scene"], replace=False)
                scene_listeners[sid] = [str(x) for x in picked]
                scene_id += 1
    meta = root / "metadata"
    write_json(meta / f"at_mic_music.{split}.json", at_mic)
    write_json(meta / f"scenes.{split}.json", scenes)
    write_json(meta / f"scene_listeners.{split}.json", scene_listeners)
    write_json(meta / f"listeners.{split}.json", listeners)
    if segments:
        write_json(meta / f"at_mic_segments.{split}.json", segments)
