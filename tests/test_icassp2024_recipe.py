"""The ICASSP 2024 recipe against pyclarity 0.9.0's ``recipes/cad_icassp_2024/baseline`` on the
same files: the enhance chain (gains, remix, loudness, NAL-R, 32 kHz FLAC), the per-item HAAQI of
the official evaluate loop (1e-9), the CSV, the separation cache across the scenes of a sample
(the upstream ``previous_song`` trap), segments, bad input and the submission."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from clarity.enhancer.nalr import NALR
from clarity.evaluator.haaqi import compute_haaqi as official_haaqi
from clarity.utils.audiogram import Listener as OfficialListener
from clarity.utils.file_io import read_signal
from clarity.utils.flac_encoder import read_flac_signal, save_flac_signal
from clarity.utils.signal_processing import compute_rms
from clarity.utils.signal_processing import resample as official_resample

from harness.cli import EXIT_ITEMS_FAILED, main
from harness.demo.cad_icassp_2024 import make_demo
from harness.results import read_records

official = pytest.importorskip("recipes.cad_icassp_2024.baseline.evaluate")  # enhance.py needs torchaudio
TASK = "cad_icassp_2024"
SIZES = dict(train_songs=1, valid_songs=1, seconds=4.0, positions_per_song=1, scenes_per_sample=2,
             listeners_per_scene=2, listeners_per_split=2)


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """Valid samples used whole (no segments file), as the official loop reads them: 2 scenes x 2 listeners."""
    return make_demo(tmp_path_factory.mktemp("icassp24") / "whole", segment_seconds=None, **SIZES)


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> Path:
    """The same sizes with a 2 s valid segment per sample."""
    return make_demo(tmp_path_factory.mktemp("icassp24") / "cut", segment_seconds=2.0, **SIZES)


def _run(data: Path, exp: Path, *args) -> int:
    return main([TASK, *args, f"--exp-dir={exp}", "--data-root", str(data)])


@pytest.fixture(scope="module")
def scored(whole, tmp_path_factory) -> Path:
    exp = tmp_path_factory.mktemp("icassp24_exp")
    assert _run(whole, exp, "--system", "oracle,mixture", "--stage", "enhance") == 0
    assert _run(whole, exp, "--system", "mixture", "--stage", "evaluate") == 0
    assert _run(whole, exp, "--system", "mixture", "--stage", "merge") == 0
    return exp


def _meta(root: Path, name: str) -> dict:
    return json.loads((root / "metadata" / name).read_text())


def _pairs(root: Path):
    for scene_id, listener_ids in _meta(root, "scene_listeners.valid.json").items():
        for lid in listener_ids:
            yield scene_id, lid


def _sample_dir(root: Path, scene: dict) -> Path:
    name = f"{scene['music']}-{scene['head_loudspeaker_positions']}"
    return root / "audio/at_mic_music" / _meta(root, "at_mic_music.valid.json")[name]["Path"]


def _task(data: Path, exp: Path):
    from harness.recipe import load_config, make_task, select

    recipe = select(TASK)[0]
    return make_task(recipe, load_config(recipe, [f"path.exp_root={exp}"], str(data)))


def test_rebalance_and_nalr_are_the_official_functions(whole, tmp_path):
    """On the same float64 stems: gains, remix and loudness (``apply_gains``, ``remix_stems``)
    then NAL-R per ear (``apply_ha``), bit-identical."""
    task = _task(whole, tmp_path)
    rng = np.random.default_rng(7)
    stems = {s: 0.05 * rng.standard_normal((44100, 2)) for s in ("vocals", "drums", "bass", "other")}
    mixture = 0.1 * rng.standard_normal((44100, 2))
    gains = {"vocals": 6.0, "drums": -3.0, "bass": 0.0, "other": -10.0}
    ours = task.rebalance(stems, mixture, gains)
    theirs = official.remix_stems(official.apply_gains(stems, 44100, gains), mixture, 44100)
    np.testing.assert_array_equal(ours, theirs)
    listener_id = sorted(task.listeners("valid"))[0]
    official_listener = OfficialListener.load_listener_dict(whole / "metadata/listeners.valid.json")[listener_id]
    aided = task.nalr()(ours, task.listeners("valid")[listener_id])
    for i, audiogram in enumerate((official_listener.audiogram_left, official_listener.audiogram_right)):
        np.testing.assert_array_equal(aided[:, i], official.apply_ha(NALR(220, 44100), None, theirs[:, i], audiogram, False))


def test_enhance_equals_the_official_chain(whole, scored, tmp_path):
    """The body of enhance.py for each pair, with the reference stems as the separation (the
    oracle): the same 16-bit samples within one step (the oracle returns float32 stems times
    its least-squares gain, the official code reads float64: one in a few hundred samples
    truncates to the neighbouring integer)."""
    scenes, gains = _meta(whole, "scenes.valid.json"), _meta(whole, "gains.json")
    listeners = OfficialListener.load_listener_dict(whole / "metadata/listeners.valid.json")
    enhancer = NALR(220, 44100)
    for scene_id, lid in _pairs(whole):
        scene = scenes[scene_id]
        stems, mixture = official.load_reference_stems(_sample_dir(whole, scene))
        stems = official.apply_gains(stems, 44100, gains[scene["gain"]])
        signal = official.remix_stems(stems, mixture, 44100)
        signal = np.stack([official.apply_ha(enhancer, None, signal[:, i], a, False)
                           for i, a in enumerate((listeners[lid].audiogram_left, listeners[lid].audiogram_right))], axis=1)
        theirs = tmp_path / f"{scene_id}_{lid}.flac"
        save_flac_signal(signal, theirs, 44100, 32000, do_clip_signal=True, do_soft_clip=False)
        ours = scored / TASK / "oracle/enhanced" / f"{scene_id}_{lid}_remix.flac"
        difference = sf.read(ours, dtype="int32")[0] - sf.read(theirs, dtype="int32")[0]
        assert np.max(np.abs(difference)) <= 65536 and np.mean(difference != 0) < 0.01


def test_item_haaqi_matches_the_official_evaluate(whole, scored):
    """The body of evaluate.py::run_calculate_aq on our enhanced files (seeded from the scene),
    for the last pair (pyclarity's HAAQI takes seconds per ear: one pair keeps the test short)."""
    ours = {(r["scene"], r["listener"]): r for r in
            __import__("pandas").read_csv(scored / TASK / "mixture/scores.csv").to_dict("records")}
    scenes, gains = _meta(whole, "scenes.valid.json"), _meta(whole, "gains.json")
    listeners = OfficialListener.load_listener_dict(whole / "metadata/listeners.valid.json")
    enhancer = NALR(220, 44100)
    assert len(ours) == 4
    for scene_id, lid in list(_pairs(whole))[-1:]:
        scene = scenes[scene_id]
        ref, mixture = official.load_reference_stems(_sample_dir(whole, scene))
        ref = official.remix_stems(official.apply_gains(ref, 44100, gains[scene["gain"]]), mixture, 44100)
        official.set_song_seed(scene_id)
        enhanced, _ = read_flac_signal(scored / TASK / "mixture/enhanced" / f"{scene_id}_{lid}_remix.flac")
        scores = []
        for i, audiogram in enumerate((listeners[lid].audiogram_left, listeners[lid].audiogram_right)):
            reference = official.apply_ha(enhancer, None, ref[:, i], audiogram, False)
            scores.append(official_haaqi(
                processed_signal=official_resample(enhanced[:, i], 32000, 24000),
                reference_signal=official_resample(reference, 44100, 24000),
                processed_sample_rate=24000, reference_sample_rate=24000, audiogram=audiogram,
                equalisation=2, level1=65 - 20 * np.log10(compute_rms(ref[:, i]))))
        row = ours[(scene_id, lid)]
        assert row["left_score"] == pytest.approx(scores[0], abs=1e-9)
        assert row["right_score"] == pytest.approx(scores[1], abs=1e-9)
        assert row["score"] == pytest.approx(np.mean(scores), abs=1e-9)
        assert row["song"] == f"{scene['music']}-{scene['head_loudspeaker_positions']}"


def test_csv_columns_are_upstreams(scored):
    header = (scored / TASK / "mixture/scores.csv").read_text().splitlines()[0]
    assert header.split(",") == ["scene", "song", "listener", "left_score", "right_score", "score"]


def test_one_separation_per_sample_and_fresh_gains_per_scene(whole, scored):
    """Two scenes of one sample with different gains: one cached separation, two different
    outputs, each equal to the official chain (checked above), and NAL-R applied once (the
    output is the input plus 220 samples at 44.1 kHz, no more)."""
    scenes = _meta(whole, "scenes.valid.json")
    assert len({(s["music"], s["head_loudspeaker_positions"]) for s in scenes.values()}) == 1
    assert len({json.dumps(_meta(whole, "gains.json")[s["gain"]]) for s in scenes.values()}) == 2
    assert len(list((scored / TASK / "separations/oracle").glob("*.npz"))) == 1
    outputs = {scene_id: sf.read(scored / TASK / "oracle/enhanced" / f"{scene_id}_{lid}_remix.flac")[0]
               for scene_id, lid in _pairs(whole)}
    first, second = outputs.values()
    assert not np.allclose(first, second)
    mixture_seconds = sf.info(_sample_dir(whole, next(iter(scenes.values()))) / "mixture.wav").duration
    assert first.shape[0] == round((mixture_seconds + 220 / 44100) * 32000)


def test_segments_cut_the_samples_and_a_bad_one_fails_its_items(cut, tmp_path):
    exp = tmp_path / "exp"
    assert _run(cut, exp, "--system", "mixture", "--stage", "enhance") == 0
    for path in (exp / TASK / "mixture/enhanced").glob("*.flac"):
        assert sf.info(path).duration == pytest.approx(2.0 + 220 / 44100, abs=1 / 32000)
    data = tmp_path / "data"
    shutil.copytree(cut, data)
    segments_file = data / "metadata/at_mic_segments.valid.json"
    segments = json.loads(segments_file.read_text())
    (name,) = segments
    segments[name] = {"start": 3.5, "end": 5.5}  # past the 4 s sample
    segments_file.write_text(json.dumps(segments))
    exp2 = tmp_path / "exp2"
    assert _run(data, exp2, "--system", "mixture", "--stage", "enhance") == EXIT_ITEMS_FAILED
    errors = {r["error"] for r in read_records(exp2 / TASK / "mixture/results", "enhance") if r["status"] == "failed"}
    assert len(errors) == 1 and "mixture.wav: segment [3.500 s, +2.0 s] is outside the file (4.000 s)" in errors.pop()


def _broken_copy(src: Path, dest: Path, edit) -> Path:
    shutil.copytree(src, dest)
    edit(dest)
    return dest


def _edit_json(name: str, change):
    def edit(root: Path):
        path = root / "metadata" / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return edit


def _first(d: dict) -> str:
    return next(iter(d))


BAD_METADATA = {
    "unknown listener": ("scene_listeners.valid.json", lambda d: {**d, _first(d): ["L9999"]}, "unknown listener 'L9999'"),
    "unknown gain": ("scenes.valid.json", lambda d: {**d, _first(d): {**d[_first(d)], "gain": "gain_9999"}},
                     "unknown gain set 'gain_9999'"),
    "missing key": ("scenes.valid.json", lambda d: {**d, _first(d): {"music": "x"}}, "missing"),
    "unknown sample": ("scenes.valid.json", lambda d: {**d, _first(d): {**d[_first(d)], "music": "Nobody - Nothing"}},
                       "is not in at_mic_music.valid.json"),
    "gain missing a stem": ("gains.json", lambda d: {k: {s: v for s, v in g.items() if s != "bass"} for k, g in d.items()},
                            "no gain for ['bass']"),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_bad_metadata_is_one_line_naming_the_file(whole, tmp_path, capsys, case):
    name, change, words = BAD_METADATA[case]
    data = _broken_copy(whole, tmp_path / "data", _edit_json(name, change))
    assert _run(data, tmp_path / "exp", "--system", "mixture", "--stage", "enhance") != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert any(name in line and words in line for line in err), err
    assert not any("Traceback" in line for line in err)


def test_malformed_json_names_the_file(whole, tmp_path, capsys):
    data = _broken_copy(whole, tmp_path / "data", lambda r: (r / "metadata/gains.json").write_text("{not json"))
    assert _run(data, tmp_path / "exp", "--system", "mixture", "--stage", "enhance") != 0
    assert "gains.json" in capsys.readouterr().err


@pytest.mark.parametrize("problem", ["missing", "rate"])
def test_a_bad_stem_fails_the_items_of_its_sample(whole, tmp_path, problem):
    scenes = _meta(whole, "scenes.valid.json")
    data = tmp_path / "data"
    shutil.copytree(whole, data)
    stem = _sample_dir(data, next(iter(scenes.values()))) / "vocals.wav"
    if problem == "missing":
        stem.unlink()
        words = f"{stem}: file not found"
    else:
        signal, _ = sf.read(stem)
        sf.write(stem, signal[::2], 22050)
        words = f"{stem}: sample rate is 22050 Hz, expected 44100 Hz"
    exp = tmp_path / "exp"
    assert _run(data, exp, "--system", "mixture", "--stage", "enhance") == 0  # the mixture needs no stem
    assert _run(data, exp, "--system", "mixture", "--stage", "evaluate") == EXIT_ITEMS_FAILED
    failed = [r for r in read_records(exp / TASK / "mixture/results", "evaluate") if r["status"] == "failed"]
    assert len(failed) == 4 and all(words in r["error"] for r in failed)


def test_the_packaged_submission_validates_and_its_faults_are_found(cut, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert _run(cut, exp, "--system", "mixture", "--stage", "enhance") == 0
    assert _run(cut, exp, "--system", "mixture", "--stage", "package") == 0
    (archive,) = (exp / TASK / "mixture").glob("submission_*.zip")
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(f"{s}_{lid}_remix.flac" for s, lid in _pairs(cut))
    assert _run(cut, exp, "--stage", "validate", "--submission", str(archive)) == 0

    folder = tmp_path / "sub"
    shutil.copytree(exp / TASK / "mixture/enhanced", folder)
    first, second, third = (folder / n for n in names[:3])
    first.rename(folder / "scene_1_L1_remix.flac")  # mis-named (and so the right one is missing)
    audio, rate = sf.read(second)
    sf.write(second, audio, 24000, subtype="PCM_16", format="FLAC")  # wrong rate
    sf.write(third, audio[: rate // 2], rate, subtype="PCM_16", format="FLAC")  # wrong length
    capsys.readouterr()
    assert _run(cut, exp, "--stage", "validate", "--submission", str(folder)) == EXIT_ITEMS_FAILED
    out = capsys.readouterr().out
    assert f"{names[0]}: missing" in out and "scene_1_L1_remix.flac: not part of the submission" in out
    assert names[1] in out and "24000" in out
    assert names[2] in out
