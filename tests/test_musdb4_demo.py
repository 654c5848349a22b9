"""The 4-stem demo in the MUSDB18-HQ layout: files, exact stem sums, genres, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from harness.demo.band import GENRES
from harness.demo.musdb4 import STEMS, make_musdb4_demo

SIZES = dict(seed=3, n_train=2, n_test=1, seconds=5.0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_musdb4_demo(tmp_path_factory.mktemp("musdb4") / "set", **SIZES)


def _centroid(x: np.ndarray, rate: int = 44100) -> float:
    spec = np.abs(np.fft.rfft(x.astype(np.float64).mean(axis=1))) ** 2
    return float(np.sum(np.fft.rfftfreq(len(x), 1 / rate) * spec) / np.sum(spec))


def test_layout_format_and_exact_sums(demo):
    meta = json.loads((demo / "metadata.json").read_text())
    assert sorted(meta) == ["test", "train"] and len(meta["train"]) == 2 and len(meta["test"]) == 1
    genres = [info["genre"] for split in meta.values() for info in split.values()]
    assert set(genres) <= set(GENRES) and len(set(genres[:2])) == 2  # a split cycles through the genres
    for split, tracks in meta.items():
        assert sorted(p.name for p in (demo / split).iterdir()) == sorted(tracks)
        for track, info in tracks.items():
            folder = demo / split / track
            assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.wav" for s in ("mixture", *STEMS))
            audio = {}
            for name in ("mixture", *STEMS):
                fi = sf.info(folder / f"{name}.wav")
                assert (fi.samplerate, fi.channels, fi.subtype, fi.frames) == (44100, 2, "PCM_16", 5 * 44100)
                audio[name], _ = sf.read(folder / f"{name}.wav", dtype="int16")
                assert np.sqrt(np.mean(audio[name].astype(float) ** 2)) > 30, f"{track}/{name} is silent"
            total = np.sum([audio[s].astype(np.int32) for s in STEMS], axis=0)
            assert np.array_equal(total, audio["mixture"]), track
            assert _centroid(audio["bass"]) < _centroid(audio["other"]), track
            assert info["vocals"] and all(line["text"] for line in info["vocals"])
            assert 0 <= info["vocals"][0]["start"] and info["seconds"] == 5.0


def test_musdb_reads_it(demo):
    musdb = pytest.importorskip("musdb")
    db = musdb.DB(root=str(demo), is_wav=True, subsets="train")
    assert len(db) == 2
    track = db[0]
    assert track.rate == 44100 and track.audio.shape == (5 * 44100, 2)
    np.testing.assert_allclose(sum(track.targets[s].audio for s in STEMS), track.audio, atol=1e-6)


def test_same_seed_same_bytes(demo, tmp_path):
    again = make_musdb4_demo(tmp_path / "again", **{**SIZES, "n_train": 1, "n_test": 0})
    track = next((again / "train").iterdir())
    for name in ("mixture", *STEMS):
        assert (track / f"{name}.wav").read_bytes() == (demo / "train" / track.name / f"{name}.wav").read_bytes()


def test_impossible_sizes(tmp_path):
    with pytest.raises(ValueError, match="musdb4 demo: seconds must be within 4..60, got 1"):
        make_musdb4_demo(tmp_path / "x", seconds=1)
    with pytest.raises(ValueError, match="n_train >= 1"):
        make_musdb4_demo(tmp_path / "x", n_train=0)
