"""Demo data for CAD1 task 2 (music in a car) in the official layout (pyclarity
``recipes/cad1/task2/baseline/config.yaml`` and ``data_preparation/build_scene_metadata.py``):

    <root>/audio/music/<Genre>/<song>.flac          the songs (officially FMA/MTG-Jamendo MP3s)
    <root>/audio/eBrird/{Car,Anechoic}/audio/*.wav  loudspeaker-to-ear and anechoic responses
    <root>/metadata/music.<split>.json              song -> {"path": "<Genre>/<song>.flac", "genre"}
    <root>/metadata/scenes.json                     scene -> scene, song, song_path, hr,
                                                    car_noise_parameters, snr, split
    <root>/metadata/scenes_listeners.json           scene -> [listener]
    <root>/metadata/listeners.<split>.json          audiograms
    <root>/metadata/eBrird_BRIR.json                split -> hr -> car / anechoic response names

The songs are the mixtures of the 4-stem demo (``harness.demo.musdb4.make_musdb4_demo``: its
train songs make the train split, its test songs the valid split), filed under their genre.
The responses are synthetic (``harness.demo.car_brir``: spherical-head HRIRs and a simulated
dead cabin, not the measured eBrIRD set). Scenes follow ``build_scene_metadata.py``: one scene
per song, ids from S100000 (train) and S500000 (valid), a head rotation drawn from the split's
responses, a speed in 50..119 km/h turned into car-noise parameters by pyclarity's
``CarNoiseParametersGenerator``, an SNR U(0, 15) dB rounded to 4 decimals, and
``listeners_per_scene`` listeners of the split. Upstream draws all of it from numpy's global
RNG seeded 2023; here each scene's draws come from its own seeded generator
(``harness.demo.store.item_rng``; the parameter generator runs under a RandomState made from
it), so a scene does not change when another is added. Built through ``harness.demo.store.build``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from clarity.utils.car_noise_simulator.carnoise_parameters_generator import CarNoiseParametersGenerator

from evaluators.haaqi import seeded_global_rng
from harness.audio import read_audio
from harness.demo.car_brir import write_ebrird
from harness.demo.listeners import make_listeners
from harness.demo.musdb4 import make_musdb4_demo
from harness.demo.store import build, item_rng, write_flac, write_json
from harness.metadata import load_json

SAMPLE_RATE = 44100
VERSION = 1  # bump when the generator changes what it writes
FIRST_SCENE = {"train": 100000, "valid": 500000}
SPEED_KPH = (50, 120)  # randint bounds, as build_scene_metadata.py
SNR_DB = (0.0, 15.0)
DEFAULTS = dict(seed=2023, train_songs=2, valid_songs=3, seconds=8.0, listeners_per_split=4, listeners_per_scene=1,
                head_rotations=[32, 36, 40])


def make_demo(root: Path, **overrides) -> Path:
    """Write (or reuse) the demo under `root`; returns `root`."""
    settings = {**DEFAULTS, **overrides, "version": VERSION}
    settings["head_rotations"] = [int(h) for h in settings["head_rotations"]]
    if not 1 <= settings["listeners_per_scene"] <= settings["listeners_per_split"]:
        raise ValueError("cad1 task2 demo: listeners_per_scene must be within 1..listeners_per_split")
    return build(Path(root), settings, lambda folder: _write(folder, settings))


def _write(root: Path, settings: dict) -> None:
    seed = settings["seed"]
    source = make_musdb4_demo(root / "_musdb4", seed=seed, n_train=settings["train_songs"],
                              n_test=settings["valid_songs"], seconds=settings["seconds"])
    genres = load_json(source / "metadata.json", "musdb4 metadata", expect=dict)
    meta = root / "metadata"
    index = write_ebrird(root / "audio" / "eBrird", seed, {s: settings["head_rotations"] for s in FIRST_SCENE})
    write_json(meta / "eBrird_BRIR.json", index)
    scenes, scene_listeners = {}, {}
    for split, musdb_split in (("train", "train"), ("valid", "test")):
        listeners, _ = make_listeners(item_rng(seed, "cad1t2-listeners", split), f"L{FIRST_SCENE[split] // 100000}",
                                      settings["listeners_per_split"])
        write_json(meta / f"listeners.{split}.json", listeners)
        music = {}
        for i, track in enumerate(sorted(genres[musdb_split])):
            genre = str(genres[musdb_split][track]["genre"]).title()
            song = f"{split}_{i + 1:04d}"
            path = f"{genre}/{song}.flac"
            write_flac(root / "audio" / "music" / path, read_audio(source / musdb_split / track / "mixture.wav",
                                                                   SAMPLE_RATE), SAMPLE_RATE)
            music[song] = {"path": path, "genre": genre}
            scene_id = f"S{FIRST_SCENE[split] + i:06d}"
            rng = item_rng(seed, "cad1t2-scene", split, song)
            with seeded_global_rng(np.random.RandomState(int(rng.integers(2**31)))):
                parameters = CarNoiseParametersGenerator().gen_parameters(int(rng.integers(*SPEED_KPH)))
            scenes[scene_id] = {"scene": scene_id, "song": song, "song_path": path,
                                "hr": int(rng.choice(sorted(int(h) for h in index[split]))),
                                "car_noise_parameters": _plain(parameters),
                                "snr": float(np.round(rng.uniform(*SNR_DB), 4)), "split": split}
            scene_listeners[scene_id] = [str(x) for x in rng.choice(sorted(listeners), settings["listeners_per_scene"],
                                                                    replace=False)]
        write_json(meta / f"music.{split}.json", music)
    write_json(meta / "scenes.json", scenes)
    write_json(meta / "scenes_listeners.json", scene_listeners)
    shutil.rmtree(source)


def _plain(value):
    """numpy scalars and arrays as JSON numbers and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
