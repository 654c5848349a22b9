"""Demo data for CAD1 task 1 (music over headphones) in the official layout (pyclarity
``recipes/cad1/task1/baseline/config.yaml``; the README draws the metadata one folder deeper,
``metadata/musdb18hq/``, but the config, which the code reads, has ``metadata/``):

    <root>/audio/musdb18hq/{train,test}/<Track Name>/{mixture,vocals,drums,bass,other}.wav
    <root>/metadata/musdb18.{train,valid,test}.json    [{"Track Name": ..., "Split": "train"|"test"}, ...]
    <root>/metadata/listeners.{train,valid}.json       {id: {name, audiogram_cfs, audiogram_levels_l/_r}}
    <root>/metadata/musdb18.segments.test.json         {track: {objective_evaluation: {start, end},
                                                                 subjective_evaluation: {start, end}}} (s)

The music is the 4-stem demo (``harness.demo.musdb4.make_musdb4_demo``, FluidSynth-rendered
band arrangements with sung lyric lines; stems sum exactly to the mixture), written straight into
``audio/musdb18hq``: its first ``train_songs`` train songs are listed in ``musdb18.train.json``,
the next ``valid_songs`` in ``musdb18.valid.json`` (both ``"Split": "train"``, as MUSDB18's
validation songs live in its train folder), its test songs in ``musdb18.test.json``
(``"Split": "test"``). Listeners are ``harness.demo.listeners.make_listeners``' sloping losses
(``L0xxx`` train, ``L5xxx`` valid).

Segments: the official evaluation set scores a 30 s segment of each stem
(``objective_evaluation``) and has a 15 s segment of the remix rated by the listening panel
(``subjective_evaluation``). The demo songs are short, so the segments are scaled down to
``objective_seconds`` and ``subjective_seconds`` (defaults 6 s and 3 s of 8 s songs, the
official 2:1 ratio); each objective segment starts at a seeded time within its song, and the
subjective segment lies inside it. Deterministic in `seed`; built through
``harness.demo.store.build``.
"""

from __future__ import annotations

from pathlib import Path

from harness.demo.listeners import make_listeners
from harness.demo.musdb4 import make_musdb4_demo
from harness.demo.store import build, item_rng, write_json

VERSION = 1  # bump when the generator changes what it writes
DEFAULTS = dict(seed=2023, train_songs=2, valid_songs=3, test_songs=2, seconds=8.0, listeners=3,
                objective_seconds=6.0, subjective_seconds=3.0)


def make_demo(root: Path, **overrides) -> Path:
    """Write (or reuse) the demo under `root`; returns `root`."""
    settings = {**DEFAULTS, **overrides, "version": VERSION}
    for key in ("train_songs", "valid_songs", "listeners"):
        if int(settings[key]) < 1:
            raise ValueError(f"cad1 task1 demo: {key} must be at least 1, got {settings[key]}")
    if not 0 < settings["subjective_seconds"] <= settings["objective_seconds"] <= settings["seconds"]:
        raise ValueError("cad1 task1 demo: need 0 < subjective_seconds <= objective_seconds <= seconds, got "
                         f"{settings['subjective_seconds']}, {settings['objective_seconds']}, {settings['seconds']}")
    return build(Path(root), settings, lambda folder: _write(folder, settings))


def _write(root: Path, settings: dict) -> None:
    audio = root / "audio" / "musdb18hq"
    make_musdb4_demo(audio, seed=settings["seed"], n_train=settings["train_songs"] + settings["valid_songs"],
                     n_test=settings["test_songs"], seconds=settings["seconds"])
    for extra in ("metadata.json", ".demo-complete.json"):  # the 4-stem demo's own files, not MUSDB18-HQ's
        (audio / extra).unlink(missing_ok=True)
    train = sorted(p.name for p in (audio / "train").iterdir() if p.is_dir())
    test = sorted(p.name for p in (audio / "test").iterdir() if p.is_dir()) if (audio / "test").is_dir() else []
    n = settings["train_songs"]
    music = {"train": [(t, "train") for t in train[:n]], "valid": [(t, "train") for t in train[n:]],
             "test": [(t, "test") for t in test]}
    seed = settings["seed"]
    listeners = {split: make_listeners(item_rng(seed, "cad1t1-listeners", split), prefix, settings["listeners"])[0]
                 for split, prefix in (("train", "L0"), ("valid", "L5"))}
    segments = {}
    for track in test:
        rng = item_rng(seed, "cad1t1-segment", track)
        start = round(float(rng.uniform(0, settings["seconds"] - settings["objective_seconds"])), 2)
        end = round(start + settings["objective_seconds"], 2)
        sub = round(float(rng.uniform(start, end - settings["subjective_seconds"])), 2)
        segments[track] = {"objective_evaluation": {"start": start, "end": end},
                           "subjective_evaluation": {"start": sub, "end": round(sub + settings["subjective_seconds"], 2)}}
    write_metadata(root / "metadata", music, listeners, segments)


def write_metadata(folder: Path, music: dict[str, list[tuple[str, str]]], listeners: dict[str, dict],
                   segments: dict) -> None:
    """The official metadata files: `music` split -> [(Track Name, Split)], `listeners` split ->
    the ``listeners.<split>.json`` dict, `segments` the ``musdb18.segments.test.json`` dict."""
    for split, tracks in music.items():
        write_json(folder / f"musdb18.{split}.json", [{"Track Name": name, "Split": where} for name, where in tracks])
    for split, table in listeners.items():
        write_json(folder / f"listeners.{split}.json", table)
    write_json(folder / "musdb18.segments.test.json", segments)
