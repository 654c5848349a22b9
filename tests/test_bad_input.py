"""Bad input gets one clear line naming the file or item and the problem; finished work is kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from harness.audio import check_signal, read_audio
from harness.cli import main
from harness.errors import InputError
from harness.results import read_records

RESULTS = "cad2/task2/mixture/results"


def _first_mixture(data):
    music = json.loads((data / "metadata/music.valid.json").read_text())
    song = sorted(music)[0]
    return data / "audio" / music[song]["mixture"]["track"], music[song], song


def _failures(exp, stage):
    return {r["key"]: r["error"] for r in read_records(exp / RESULTS, stage) if r["status"] == "failed"}


def test_missing_stem_fails_that_item_only(run_cli, demo_copy, tmp_path):
    _, song, _ = _first_mixture(demo_copy)
    stem = demo_copy / "audio" / song["source_1"]["track"]
    stem.unlink()
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", data=demo_copy, exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "evaluate", data=demo_copy, exp=exp) == 1  # items failed
    failures = _failures(exp, "evaluate")
    assert len(failures) == 2  # the two scenes of that song
    assert all(f"{stem}: file not found" in e for e in failures.values())
    ok = [r for r in read_records(exp / RESULTS, "evaluate") if r["status"] == "ok"]
    assert len(ok) == 2


def test_wrong_sample_rate_names_the_file(run_cli, demo_copy, tmp_path):
    mixture, _, _ = _first_mixture(demo_copy)
    signal, _ = sf.read(mixture)
    sf.write(mixture, signal[::2], 22050, format="FLAC")
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", data=demo_copy, exp=exp) == 1
    errors = set(_failures(exp, "enhance").values())
    assert errors == {f"{mixture}: sample rate is 22050 Hz, expected 44100 Hz"}


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinite")])
def test_nan_and_inf_samples_are_named(tmp_path, value, word):
    path = tmp_path / "bad.wav"
    signal = np.zeros((4410, 2), np.float32) + 0.1
    signal[100, 1] = value
    sf.write(path, signal, 44100, subtype="FLOAT")
    with pytest.raises(InputError, match=f"{path}: signal contains {word} samples"):
        read_audio(path, 44100)
    with pytest.raises(InputError, match=f"stem: signal contains {word}"):
        check_signal(signal, "stem")


def test_silent_reference_is_reported(run_cli, demo_copy, tmp_path):
    _, song, _ = _first_mixture(demo_copy)
    for key, track in song.items():
        if key != "mixture":
            path = demo_copy / "audio" / track["track"]
            signal, rate = sf.read(path)
            sf.write(path, np.zeros_like(signal), rate, format="FLAC")
    exp = tmp_path / "exp"
    run_cli("--system", "mixture", "--stage", "enhance", data=demo_copy, exp=exp)
    assert run_cli("--system", "mixture", "--stage", "evaluate", data=demo_copy, exp=exp) == 1
    assert any("reference is silent" in e for e in _failures(exp, "evaluate").values())


def test_silent_mixture_is_reported(run_cli, demo_copy, tmp_path):
    mixture, _, _ = _first_mixture(demo_copy)
    signal, rate = sf.read(mixture)
    sf.write(mixture, np.zeros_like(signal), rate, format="FLAC")
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", data=demo_copy, exp=exp) == 1
    assert any(f"{mixture}: signal is silent" in e for e in _failures(exp, "enhance").values())


def test_malformed_metadata_names_the_file(run_cli, demo_copy, capsys):
    path = demo_copy / "metadata/gains.json"
    path.write_text(path.read_text()[:-10])
    assert run_cli("--system", "mixture", data=demo_copy) == 2
    err = capsys.readouterr().err
    assert f"{path}: malformed JSON" in err and "Traceback" not in err


def test_incomplete_metadata_names_the_entry(run_cli, demo_copy, capsys):
    path = demo_copy / "metadata/scenes.valid.json"
    scenes = json.loads(path.read_text())
    first = sorted(scenes)[0]
    del scenes[first]["gain"]
    path.write_text(json.dumps(scenes))
    assert run_cli("--system", "mixture", data=demo_copy) == 2
    assert f"[{first}]: missing key(s) 'gain'" in capsys.readouterr().err


def test_missing_metadata_file(run_cli, demo_copy, capsys):
    (demo_copy / "metadata/listeners.valid.json").unlink()
    assert run_cli("--system", "mixture", data=demo_copy) == 2
    assert "listeners.valid.json: listeners file not found" in capsys.readouterr().err


def test_unknown_listener_in_scene_listeners(run_cli, demo_copy, capsys):
    path = demo_copy / "metadata/scene_listeners.valid.json"
    pairs = json.loads(path.read_text())
    pairs[sorted(pairs)[0]] = ["L999"]
    path.write_text(json.dumps(pairs))
    assert run_cli("--system", "mixture", data=demo_copy) == 2
    assert "unknown listener 'L999'" in capsys.readouterr().err


def test_unknown_system_and_recipe(capsys):
    assert main(["cad2", "--system", "nope"]) == 2
    assert "unknown system 'nope'; known systems:" in capsys.readouterr().err
    assert main(["cad9", "--system", "oracle"]) == 2
    assert "unknown recipe 'cad9'" in capsys.readouterr().err
    assert main(["cad2", "--system", "oracle", "nokeyvalue"]) == 2
    assert "bad override 'nokeyvalue': write key=value" in capsys.readouterr().err
    assert main(["cad2", "--system", "oracle", "evaluate.hacky=1"]) == 2
    assert "has no setting 'evaluate.hacky'" in capsys.readouterr().err


def test_list_shows_recipes_and_systems(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "cad2/task2" in out and "oracle" in out and "mixture" in out


def test_an_input_error_crosses_process_boundaries():
    """A training worker's InputError reaches the parent with its message (not an unpickling error)."""
    import pickle

    from harness.errors import InputError

    error = pickle.loads(pickle.dumps(InputError("a.flac", "truncated")))
    assert isinstance(error, InputError) and (error.where, error.problem, str(error)) == ("a.flac", "truncated", "a.flac: truncated")
