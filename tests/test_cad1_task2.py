"""The CAD1 task 2 recipe against pyclarity 0.9.0's ``recipes/cad1/task2/baseline`` on the same
files: the baseline enhancer (level rule, 32 kHz FLAC), the per-item HAAQI of the official
``evaluate_scene`` once its sample-rate bug is fixed the same way on both sides (1e-9), the CSV,
the demo's metadata, bad input and the submission."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from clarity.utils.audiogram import Listener as OfficialListener
from clarity.utils.flac_encoder import read_flac_signal
from clarity.utils.signal_processing import resample as official_resample
from omegaconf import OmegaConf
from recipes.cad1.task2.baseline import enhance as official_enhance  # pyclarity's installed recipe
from recipes.cad1.task2.baseline import evaluate as official_evaluate
from recipes.cad1.task2.baseline.car_scene_acoustics import CarSceneAcoustics

from harness.cli import EXIT_ITEMS_FAILED, main
from harness.demo.cad1_task2 import make_demo
from harness.results import read_records

TASK = "cad1/task2"
SR = 44100


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """2 valid songs of 4 s, one listener each: 2 items."""
    return make_demo(tmp_path_factory.mktemp("cad1t2") / "data", train_songs=1, valid_songs=2, seconds=4.0,
                     listeners_per_split=2, listeners_per_scene=1, head_rotations=[32, 40])


def _run(data: Path, exp: Path, *args) -> int:
    return main(["cad1", "--task", "task2", *args, f"--exp-dir={exp}", "--data-root", str(data)])


@pytest.fixture(scope="module")
def scored(demo, tmp_path_factory) -> Path:
    exp = tmp_path_factory.mktemp("cad1t2_exp")
    assert _run(demo, exp, "--system", "mixture") == 0
    return exp


def _meta(root: Path, name: str) -> dict:
    return json.loads((root / "metadata" / name).read_text())


def _config(data: Path):
    return OmegaConf.create({
        "sample_rate": SR, "enhanced_sample_rate": 32000, "soft_clip": False,
        "enhance": {"average_level": -14, "min_level": -19},
        "evaluate": {"set_random_seed": True, "save_intermediate_wavs": False},
        "path": {"music_dir": str(data / "audio/music")},
    })


def test_enhanced_files_equal_the_official_enhance(demo, scored):
    """enhance.py's ``enhance_song`` on the song, resampled to 32 kHz, clipped, 16 bits."""
    scenes, listeners = _meta(demo, "scenes.json"), OfficialListener.load_listener_dict(demo / "metadata/listeners.valid.json")
    config = _config(demo)
    pairs = [(s, lid) for s, lids in _meta(demo, "scenes_listeners.json").items() for lid in lids
             if scenes[s]["split"] == "valid"]
    assert len(pairs) == 2
    for scene_id, lid in pairs:
        scene = scenes[scene_id]
        song, _ = sf.read(demo / "audio/music" / scene["song_path"], dtype="float64")
        left, right = official_enhance.enhance_song(song.T, listeners[lid], config)
        theirs = official_resample(np.stack([left, right], axis=1), SR, 32000)
        theirs = (np.clip(theirs, -1, 1) * 32768.0).clip(-32768, 32767).astype(np.int16)
        ours, rate = sf.read(scored / TASK / "mixture/enhanced/valid" / lid / f"{scene_id}_{lid}_{scene['song']}.flac",
                             dtype="int16")
        assert rate == 32000
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.filterwarnings("ignore::scipy.io.wavfile.WavFileWarning")
def test_item_haaqi_equals_the_official_evaluate_scene(demo, scored, tmp_path, monkeypatch):
    """``evaluate_scene`` on the same output, with the fix on both sides: the 32 kHz file is
    resampled to 44.1 kHz before the car scene (main hands it on as 44.1 kHz), and the noise
    lasts the song plus 20 % (main: a fixed 30 s track)."""
    scores = pd.read_csv(scored / TASK / "mixture/scores.csv")
    assert list(scores.columns[:7]) == ["scene", "song", "genre", "listener", "score", "haaqi_left", "haaqi_right"]
    row = scores.iloc[-1]
    scene = _meta(demo, "scenes.json")[row["scene"]]
    listener = OfficialListener.load_listener_dict(demo / "metadata/listeners.valid.json")[row["listener"]]
    hrtf = _meta(demo, "eBrird_BRIR.json")["valid"][str(scene["hr"])]
    song, _ = sf.read(demo / "audio/music" / scene["song_path"], dtype="float64")
    enhanced, _ = read_flac_signal(scored / TASK / "mixture/enhanced/valid" / row["listener"]
                                   / f"{row['scene']}_{row['listener']}_{scene['song']}.flac")
    acoustics = CarSceneAcoustics(track_duration=5 / 1.2, sample_rate=SR, hrtf_dir=str(demo / "audio/eBrird"),
                                  config_nalr={"nfir": 220, "sample_rate": SR},
                                  config_compressor=dict(threshold=0.7, attenuation=0.1, attack=5, release=20,
                                                         rms_buffer_size=0.064), extend_noise=0.2)
    monkeypatch.chdir(tmp_path)  # the official AudioManager writes under the working directory
    state = np.random.get_state()
    try:
        left, right = official_evaluate.evaluate_scene(song.T, official_resample(enhanced, 32000, SR).T, SR, row["scene"],
                                                       scene, listener, acoustics, hrtf, _config(demo))
    finally:
        np.random.set_state(state)
    assert row["haaqi_left"] == pytest.approx(left, abs=1e-9)
    assert row["haaqi_right"] == pytest.approx(right, abs=1e-9)
    assert row["score"] == pytest.approx((left + right) / 2, abs=1e-9)
    assert row["genre"] == scene["song_path"].split("/")[-2]


