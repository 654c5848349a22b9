"""CAD2 task 1's separation scores (SDR family of the vocals and accompaniment beside the task
score) and its demo: lines of the valid songs unseen in training, varied accompaniment."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluators.sdr import aggregate_frames, bsseval_v4, si_sdr
from harness.recipe import load_task_module, select

task1 = load_task_module(select("cad2", "task1")[0].directory)
RATE = 8000


def signals(seconds: float = 3.0, dual_mono: bool = False):
    rng = np.random.default_rng(0)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    voice = np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    other = voice if dual_mono else voice + 0.01 * rng.standard_normal(n)
    vocals = 0.1 * np.stack([voice, other], axis=1)
    accompaniment = 0.1 * rng.standard_normal((n, 2))
    return {"vocals": vocals, "accompaniment": accompaniment}, rng


def test_columns_and_what_they_measure():
    refs, rng = signals()
    mixture = refs["vocals"] + refs["accompaniment"]
    noisy = {k: v + 0.02 * rng.standard_normal(v.shape) for k, v in refs.items()}
    scores = task1.separation_scores(noisy, refs, mixture, RATE)
    assert list(scores) == task1.SDR_COLUMNS
    framewise = bsseval_v4(np.stack(list(noisy.values())), np.stack(list(refs.values())), RATE)
    assert scores["vocals_sdr"] == pytest.approx(aggregate_frames(framewise["sdr"])[0])
    assert scores["accompaniment_sar"] == pytest.approx(aggregate_frames(framewise["sar"])[1])
    assert scores["vocals_si_sdr"] == pytest.approx(si_sdr(noisy["vocals"], refs["vocals"]))
    assert scores["vocals_nsdr"] > 10 and scores["accompaniment_nsdr"] > 5  # far better than the mixture
    # the mixture itself as both estimates: no improvement
    unseparated = task1.separation_scores({k: mixture for k in refs}, refs, mixture, RATE)
    assert unseparated["vocals_nsdr"] == pytest.approx(0.0, abs=1e-9)
    assert unseparated["vocals_sdr"] < scores["vocals_sdr"]


def test_dual_mono_reference_is_scored_by_museval():
    refs, rng = signals(dual_mono=True)  # an exactly singular system for the fast backend
    noisy = {k: v + 0.02 * rng.standard_normal(v.shape) for k, v in refs.items()}
    mixture = refs["vocals"] + refs["accompaniment"]
    scores = task1.separation_scores(noisy, refs, mixture, RATE)
    reference = bsseval_v4(np.stack(list(noisy.values())), np.stack(list(refs.values())), RATE, backend="museval")
    assert scores["vocals_sir"] == pytest.approx(aggregate_frames(reference["sir"])[0])
    assert np.isfinite(scores["vocals_sdr"]) and scores["vocals_nsdr"] > 5


def test_silent_reference_gives_nan_not_an_error():
    refs, _ = signals()
    refs["vocals"] = np.zeros_like(refs["vocals"])
    scores = task1.separation_scores(refs, refs, refs["accompaniment"], RATE)
    assert all(np.isnan(v) for v in scores.values())


def test_leaderboard_takes_each_song_once():
    table = pd.DataFrame({"song": ["a", "a", "a", "b", "c"], "vocals_sdr": [1.0, 1.0, 1.0, 5.0, 6.0]})
    assert task1.median_over_songs("vocals_sdr")(table) == 5.0  # not the median of the 5 rows (1.0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from harness.demo.cad2_task1 import make_cad2_task1_demo

    return make_cad2_task1_demo(tmp_path_factory.mktemp("t1demo"), seed=2, n_songs={"train": 6, "valid": 3},
                                listeners_per_scene=1)


def test_valid_lyrics_are_not_in_training(demo):
    music = {split: json.loads((demo / "metadata" / f"music.{split}.json").read_text()) for split in ("train", "valid")}
    lines = {split: {seg["text"] for seg in segs.values()} for split, segs in music.items()}
    assert len(lines["valid"]) == 3 and len(lines["train"]) == 6
    from harness.demo.lyric_clips import lyric_clips

    texts = [c.text for c in lyric_clips().values()]
    in_split = {split: {t for t in texts if any(t in line for line in lines[split])} for split in lines}
    assert len(in_split["valid"]) == 6 and not in_split["valid"] & in_split["train"]


def test_lyric_split_keeps_clips_for_training():
    from harness.demo.cad2_task1 import lyric_split

    ids = [f"c{i:02d}" for i in range(10)]
    assert lyric_split(ids, 3) == (ids[4:], ids[:4])
    valid, other = lyric_split(ids, 9)  # asks for 18 lines: 8 held, 2 left for training
    assert valid == ids[2:] and other == ids[:2]
    assert lyric_split(ids, 0) == (ids, ids)


def test_accompaniment_is_varied():
    from harness.demo.accompaniment import DEFAULT_STYLE, accompaniment_style, synth_accompaniment

    styles = [accompaniment_style(np.random.default_rng(i)) for i in range(12)]
    assert len({s["progression"] for s in styles}) >= 3 and {s["lead"] for s in styles} == {True, False}
    assert {s["arpeggio"] for s in styles} == {True, False}
    a = synth_accompaniment(RATE * 2, RATE, np.random.default_rng(1), varied=True)
    b = synth_accompaniment(RATE * 2, RATE, np.random.default_rng(1), varied=True)
    assert all(np.array_equal(a[k], b[k]) for k in a)  # deterministic in the generator
    assert DEFAULT_STYLE["progression"] == 0 and not DEFAULT_STYLE["lead"]  # the CLIP1 demo's fixed arrangement
