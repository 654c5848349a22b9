"""A 4-stem demo set in the MUSDB18-HQ layout (Rafii et al. 2019, doi:10.5281/zenodo.3338373):

    <root>/{train,test}/<Artist> - <Title>/{mixture,vocals,drums,bass,other}.wav
    <root>/metadata.json      split -> track -> genre, tempo, key, programs, sung lines

WAV, stereo, 44.1 kHz, 16-bit, every file of a track `seconds` long. Each song is a seeded
band arrangement in one of ``harness.demo.band.GENRES`` (the genres cycle in a seeded order
per split, so a split of 7 or more songs has each); its drums, bass and two "other" parts
(keys, guitars, strings, organ or pads) are rendered alone with FluidSynth
(``harness.demo.render``); the vocals are committed lyric clips (``harness.demo.lyric_clips``)
entering on half-bars, from 1 s on, one line after another while they fit. One seeded
room is applied to every part alike. Stems are levelled (RMS over the song: vocals about -17,
drums -19, bass and other -20 dBFS, each +-1.5 dB), scaled by one gain so that no file peaks
above 0.95, quantised to 16 bits, and the mixture is their exact sum: the written mixture
equals the sum of the written stems sample for sample. Deterministic in `seed`; each song's
content depends only on (seed, split, index). Built through ``harness.demo.store.build``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.audio import write_audio
from harness.demo.accompaniment import pan
from harness.demo.band import GENRES, band_score
from harness.demo.lyric_clips import lyric_clips
from harness.demo.render import Room, render_parts
from harness.demo.store import build, item_rng, write_json
from harness.demo.synth import RATE

VERSION = 1  # bump when the generator changes what it writes
STEMS = ("vocals", "drums", "bass", "other")
LEVELS_DB = {"vocals": -17.0, "drums": -19.0, "bass": -20.0, "other": -20.0}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def make_musdb4_demo(root: Path, seed: int = 0, n_train: int = 8, n_test: int = 4, seconds: float = 10.0) -> Path:
    """Write (or reuse) the 4-stem demo under `root`; returns `root`."""
    if int(n_train) < 1 or int(n_test) < 0:
        raise ValueError(f"musdb4 demo: need n_train >= 1 and n_test >= 0, got {n_train} and {n_test}")
    if not 4.0 <= float(seconds) <= 60.0:
        raise ValueError(f"musdb4 demo: seconds must be within 4..60, got {seconds}")
    params = {"kind": "musdb4", "version": VERSION, "seed": int(seed), "n_train": int(n_train),
              "n_test": int(n_test), "seconds": float(seconds)}
    return build(Path(root), params, lambda folder: _write(folder, params))


def _write(root: Path, params: dict) -> None:
    metadata, index = {}, 0
    for split, count in (("train", params["n_train"]), ("test", params["n_test"])):
        order = [str(g) for g in item_rng(params["seed"], "musdb4-genres", split).permutation(list(GENRES))]
        metadata[split] = {}
        for i in range(count):
            index += 1
            genre = order[i % len(order)]
            track = f"Demo Artist {index:02d} - {genre.title()} Song {index:02d}"
            stems, info = _song(item_rng(params["seed"], "musdb4-song", split, i), genre, params["seconds"])
            for name, x in stems.items():
                write_audio(root / split / track / f"{name}.wav", x, RATE)
            metadata[split][track] = info
    write_json(root / "metadata.json", metadata)


def _vocals(rng: np.random.Generator, n: int, beat_seconds: float) -> tuple[np.ndarray, list[dict]]:
    """Mono vocals of `n` samples from the committed lines, and where each line starts: every
    line enters on a half-bar (two beats), the first at or after 1 s, each next one at least
    0.25 s after the last ended, while a line still ends 0.2 s before the song does."""
    clips = lyric_clips(RATE)
    ids = [str(c) for c in rng.permutation(sorted(clips))]
    grid = 2 * beat_seconds
    out, lines = np.zeros(n), []
    t = np.ceil(1.0 / grid) * grid
    for clip_id in ids:
        start = int(round(t * RATE))
        x = clips[clip_id].signal
        if start + x.size > n - int(0.2 * RATE):
            break
        out[start:start + x.size] += x
        lines.append({"clip": clip_id, "text": clips[clip_id].text, "start": round(start / RATE, 4)})
        t = np.ceil(((start + x.size) / RATE + 0.25) / grid) * grid
    return out, lines


def _song(rng: np.random.Generator, genre: str, seconds: float) -> tuple[dict[str, np.ndarray], dict]:
    """{stem: (n, 2) int16} for mixture and the four stems, and the track's metadata."""
    n = int(round(seconds * RATE))
    score = band_score(rng, genre, seconds)
    parts = render_parts(score, seconds, RATE)
    room = Room.make(rng, rt60=float(rng.uniform(0.4, 1.0)), wet=float(rng.uniform(0.08, 0.2)), rate=RATE)
    float_stems = {s: np.zeros((n, 2)) for s in STEMS}
    for part in score.parts:
        float_stems[part.stem] += room.apply(parts[part.name])
    voice, lines = _vocals(rng, n, 60 / score.tempo)
    float_stems["vocals"] = room.apply(pan(voice, float(rng.uniform(-0.1, 0.1))) / np.sqrt(2))
    for s, x in float_stems.items():
        rms = np.sqrt(np.mean(x**2))
        if rms > 0:
            float_stems[s] = x * 10 ** ((LEVELS_DB[s] + rng.uniform(-1.5, 1.5)) / 20) / rms
    peak = max(np.max(np.abs(sum(float_stems.values()))), *(np.max(np.abs(x)) for x in float_stems.values()))
    scale = min(1.0, 0.95 / peak) * 32768
    stems = {s: np.round(x * scale).astype(np.int16) for s, x in float_stems.items()}
    stems = {"mixture": np.sum([x.astype(np.int32) for x in stems.values()], axis=0).astype(np.int16), **stems}
    info = {
        "genre": genre,
        "tempo_bpm": score.tempo,
        "key": f"{NOTE_NAMES[score.tonic]} {score.mode}",
        "seconds": seconds,
        "programs": {p.name: p.program for p in score.parts},  # GM, 1-based (drums: GS kit)
        "vocals": lines,
    }
    return stems, info