def test_demo_scenes_follow_the_official_metadata(demo):
    scenes = _meta(demo, "scenes.json")
    assert sorted(scenes) == ["S100000", "S500000", "S500001"]
    index = _meta(demo, "eBrird_BRIR.json")
    for scene_id, scene in scenes.items():
        assert set(scene) == {"scene", "song", "song_path", "hr", "car_noise_parameters", "snr", "split"}
        assert str(scene["hr"]) in index[scene["split"]]
        assert 50 <= scene["car_noise_parameters"]["speed"] < 120 and 0 <= scene["snr"] <= 15
        assert (demo / "audio/music" / scene["song_path"]).is_file()
    again = make_demo(demo.parent / "again", train_songs=1, valid_songs=2, seconds=4.0, listeners_per_split=2,
                      listeners_per_scene=1, head_rotations=[32, 40])
    assert _meta(again, "scenes.json") == scenes


def _edit_scene(change):
    def edit(root: Path):
        path = root / "metadata/scenes.json"
        scenes = json.loads(path.read_text())
        change(scenes["S500000"])
        path.write_text(json.dumps(scenes))
    return edit


BAD_METADATA = {
    "unknown hr": (_edit_scene(lambda s: s.update(hr=99)), "scenes.json [S500000]: unknown head rotation hr=99"),
    "snr out of range": (_edit_scene(lambda s: s.update(snr=90.0)), "scenes.json [S500000]: snr 90.0 is not"),
    "speed out of range": (_edit_scene(lambda s: s["car_noise_parameters"].update(speed=300.0)),
                           "scenes.json [S500000]: speed 300.0 km/h is outside"),
    "unknown listener": (lambda root: (root / "metadata/scenes_listeners.json").write_text(
        json.dumps({**_meta(root, "scenes_listeners.json"), "S500000": ["L9999"]})), "unknown listener 'L9999'"),
    "malformed json": (lambda root: (root / "metadata/scenes.json").write_text("{oops"), "scenes.json"),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_bad_metadata_is_one_line_naming_the_file(demo, tmp_path, capsys, case):
    edit, words = BAD_METADATA[case]
    data = tmp_path / "data"
    shutil.copytree(demo, data)
    edit(data)
    assert _run(data, tmp_path / "exp", "--system", "mixture", "--stage", "enhance") != 0
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def _failed(exp: Path, stage: str) -> dict:
    return {r["key"]: r["error"] for r in read_records(exp / TASK / "mixture/results", stage) if r["status"] == "failed"}


def test_a_missing_response_or_short_song_fails_its_item_only(demo, scored, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo, data)
    scenes = _meta(data, "scenes.json")
    hr = str(scenes["S500000"]["hr"])
    scenes["S500001"]["hr"] = 32 if hr == "40" else 40  # the other scene at the other head rotation
    (data / "metadata/scenes.json").write_text(json.dumps(scenes))
    response = data / "audio/eBrird/Car/audio" / f"{_meta(data, 'eBrird_BRIR.json')['valid'][hr]['car']['left_speaker']['left_side']}.wav"
    response.unlink()
    exp = tmp_path / "exp"
    assert _run(data, exp, "--system", "mixture", "--stage", "enhance") == 0
    assert _run(data, exp, "--system", "mixture", "--stage", "evaluate") == EXIT_ITEMS_FAILED
    failed = _failed(exp, "evaluate")
    assert list(failed) == [k for k in failed if k.startswith("S500000_")] and len(failed) == 1
    assert f"{response}: impulse response file not found" in next(iter(failed.values()))

    song = data / "audio/music" / scenes["S500001"]["song_path"]
    audio, rate = sf.read(song)
    sf.write(song, audio[: rate // 2], rate, format="FLAC")
    exp2 = tmp_path / "exp2"
    assert _run(data, exp2, "--system", "mixture", "--stage", "enhance") == EXIT_ITEMS_FAILED
    (error,) = _failed(exp2, "enhance").values()
    assert f"{song}: song is 0.50 s, shorter than evaluate.min_song_seconds=1.0" in error


def test_the_submission_is_upstreams_zip_and_is_validated(demo, scored, tmp_path, capsys):
    assert _run(demo, scored, "--system", "mixture", "--stage", "package") == 0
    archive = scored / TASK / "mixture/submission_T001.zip"
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
    assert len(names) == 2 and all(n.startswith("valid/L") and n.endswith(".flac") for n in names)
    assert _run(demo, scored, "--stage", "validate", "--submission", str(archive)) == 0
    folder = tmp_path / "sub"
    shutil.copytree(scored / TASK / "mixture/enhanced", folder)
    first, second = (folder / n for n in names)
    audio, rate = sf.read(first)
    sf.write(first, audio, 44100, subtype="PCM_16", format="FLAC")  # wrong rate
    second.unlink()  # missing
    capsys.readouterr()
    assert _run(demo, scored, "--stage", "validate", "--submission", str(folder)) == EXIT_ITEMS_FAILED
    out = capsys.readouterr().out
    assert f"{names[1]}: missing" in out and names[0] in out and "44100" in out
