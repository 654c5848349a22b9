"""Demo data for CAD2 task 2 (rebalancing classical music) in the official layout.

    <root>/audio/<split>/<song>/mixture.flac, <Instrument>_<voice>.flac   (stereo, 44.1 kHz)
    <root>/metadata/music.<split>.json            song -> mixture and source_<i> tracks
    <root>/metadata/gains.json                     gain id -> dB per source_<i>
    <root>/metadata/scenes.<split>.json            scene id -> {music, gain}
    <root>/metadata/scene_listeners.<split>.json   scene id -> [listener ids]
    <root>/metadata/listeners.<split>.json, compressor_params.<split>.json

Ensembles of 2 to 4 of the eight instruments (sometimes a second voice of one of them): a
seeded score per song (``harness.demo.scores.ensemble_score``: key, tempo, phrases, dynamics,
articulation, a role and register per instrument), each part rendered alone with the FluidR3
General MIDI soundfont (``harness.demo.render``) and panned, one seeded room reverb applied
identically to every part, each stem levelled to about -40 dBFS RMS (the level the official
chain expects before the compressor) and all scaled by one gain to peak at most 0.9. Stems are
quantised to 16 bits first and the mixture is their exact sum, so the written mixture equals
the sum of the written stems sample for sample.

``music.<split>.json`` lists ``source_1``..``source_N`` and then ``mixture``, as the official
metadata does: pyclarity's ``recipes/cad2/task2/baseline/enhance.py`` numbers the sources by
their position in the entry (``enumerate(songs[song].values(), 1)``, skipping the mixture).
Scene ids follow the official ranges (train S1xxxx, valid S5xxxx). Valid songs are longer than
their scored segment, so cropping is exercised. Deterministic in `seed`; built and cached
through ``harness.demo.store.build``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from harness.audio import write_audio
from harness.demo.listeners import make_listeners
from harness.demo.render import Room, render_parts
from harness.demo.scores import Score, ensemble_score
from harness.demo.store import build
from harness.instruments import INSTRUMENTS
from harness.parallel import ordered_map

SAMPLE_RATE = 44100
VERSION = 4  # bump when the generator changes what it writes, so cached demos are remade
GAIN_STEPS_DB = [-9, -6, -3, 0, 3, 6, 9]
DEFAULTS = dict(
    seed=2024,
    train_songs=60,
    train_seconds=6.0,
    valid_songs=6,
    valid_seconds=8.0,
    segment_seconds=4.0,
    scenes_per_song=2,
    listeners_per_scene=2,
    listeners_per_split=4,
)


def _pick_instruments(rng: np.random.Generator, counts: dict[str, int]) -> list[str]:
    """2-4 of the instruments in `counts`, favouring the least used so far (so every one gets
    training data)."""
    names = list(counts)
    k = min(int(rng.integers(2, 5)), len(names))
    weights = np.array([1.0 / (1 + counts[i]) for i in names])
    chosen = list(rng.choice(names, size=k, replace=False, p=weights / weights.sum()))
    if k < 4 and rng.random() < 0.2:  # a second voice of one instrument, as in the real data
        chosen.append(chosen[0])
    for inst in chosen:
        counts[inst] += 1
    return chosen


@dataclass(frozen=True)
class SongPlan:
    """Everything random about one song, drawn in the split's stream: its score, its room and
    each part's level jitter (dB). Rendering a plan draws nothing, so songs render in any order."""
    score: Score
    room: Room
    level_jitter_db: tuple[float, ...]
    seconds: float


def _plan_song(rng: np.random.Generator, instruments: list[str], seconds: float) -> SongPlan:
    score = ensemble_score(rng, instruments, seconds)
    room = Room.make(rng, rt60=float(rng.uniform(0.8, 1.6)), wet=float(rng.uniform(0.15, 0.35)), rate=SAMPLE_RATE)
    return SongPlan(score, room, tuple(float(rng.uniform(-4, 4)) for _ in score.parts), seconds)


def _render_song(plan: SongPlan) -> list[np.ndarray]:
    """The song's stems, (n, 2) int16 each, in the order of the score's parts; their sum fits 16 bits."""
    parts = render_parts(plan.score, plan.seconds, SAMPLE_RATE)
    stems = []
    for part, jitter in zip(plan.score.parts, plan.level_jitter_db):
        x = plan.room.apply(parts[part.name])
        # about -40 dBFS per stem: the level the official chain expects before the compressor
        stems.append(x * 10 ** ((-40 + jitter) / 20) / (np.sqrt(np.mean(x**2)) + 1e-12))
    peak = max(np.max(np.abs(np.sum(stems, axis=0))), max(np.max(np.abs(s)) for s in stems))
    scale = min(1.0, 0.9 / peak) * 32768
    return [np.round(s * scale).astype(np.int16) for s in stems]


