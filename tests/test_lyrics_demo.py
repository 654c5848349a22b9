"""Demo data in the official CAD2 task 1 and CLIP1 layouts (harness/demo/cad2_task1.py, clip1.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.demo.cad2_task1 import make_cad2_task1_demo
from harness.demo.clip1 import make_clip_demo
from harness.demo.listeners import LYRIC_RULE, compressor_params
from harness.demo.lyric_clips import lyric_clips
from harness.demo.simulated_listener import intelligibility_index, simulated_listener
from harness.demo.store import MARKER

CAD2_META = ["alpha.json"] + [
    f"{name}.{split}.json"
    for split in ("train", "valid")
    for name in ("music", "scene", "scene_listeners", "listeners", "compressor_params")
]


@pytest.fixture(scope="module")
def cad2(tmp_path_factory):
    return make_cad2_task1_demo(tmp_path_factory.mktemp("cad2"), seed=0, n_songs={"train": 2, "valid": 2})


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip_demo(tmp_path_factory.mktemp("clip1"), seed=0, n_train=6, n_valid=3)


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_lyric_clips_load():
    clips = lyric_clips()
    assert 12 <= len(clips) <= 20
    for c in clips.values():
        assert 5 <= len(c.text.split()) <= 10
        assert 1.0 < c.signal.size / 44100 < 6.0
    assert any("'" in c.text for c in clips.values()) and any(ch.isdigit() for c in clips.values() for ch in c.text)


def test_cad2_layout_as_the_official_evaluate_reads_it(cad2):
    from clarity.utils.audiogram import Listener

    meta = cad2 / "metadata"
    for name in CAD2_META:
        assert (meta / name).is_file(), name
    alphas = _load(meta / "alpha.json")
    for split in ("train", "valid"):
        songs = _load(meta / f"music.{split}.json")
        scenes = _load(meta / f"scene.{split}.json")
        scene_listeners = _load(meta / f"scene_listeners.{split}.json")
        listeners = Listener.load_listener_dict(meta / f"listeners.{split}.json")
        params = _load(meta / f"compressor_params.{split}.json")
        assert len(scenes) == 2
        for scene_id, scene in scenes.items():
            alpha = alphas[scene["alpha"]]
            assert 0 <= alpha <= 1
            song = songs[scene["segment_id"]]
            assert {"path", "start_time", "end_time", "track_name", "text"} <= set(song)
            folder = cad2 / "audio" / song["path"]
            stems = {}
            for name in ("mixture", "vocals", "bass", "drums", "other"):
                x, sr = sf.read(folder / f"{name}.flac")
                assert sr == 44100 and x.ndim == 2 and x.shape[1] == 2
                stems[name] = x
            assert 0 <= song["start_time"] < song["end_time"] <= stems["mixture"].shape[0] / sr
            summed = stems["vocals"] + stems["bass"] + stems["drums"] + stems["other"]
            assert np.max(np.abs(summed - stems["mixture"])) < 4 / 32768  # 16-bit rounding
            assert len(scene_listeners[scene_id]) == 2
            for lid in scene_listeners[scene_id]:
                assert lid in listeners
                p = params[lid]
                assert set(p) == {"cr_l", "cr_r", "gain_l", "gain_r"}
                assert all(len(p[k]) == 6 for k in p)


def test_compressor_rule():
    p = compressor_params([0] * 8, [60] * 8, LYRIC_RULE)
    assert p["gain_l"] == [0.0] * 6 and p["cr_l"] == [1.0] * 6
    assert p["gain_r"] == [24.0] * 6  # half of 60 capped at 24 dB
    assert p["cr_r"] == [2.0] * 6  # 1 + (60 - 20) / 40


def test_clip_layout_and_records(clip):
    meta = clip / "metadata"
    assert (clip / "README.md").is_file() and (clip / MARKER).is_file()
    for split, n in (("train", 6), ("valid", 3)):
        records = _load(meta / f"{split}_metadata.json")
        assert len(records) == n
        for r in records:
            assert {"signal", "prompt", "correctness", "hearing_loss", "n_words", "words_correct"} <= set(r)
            assert r["hearing_loss"] in ("No Loss", "Mild", "Moderate")
            assert 0 <= r["words_correct"] <= r["n_words"]
            assert r["correctness"] == pytest.approx(100 * r["words_correct"] / r["n_words"], abs=1e-3)
            heard, sr = sf.read(clip / "audio" / split / "signals" / f"{r['signal']}.flac")
            unproc, sr2 = sf.read(clip / "audio" / split / "unprocessed" / f"{r['signal']}_unproc.flac")
            assert sr == sr2 == 44100 and heard.shape == unproc.shape and heard.shape[1] == 2
            assert 2.0 < heard.shape[0] / sr < 5.5
            if r["hearing_loss"] == "No Loss":
                np.testing.assert_array_equal(heard, unproc)
            else:
                assert not np.allclose(heard, unproc)
    assert _load(meta / "valid_metadata_evalai.json") == _load(meta / "valid_metadata.json")
    train_prompts = {r["prompt"] for r in _load(meta / "train_metadata.json")}
    assert not train_prompts & {r["prompt"] for r in _load(meta / "valid_metadata.json")}
    truth = _load(meta / "demo_generation.json")
    assert len(truth) == 9 and all(0 <= t["intelligibility_index"] <= 1 for t in truth.values())


def test_clip_demo_is_deterministic_and_cached(clip, tmp_path):
    again = make_clip_demo(tmp_path / "again", seed=0, n_train=6, n_valid=3)
    for name in ("train_metadata.json", "valid_metadata.json"):
        assert _load(again / "metadata" / name) == _load(clip / "metadata" / name)
    rec = _load(clip / "metadata" / "train_metadata.json")[1]
    a = (clip / "audio" / "train" / "signals" / f"{rec['signal']}.flac").read_bytes()
    b = (again / "audio" / "train" / "signals" / f"{rec['signal']}.flac").read_bytes()
    assert a == b
    # cached: the marker matches, nothing is rewritten
    stamp = (again / "metadata" / "train_metadata.json").stat().st_mtime_ns
    make_clip_demo(again, seed=0, n_train=6, n_valid=3)
    assert (again / "metadata" / "train_metadata.json").stat().st_mtime_ns == stamp


def test_cad2_demo_rebuilds_when_parameters_change(tmp_path):
    root = make_cad2_task1_demo(tmp_path, seed=1, n_songs={"train": 1, "valid": 1})
    assert len(_load(root / "metadata" / "scene.valid.json")) == 1
    root = make_cad2_task1_demo(tmp_path, seed=1, n_songs={"valid": 2})
    assert len(_load(root / "metadata" / "scene.valid.json")) == 2
    assert not (root / "metadata" / "scene.train.json").exists()


def test_simulated_listener_monotone_in_the_index():
    rng = np.random.default_rng(0)
    low = np.mean([simulated_listener(0.2, 8, rng)[0] for _ in range(200)])
    high = np.mean([simulated_listener(0.8, 8, rng)[0] for _ in range(200)])
    assert low < 2 < 6 < high


def test_intelligibility_index_falls_with_noise_and_loss():
    rng = np.random.default_rng(0)
    v = rng.standard_normal(44100) * 0.03
    a = rng.standard_normal(44100) * 0.03
    clear = intelligibility_index(v, 0.05 * a, 44100, [0] * 8)
    noisy = intelligibility_index(v, 3 * a, 44100, [0] * 8)
    impaired = intelligibility_index(v, 0.05 * a, 44100, [50] * 8)
    assert clear > noisy and clear > impaired
    assert 0 <= noisy <= clear <= 1
