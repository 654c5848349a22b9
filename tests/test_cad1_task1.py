"""CAD1 task 1 (recipes/cad1/task1): parity with pyclarity 0.9.0's recipe on the same inputs,
the official layout and CSV, bad input, and the submission.

The enhance chain is compared with the official functions of
``recipes/cad1/task1/baseline/enhance.py`` (read from the installed file: the module imports
torchaudio, which is not loaded here), the per-item HAAQI with ``_evaluate_song_listener`` of
``recipes/cad1/task1/baseline/evaluate.py`` itself, on the same files. The songs are synthetic
and short (0.5-1 s) so that the official HAAQI (about 2 s of CPU per second of audio) fits.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.audio import resample, write_audio
from harness.cli import main
from harness.demo.cad1_task1 import make_demo, write_metadata
from harness.demo.listeners import make_listeners
from harness.demo.store import item_rng
from harness.recipe import load_config, make_task, select
from harness.results import read_records

RATE = 44100
OFFICIAL_COLUMNS = ["song", "listener", "score", "left_bass", "right_bass", "left_drums", "right_drums", "left_other",
                    "right_other", "left_vocals", "right_vocals"]  # evaluate.py, run_calculate_aq's scores_headers
VALID_SONGS = ("Alpha - One", "Beta - Two")
TEST_SONGS = ("Gamma - Three", "Delta - Four")
SEGMENTS = {"Gamma - Three": {"objective_evaluation": {"start": 0.2, "end": 0.8},
                              "subjective_evaluation": {"start": 0.3, "end": 0.6}},
            "Delta - Four": {"objective_evaluation": {"start": 0.1, "end": 0.7},
                             "subjective_evaluation": {"start": 0.4, "end": 0.7}}}


def _song(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    """int16 (n, 2) stems with distinct content, and their exact sum as the mixture."""
    t = np.arange(int(seconds * RATE)) / RATE
    beat = (t % 0.125) / 0.125
    f0 = rng.uniform(200, 400)
    float_stems = {
        "drums": rng.standard_normal(t.size) * np.exp(-30 * beat * 0.125 * 8),
        "bass": np.sin(2 * np.pi * rng.uniform(50, 90) * t) + 0.3 * np.sin(2 * np.pi * 170 * t),
        "other": sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(300, 900, 3)),
        "vocals": np.sin(2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 5 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)),
    }
    stems = {}
    for name, x in float_stems.items():
        x = x / np.sqrt(np.mean(x**2)) * 10 ** (rng.uniform(-24, -20) / 20)
        stereo = np.stack([x * rng.uniform(0.8, 1.0), x * rng.uniform(0.8, 1.0)], axis=1)
        stems[name] = np.round(stereo * 32768).astype(np.int16)
    stems["mixture"] = np.sum([s.astype(np.int32) for s in stems.values()], axis=0).astype(np.int16)
    return stems


def write_tiny(root: Path) -> Path:
    """The official layout with 1 train, 2 valid (0.5 s) and 2 test songs (1 s), one listener per split."""
    rng = np.random.default_rng(7)
    tracks = {"train": [("Train - Song", 0.5)], "valid": [(s, 0.5) for s in VALID_SONGS],
              "test": [(s, 1.0) for s in TEST_SONGS]}
    music = {}
    for split, songs in tracks.items():
        folder = "test" if split == "test" else "train"
        music[split] = [(name, folder) for name, _ in songs]
        for name, seconds in songs:
            for stem, x in _song(rng, seconds).items():
                write_audio(root / "audio/musdb18hq" / folder / name / f"{stem}.wav", x, RATE)
    listeners = {split: make_listeners(item_rng(1, split), prefix, 1)[0] for split, prefix in (("train", "L0"), ("valid", "L5"))}
    write_metadata(root / "metadata", music, listeners, SEGMENTS)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("cad1") / "data")


@pytest.fixture
def data(tiny, tmp_path) -> Path:
    """A private copy that a test may break."""
    return Path(shutil.copytree(tiny, tmp_path / "data"))


def cli(data: Path, exp: Path, *args) -> int:
    return main(["cad1", "--task", "task1", *args, f"--exp-dir={exp}", "--data-root", str(data)])


def task_for(data: Path, exp: Path, *overrides):
    recipe = select("cad1", "task1")[0]
    return make_task(recipe, load_config(recipe, [f"path.exp_root={exp}", *overrides], str(data)))


@pytest.fixture(scope="module")
def scored(tiny, tmp_path_factory) -> Path:
    """oracle and mixture run end to end on the tiny valid split (fast HAAQI)."""
    exp = tmp_path_factory.mktemp("exp")
    assert cli(tiny, exp, "--system", "oracle,mixture") == 0
    return exp


# ---- layout, selection, demo -----------------------------------------------------------------
def test_cad1_runs_task1():
    """`cad1` picks its tasks as `cad2` does: every task of the challenge (the systems decide which run)."""
    assert "cad1/task1" in [r.task_id for r in select("cad1")]
    assert [r.task_id for r in select("cad1", "task1")] == ["cad1/task1"]


def test_demo_layout_and_dataset(tmp_path):
    root = make_demo(tmp_path / "demo", seed=3, train_songs=1, valid_songs=1, test_songs=1, seconds=4.0, listeners=1,
                     objective_seconds=3.0, subjective_seconds=1.5)
    meta = root / "metadata"
    assert sorted(p.name for p in meta.iterdir()) == [
        "listeners.train.json", "listeners.valid.json", "musdb18.segments.test.json", "musdb18.test.json",
        "musdb18.train.json", "musdb18.valid.json"]
    audio = root / "audio/musdb18hq"
    assert sorted(p.name for p in audio.iterdir()) == ["test", "train"]
    for split, folder in (("train", "train"), ("valid", "train"), ("test", "test")):
        (record,) = json.loads((meta / f"musdb18.{split}.json").read_text())
        assert set(record) == {"Track Name", "Split"} and record["Split"] == folder
        names = sorted(p.name for p in (audio / folder / record["Track Name"]).iterdir())
        assert names == ["bass.wav", "drums.wav", "mixture.wav", "other.wav", "vocals.wav"]
    (listener,) = json.loads((meta / "listeners.valid.json").read_text()).values()
    assert set(listener) == {"name", "audiogram_cfs", "audiogram_levels_l", "audiogram_levels_r"}
    (test_song,) = json.loads((meta / "musdb18.test.json").read_text())
    seg = json.loads((meta / "musdb18.segments.test.json").read_text())[test_song["Track Name"]]
    obj, sub = seg["objective_evaluation"], seg["subjective_evaluation"]
    assert 0 <= obj["start"] and obj["end"] <= 4.0 and obj["end"] - obj["start"] == pytest.approx(3.0)
    assert obj["start"] <= sub["start"] and sub["end"] <= obj["end"] and sub["end"] - sub["start"] == pytest.approx(1.5)
    task = task_for(root, tmp_path / "exp")
    train = task.dataset("train")
    song = next(iter(train.songs.values()))
    assert sorted(song.sources) == ["bass", "drums", "other", "vocals"]
    assert {k: t.instrument for k, t in song.sources.items()} == {k: k for k in song.sources}
    assert train.load_track(song.mixture).shape == (4 * RATE, 2)
    assert [it.key for it in task.work_items()] == [f"{json.loads((meta / 'musdb18.valid.json').read_text())[0]['Track Name']}_L5001"]


def test_work_list_is_every_song_times_every_listener(tiny, tmp_path):
    meta = tmp_path / "meta_data"
    shutil.copytree(tiny, meta)
    listeners = make_listeners(item_rng(2, "v"), "L5", 16)[0]
    (meta / "metadata/listeners.valid.json").write_text(json.dumps(listeners))
    task = task_for(meta, tmp_path / "exp")
    items = task.work_items()
    assert len(items) == 2 * 16 and items[0].key == f"{VALID_SONGS[0]}_L5001"
    small = task_for(meta, tmp_path / "exp", "pairs.small_test=true").work_items()
    assert [it.key for it in small] == [items[0].key, items[15].key, items[30].key]  # the official [::15]
    chosen = task_for(meta, tmp_path / "exp", "pairs.listeners=[L5003]").work_items()
    assert [it.fields for it in chosen] == [{"song": s, "listener": "L5003"} for s in VALID_SONGS]


# ---- the enhance chain against pyclarity's functions ------------------------------------------
def official_enhance_functions() -> dict:
    """map_to_dict, process_stems_for_listener, remix_signal, save_flac_signal (and what they
    call) compiled from the installed recipes/cad1/task1/baseline/enhance.py."""
    spec = importlib.util.find_spec("recipes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyclarity's recipes are not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "cad1/task1/baseline/enhance.py"
    tree = ast.parse(path.read_text())
    wanted = {"map_to_dict", "apply_baseline_ha", "process_stems_for_listener", "remix_signal", "save_flac_signal"}
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    assert {n.name for n in nodes} == wanted
    from clarity.utils.flac_encoder import FlacEncoder
    from clarity.utils.signal_processing import clip_signal, resample, to_16bit

    namespace = {"np": np, "Path": Path, "FlacEncoder": FlacEncoder, "clip_signal": clip_signal, "resample": resample,
                 "to_16bit": to_16bit, "logger": logging.getLogger("official"), "ndarray": np.ndarray,
                 "NALR": object, "Compressor": object, "Audiogram": object, "Listener": object}
    exec(compile(ast.Module(nodes, []), str(path), "exec"), namespace)
    return namespace


def test_enhance_chain_matches_official(scored, tiny, tmp_path):
    from clarity.enhancer.compressor import Compressor
    from clarity.enhancer.nalr import NALR
    from clarity.utils.audiogram import Listener as OfficialListener

    official = official_enhance_functions()
    task = task_for(tiny, scored)
    for system in ("oracle", "mixture"):
        item = task.work_items()[0]
        song, lid = item.fields["song"], item.fields["listener"]
        ds = task.dataset("valid")
        truth = ds.load_instrument_stems(ds.songs[song])
        if system == "oracle":
            sources = np.stack([truth[s].T for s in ("drums", "bass", "other", "vocals")])  # (4, 2, n), Demucs' order
        else:  # mixture / 4 as each stem
            sources = np.stack([ds.load_track(ds.songs[song].mixture).T / 4] * 4)
        stems = official["map_to_dict"](sources, ["drums", "bass", "other", "vocals"])
        listener = OfficialListener.load_listener_dict(tiny / "metadata/listeners.valid.json")[lid]
        processed = official["process_stems_for_listener"](stems, NALR(nfir=220, sample_rate=44100), Compressor(
            threshold=0.35, attenuation=0.1, attack=50, release=1000, rms_buffer_size=0.064), listener, False)
        theirs = tmp_path / system / lid / song
        theirs.mkdir(parents=True)
        for name, signal in processed.items():
            official["save_flac_signal"](signal=signal, filename=theirs / f"{lid}_{song}_{name}.flac",
                                         signal_sample_rate=44100, output_sample_rate=24000, do_scale_signal=True)
        official["save_flac_signal"](signal=official["remix_signal"](processed), filename=theirs / f"{lid}_{song}_remix.flac",
                                     signal_sample_rate=44100, output_sample_rate=32000, do_clip_signal=True,
                                     do_soft_clip=True)
        ours = scored / "cad1/task1" / system / "enhanced/valid" / lid / song
        assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
        assert len(list(ours.iterdir())) == 17  # 8 stems, their 8 scales, the remix
        for path in sorted(theirs.iterdir()):
            if path.suffix == ".txt":
                assert (ours / path.name).read_text() == path.read_text(), path.name
            else:
                a, ra = sf.read(ours / path.name, dtype="int16")
                b, rb = sf.read(path, dtype="int16")
                assert ra == rb and sf.info(ours / path.name).subtype == "PCM_16"
                np.testing.assert_array_equal(a, b, err_msg=path.name)


# ---- HAAQI against the official evaluate loop -------------------------------------------------
def test_item_haaqi_matches_official_evaluate(scored, tiny):
    from clarity.utils.audiogram import Listener as OfficialListener
    from omegaconf import OmegaConf
    from recipes.cad1.task1.baseline import evaluate as official  # pyclarity's installed recipe

    exp = scored / "cad1/task1/mixture"
    task = task_for(tiny, scored, "evaluate.haaqi.backend=pyclarity")
    item = task.work_items()[0]
    song, lid = item.fields["song"], item.fields["listener"]
    ours = task.evaluate(item, exp / "enhanced", {})
    config = OmegaConf.create({"path": {"music_dir": str(tiny / "audio/musdb18hq")}, "evaluate": {"set_random_seed": True},
                               "sample_rate": 44100, "stem_sample_rate": 24000})
    listener = OfficialListener.load_listener_dict(tiny / "metadata/listeners.valid.json")[lid]
    combined, per_stem = official._evaluate_song_listener(song, listener, config, "train", exp / "enhanced/valid")
    assert set(per_stem) == set(OFFICIAL_COLUMNS[3:])
    assert ours["score"] == pytest.approx(combined, abs=1e-9)
    for column, value in per_stem.items():
        assert ours[column] == pytest.approx(value, abs=1e-9), column
    fast = pd.read_csv(exp / "scores.csv").set_index(["song", "listener"]).loc[(song, lid)]
    for column, value in per_stem.items():  # the default backend, scored by the run
        assert fast[column] == pytest.approx(value, abs=1e-6), column
    assert 0.05 < combined < 0.6  # the mixture as every stem: far from the oracle


def test_scores_csv_and_leaderboard(scored):
    oracle = pd.read_csv(scored / "cad1/task1/oracle/scores.csv")
    mixture = pd.read_csv(scored / "cad1/task1/mixture/scores.csv")
    assert list(oracle.columns) == OFFICIAL_COLUMNS and list(mixture.columns) == OFFICIAL_COLUMNS
    assert len(oracle) == len(mixture) == 2
    np.testing.assert_allclose(oracle["score"], oracle[OFFICIAL_COLUMNS[3:]].mean(axis=1), atol=1e-12)
    assert oracle["score"].min() > mixture["score"].max() + 0.3
    board = (scored / "cad1/task1/leaderboard.md").read_text()
    assert all(c in board for c in OFFICIAL_COLUMNS[3:])
    assert "| 1 | oracle |" in board and "| 2 | mixture |" in board
    pages = sorted((scored / "cad1/task1/report/items").glob("*.html"))  # item_media: a page per item
    assert len(pages) == 2 and all("true stems through NAL-R" in p.read_text() for p in pages)


# ---- bad input ---------------------------------------------------------------------------------
def _failures(exp: Path, system: str, stage: str) -> dict:
    return {r["key"]: r["error"] for r in read_records(exp / "cad1/task1" / system / "results", stage)
            if r["status"] == "failed"}


def _ok(exp: Path, system: str, stage: str) -> list:
    return [r["key"] for r in read_records(exp / "cad1/task1" / system / "results", stage) if r["status"] == "ok"]


def test_missing_reference_stem_fails_that_song_only(data, tmp_path):
    stem = data / "audio/musdb18hq/train" / VALID_SONGS[0] / "bass.wav"
    stem.unlink()
    exp = tmp_path / "exp"
    assert cli(data, exp, "--system", "mixture", "--stage", "enhance") == 0
    assert cli(data, exp, "--system", "mixture", "--stage", "evaluate") == 1
    assert _failures(exp, "mixture", "evaluate") == {f"{VALID_SONGS[0]}_L5001": f"{stem}: file not found"}
    assert _ok(exp, "mixture", "evaluate") == [f"{VALID_SONGS[1]}_L5001"]


def test_enhanced_stem_at_a_wrong_rate_is_named(data, tmp_path):
    exp = tmp_path / "exp"
    assert cli(data, exp, "--system", "mixture", "--stage", "enhance") == 0
    folder = exp / "cad1/task1/mixture/enhanced/valid/L5001" / VALID_SONGS[1]
    # both sides at the wrong rate: the official chained check `l != r != 24000` lets this through
    for side in ("left", "right"):
        path = folder / f"L5001_{VALID_SONGS[1]}_{side}_vocals.flac"
        x, _ = sf.read(path)
        sf.write(path, x[::2], 12000, subtype="PCM_16")
    assert cli(data, exp, "--system", "mixture", "--stage", "evaluate") == 1
    left = folder / f"L5001_{VALID_SONGS[1]}_left_vocals.flac"
    assert _failures(exp, "mixture", "evaluate") == {
        f"{VALID_SONGS[1]}_L5001": f"{left}: sample rate is 12000 Hz, expected 24000 Hz"}
    assert _ok(exp, "mixture", "evaluate") == [f"{VALID_SONGS[0]}_L5001"]


def test_missing_scale_file_is_named(data, tmp_path):
    exp = tmp_path / "exp"
    assert cli(data, exp, "--system", "mixture", "--stage", "enhance") == 0
    txt = exp / "cad1/task1/mixture/enhanced/valid/L5001" / VALID_SONGS[0] / f"L5001_{VALID_SONGS[0]}_left_drums.txt"
    txt.unlink()
    assert cli(data, exp, "--system", "mixture", "--stage", "evaluate") == 1
    assert list(_failures(exp, "mixture", "evaluate").values()) == [f"{txt}: scale file not found (the stem's peak, "
                                                                    "written beside it)"]


def test_mixture_at_a_wrong_rate_is_named(data, tmp_path):
    path = data / "audio/musdb18hq/train" / VALID_SONGS[0] / "mixture.wav"
    x, _ = sf.read(path)
    sf.write(path, x[::2], 22050, subtype="PCM_16")
    exp = tmp_path / "exp"
    assert cli(data, exp, "--system", "mixture", "--stage", "enhance") == 1
    assert set(_failures(exp, "mixture", "enhance").values()) == {f"{path}: sample rate is 22050 Hz, expected 44100 Hz"}
    assert _ok(exp, "mixture", "enhance") == [f"{VALID_SONGS[1]}_L5001"]


def test_malformed_music_metadata(data, tmp_path, capsys):
    path = data / "metadata/musdb18.valid.json"
    path.write_text(path.read_text()[:-5])
    assert cli(data, tmp_path / "exp", "--system", "mixture") == 2
    err = capsys.readouterr().err
    assert f"{path}: malformed JSON" in err and "Traceback" not in err


@pytest.mark.parametrize("change, message", [
    (lambda r: r[1].pop("Split"), "[1]: missing key(s) 'Split'"),
    (lambda r: r[0].update(Split="valid"), f"[{VALID_SONGS[0]}]: 'Split' must be 'train' or 'test'"),
    (lambda r: r.append(dict(r[0])), f"[{VALID_SONGS[0]}]: listed twice"),
])
def test_incomplete_music_metadata_names_the_entry(data, tmp_path, capsys, change, message):
    path = data / "metadata/musdb18.valid.json"
    records = json.loads(path.read_text())
    change(records)
    path.write_text(json.dumps(records))
    assert cli(data, tmp_path / "exp", "--system", "mixture") == 2
    assert f"{path} {message}" in capsys.readouterr().err


def test_incomplete_listener_names_the_entry(data, tmp_path, capsys):
    path = data / "metadata/listeners.valid.json"
    listeners = json.loads(path.read_text())
    del listeners["L5001"]["audiogram_levels_r"]
    path.write_text(json.dumps(listeners))
    assert cli(data, tmp_path / "exp", "--system", "mixture") == 2
    assert f"{path} [L5001]: missing key(s) 'audiogram_levels_r'" in capsys.readouterr().err


def test_unknown_listener(data, tmp_path, capsys):
    assert cli(data, tmp_path / "exp", "--system", "mixture", "pairs.listeners=[L9999]") == 2
    path = data / "metadata/listeners.valid.json"
    assert f"{path}: unknown listener 'L9999' (asked for by pairs.listeners)" in capsys.readouterr().err


def test_segment_outside_the_song_fails_that_song_only(data, tmp_path):
    path = data / "metadata/musdb18.segments.test.json"
    segments = json.loads(path.read_text())
    segments[TEST_SONGS[0]]["objective_evaluation"] = {"start": 0.5, "end": 1.5}
    path.write_text(json.dumps(segments))
    exp = tmp_path / "exp"
    assert cli(data, exp, "--system", "mixture", "--stage", "enhance", "split=test") == 1
    assert _failures(exp, "mixture", "enhance") == {
        f"{TEST_SONGS[0]}_L5001": f"{path} [{TEST_SONGS[0]}][objective_evaluation]: [0.5, 1.5] s is outside the song "
                                  "(1.000 s)"}
    assert _ok(exp, "mixture", "enhance") == [f"{TEST_SONGS[1]}_L5001"]


# ---- the submission (test split) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def submission(tiny, tmp_path_factory):
    exp = tmp_path_factory.mktemp("sub")
    assert cli(tiny, exp, "--system", "mixture", "--stage", "enhance", "split=test") == 0
    assert cli(tiny, exp, "--system", "mixture", "--stage", "package", "split=test") == 0
    return exp, exp / "cad1/task1/mixture/submission_T001.zip"


def test_test_split_is_cut_to_the_segments(submission, tiny):
    exp, _ = submission
    folder = exp / "cad1/task1/mixture/enhanced/evaluation/L5001" / TEST_SONGS[0]
    stem = sf.info(folder / f"L5001_{TEST_SONGS[0]}_left_vocals.flac")
    remix = sf.info(folder / f"L5001_{TEST_SONGS[0]}_remix.flac")
    assert (stem.samplerate, stem.channels, stem.frames) == (24000, 1, round(0.6 * 24000))
    assert (remix.samplerate, remix.channels, remix.frames) == (32000, 2, round(0.3 * 32000))
    # the remix is the segment [0.3 s, 0.6 s] of the NAL-R'd whole song, cut at 44.1 kHz (test.py)
    task = task_for(tiny, exp, "split=test")
    ds = task.dataset("test")
    mixture = ds.load_track(ds.songs[TEST_SONGS[0]].mixture)
    processed = task.process({s: mixture / 4 for s in ("drums", "bass", "other", "vocals")}, task.listeners("test")["L5001"])
    assert all(v.shape == (mixture.shape[0] + 220,) for v in processed.values())
    remix = np.stack([sum(v for k, v in processed.items() if k.startswith(side)) for side in ("left", "right")], axis=1)
    expected = np.tanh(resample(remix[int(0.3 * RATE):int(0.6 * RATE)], RATE, 32000))
    got, _ = sf.read(folder / f"L5001_{TEST_SONGS[0]}_remix.flac")
    np.testing.assert_allclose(got, expected, atol=1 / 32768 + 1e-9)


def test_package_is_valid(submission, tiny, capsys):
    exp, archive = submission
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert len(names) == 2 * 17 and all(n.startswith("evaluation/L5001/") for n in names)
    assert f"evaluation/L5001/{TEST_SONGS[0]}/L5001_{TEST_SONGS[0]}_left_bass.txt" in names
    assert cli(tiny, exp, "--stage", "validate", "--submission", str(archive), "split=test") == 0
    assert "valid for cad1/task1 (test split)" in capsys.readouterr().out


def _broken(archive: Path, tmp_path: Path, edit) -> Path:
    folder = tmp_path / "broken"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    edit(folder / "evaluation/L5001" / TEST_SONGS[1], f"L5001_{TEST_SONGS[1]}")
    return folder


def _rewrite(path: Path, rate: int | None = None, keep: float = 1.0) -> None:
    x, r = sf.read(path)
    sf.write(path, x[: int(len(x) * keep)], rate or r, subtype="PCM_16")


@pytest.mark.parametrize("edit, problem", [
    (lambda d, p: (d / f"{p}_right_other.flac").unlink(), "{p}_right_other.flac: missing"),
    (lambda d, p: (d / f"{p}_right_other.flac").rename(d / f"{p}_right_others.flac"), "{p}_right_others.flac: not part"),
    (lambda d, p: _rewrite(d / f"{p}_left_drums.flac", rate=22050), "{p}_left_drums.flac: sample rate 22050 Hz, expected 24000"),
    (lambda d, p: _rewrite(d / f"{p}_remix.flac", keep=0.5), "{p}_remix.flac: 0.150 s long, expected 0.300 s"),
    (lambda d, p: (d / f"{p}_left_bass.txt").unlink(), "{p}_left_bass.txt: missing"),
    (lambda d, p: (d / f"{p}_left_bass.txt").write_text("nan"), "{p}_left_bass.txt: scale nan is not a positive"),
])
def test_a_broken_submission_fails_validation(submission, tiny, tmp_path, edit, problem):
    exp, archive = submission
    folder = _broken(archive, tmp_path, edit)
    task = task_for(tiny, exp, "split=test")
    problems = task.validate_submission(folder)
    wanted = f"evaluation/L5001/{TEST_SONGS[1]}/" + problem.format(p=f"L5001_{TEST_SONGS[1]}")
    assert any(p.startswith(wanted) for p in problems), problems
    assert len(problems) <= 2  # a renamed file is missing under its own name and unexpected under the other


def test_test_split_scores_the_objective_segment(submission, tiny):
    """Upstream never scores the test split; here it is scored on the objective segment against the
    raw stems cut the same way."""
    exp, _ = submission
    task = task_for(tiny, exp, "split=test")
    item = task.work_items()[0]
    scores = task.evaluate(item, exp / "cad1/task1/mixture/enhanced", {})
    assert list(scores) == OFFICIAL_COLUMNS and 0.0 < scores["score"] < 1.0