def _write_song(plan: SongPlan, folder: Path, names: list[str]) -> None:
    """Render `plan` and write its stems `<name>.flac` and their exact sum `mixture.flac`."""
    stems = _render_song(plan)
    for name, stem in zip(names, stems):
        write_audio(folder / f"{name}.flac", stem, SAMPLE_RATE)
    mixture = np.sum([s.astype(np.int32) for s in stems], axis=0)
    write_audio(folder / "mixture.flac", mixture.astype(np.int16), SAMPLE_RATE)


def _write_split(root: Path, split: str, rng, n_songs: int, seconds: float, segment: float | None,
                 first_scene: int, gains: dict, settings: dict, instruments=INSTRUMENTS) -> set[str]:
    """Write one split from `instruments`; returns the instruments it used. Every random draw is
    made first, in one stream, then the songs are rendered on the local workers
    (``harness.parallel``): the bytes do not depend on how many there are."""
    counts = {i: 0 for i in instruments}
    music, scenes, scene_listeners = {}, {}, {}
    listeners, params = make_listeners(rng, "L" + split[0].upper(), settings["listeners_per_split"])
    scene_id = first_scene
    renders = []
    for s in range(n_songs):
        song = f"demo_{split}_{s + 1:03d}"
        instruments = _pick_instruments(rng, counts)
        plan = _plan_song(rng, instruments, seconds)
        start = 0.0 if segment is None else round(float(rng.uniform(0.5, seconds - segment - 0.5)), 2)
        duration = seconds if segment is None else segment
        folder = Path("audio") / split / song
        entry = {}
        voices: dict[str, int] = {}
        names = []
        for i, inst in enumerate(instruments, 1):
            voices[inst] = voices.get(inst, 0) + 1
            names.append(name := f"{inst}_{voices[inst]}")
            entry[f"source_{i}"] = {"instrument": name, "track": f"{split}/{song}/{name}.flac",
                                    "start": start, "duration": duration}
        # the mixture last, as the official metadata lists it (the sources are numbered by position)
        entry["mixture"] = {"track": f"{split}/{song}/mixture.flac", "start": start, "duration": duration,
                            "instrument": "Mixture"}
        renders.append((plan, root / folder, names))
        music[song] = entry
        for _ in range(settings["scenes_per_song"]):
            scene_id += 1
            gain_id = f"gain_{len(gains) + 1:04d}"
            gains[gain_id] = {f"source_{i}": float(rng.choice(GAIN_STEPS_DB)) for i in range(1, len(instruments) + 1)}
            scenes[f"S{scene_id}"] = {"music": song, "gain": gain_id}
            picked = rng.choice(list(listeners), size=settings["listeners_per_scene"], replace=False)
            scene_listeners[f"S{scene_id}"] = sorted(picked.tolist())
    for _ in tqdm(ordered_map(_write_song, renders), total=len(renders), desc=f"demo {split}", disable=None, leave=False):
        pass
    meta = root / "metadata"
    for name, obj in [(f"music.{split}.json", music), (f"scenes.{split}.json", scenes),
                      (f"scene_listeners.{split}.json", scene_listeners), (f"listeners.{split}.json", listeners),
                      (f"compressor_params.{split}.json", params)]:
        (meta / name).write_text(json.dumps(obj, indent=2))
    return {i for i, n in counts.items() if n}


def make_demo(root: Path, **overrides) -> Path:
    """Write the demo dataset under `root` (skipped when the same settings are already there)."""
    settings = {**DEFAULTS, **overrides, "version": VERSION}
    return build(Path(root), settings, lambda folder: _write(folder, settings))


def _write(root: Path, settings: dict) -> None:
    (root / "metadata").mkdir(parents=True)
    gains: dict = {}
    # one random stream per split, so that resizing one split leaves the other as it was
    trained = _write_split(root, "train", np.random.default_rng([settings["seed"], 0]), settings["train_songs"],
                           settings["train_seconds"], None, 10000, gains, settings)
    # valid songs use only instruments the training split has: every one then has a model
    _write_split(root, "valid", np.random.default_rng([settings["seed"], 1]), settings["valid_songs"],
                 settings["valid_seconds"], settings["segment_seconds"], 50000, gains, settings,
                 [i for i in INSTRUMENTS if i in trained])
    (root / "metadata" / "gains.json").write_text(json.dumps(gains, indent=2))
