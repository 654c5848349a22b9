"""ICASSP 2024 building blocks against pyclarity's ``recipes/cad_icassp_2024/baseline/evaluate.py``
(bit-identical: the same arithmetic on the same inputs), and the at-mic demo layout."""

import json

import numpy as np
import pytest
from clarity.enhancer.nalr import NALR
from clarity.utils.audiogram import Audiogram

from harness.data import Listener
from harness.demo.cad_icassp_2024 import make_demo
from harness.hearing_aid import FixedHearingAid, NalR, match_loudness

FS = 44100
official = pytest.importorskip("recipes.cad_icassp_2024.baseline.evaluate")


def _listener() -> Listener:
    freqs = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]
    return Listener("L0001", Audiogram(levels=[10, 15, 25, 40, 50, 55, 60, 65], frequencies=freqs),
                    Audiogram(levels=[20, 20, 30, 35, 45, 60, 70, 80], frequencies=freqs))


def test_match_loudness_equals_level_normalisation():
    rng = np.random.default_rng(3)
    signal, reference = 0.1 * rng.standard_normal((FS, 2)), 0.3 * rng.standard_normal((FS, 2))
    np.testing.assert_array_equal(match_loudness(signal, reference, FS),
                                  official.level_normalisation(signal, reference, FS))


def test_nalr_equals_apply_ha_per_ear():
    rng = np.random.default_rng(4)
    signal = 0.1 * rng.standard_normal((FS, 2))
    listener = _listener()
    ours = NalR(220, FS)(signal, listener)
    assert ours.shape == (FS + 220, 2)
    enhancer = NALR(220, FS)
    for i, ear in enumerate(("left", "right")):
        theirs = official.apply_ha(enhancer, None, signal[:, i], listener.audiogram(ear), apply_compressor=False)
        np.testing.assert_array_equal(ours[:, i], theirs)


def test_fixed_hearing_aid_is_nalr_then_the_compressor():
    rng = np.random.default_rng(5)
    signal = 0.1 * rng.standard_normal((FS // 2, 2))
    listener = _listener()
    aid = FixedHearingAid(FS, 220, {"threshold": 0.7, "attenuation": 0.1, "attack": 5, "release": 20, "rms_buffer_size": 0.064})
    enhancer = NALR(220, FS)
    from clarity.enhancer.compressor import Compressor
    compressor = Compressor(fs=FS, threshold=0.7, attenuation=0.1, attack=5, release=20, rms_buffer_size=0.064)
    ours = aid(signal, listener)
    for i, ear in enumerate(("left", "right")):
        theirs = official.apply_ha(enhancer, compressor, signal[:, i], listener.audiogram(ear), apply_compressor=True)
        np.testing.assert_array_equal(ours[:, i], theirs)


def test_at_mic_demo_has_the_official_layout(tmp_path):
    root = make_demo(tmp_path / "demo", train_songs=1, valid_songs=1, seconds=4.0, segment_seconds=2.0,
                     positions_per_song=1, scenes_per_sample=2, listeners_per_scene=1, listeners_per_split=2)
    meta = root / "metadata"
    for name in ("gains.json", "head_loudspeaker_positions.json", "scenes.valid.json", "scene_listeners.valid.json",
                 "listeners.valid.json", "at_mic_music.valid.json", "at_mic_segments.valid.json"):
        assert (meta / name).is_file(), name
    scenes = json.loads((meta / "scenes.valid.json").read_text())
    assert len(scenes) == 2
    gains = json.loads((meta / "gains.json").read_text())
    assert all(set(gains[s["gain"]]) == {"vocals", "drums", "bass", "other"} for s in scenes.values())
    (sample,) = json.loads((meta / "at_mic_music.valid.json").read_text())
    import soundfile as sf
    folder = root / "audio" / "at_mic_music" / "valid" / sample
    audio = {s: sf.read(folder / f"{s}.wav")[0] for s in ("mixture", "vocals", "drums", "bass", "other")}
    assert all(x.shape == audio["mixture"].shape and x.shape[1] == 2 for x in audio.values())
    assert np.max(np.abs(audio["mixture"])) <= 0.99 + 1e-4
    stems_sum = sum(audio[s] for s in ("vocals", "drums", "bass", "other"))
    assert not np.allclose(stems_sum, audio["mixture"], atol=1e-3)   # loudness-normalised separately, as official
