"""Regression tests of the defects an adversarial run found (one test per case, named after it)."""

from __future__ import annotations

import json
import shutil

import pytest
from omegaconf import OmegaConf

from harness.cli import EXIT_ERROR, EXIT_ITEMS_FAILED
from harness.errors import InputError
from harness.metadata import load_json
from harness.recipe import RECIPES_DIR, config_hash, load_config, load_task_module, select
from harness.results import read_records

RESULTS = "cad2/task2/mixture/results"


def _edit_json(path, edit):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(edit(data)))


def _records(exp, stage):
    return read_records(exp / RESULTS, stage)


# 1 -------------------------------------------------------------------------------------------
def test_evaluate_refuses_outputs_rewritten_by_another_config(run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0  # config A
    assert run_cli("--system", "mixture", "enhancer.threshold=[-60,-60,-60,-60,-60,-60]", exp=exp) == 0  # config B rewrites enhanced/
    assert run_cli("--system", "mixture", "--stage", "evaluate", exp=exp) == EXIT_ITEMS_FAILED  # A again
    failed = [r for r in _records(exp, "evaluate") if r["status"] == "failed"]
    assert len(failed) == 4 and all("rewritten by a run with another config" in r["error"] for r in failed)
    capsys.readouterr()
    # enhance with A redoes exactly those outputs; A then scores cleanly
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    assert "enhance: 4 to do, 0 already done" in capsys.readouterr().out
    assert run_cli("--system", "mixture", "--stage", "evaluate", exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "merge", exp=exp) == 0


# 2 -------------------------------------------------------------------------------------------
def test_a_listener_listed_twice_for_a_scene_is_an_error(run_cli, demo_copy, capsys):
    path = demo_copy / "metadata/scene_listeners.valid.json"
    _edit_json(path, lambda d: {k: v * 2 if i == 0 else v for i, (k, v) in enumerate(d.items())})
    assert run_cli("--system", "mixture", data=demo_copy) == EXIT_ERROR
    assert "is listed 2 times" in capsys.readouterr().err


def test_a_duplicate_json_key_is_an_error(tmp_path):
    path = tmp_path / "scenes.valid.json"
    path.write_text('{"S1": {"music": "a"}, "S1": {"music": "b"}}')
    with pytest.raises(InputError, match="duplicate key 'S1'"):
        load_json(path, "scenes")


def test_a_duplicate_clip_signal_is_an_error(tmp_path):
    task_module = load_task_module(RECIPES_DIR / "cad_icassp_2026")
    (tmp_path / "valid_metadata.json").write_text(json.dumps(
        [{"signal": "s1", "prompt": "a", "correctness": 50}, {"signal": "s1", "prompt": "b", "correctness": 60}]))
    cfg = OmegaConf.create({"path": {"metadata_dir": str(tmp_path)}, "split": "valid"})
    with pytest.raises(InputError, match="signal 's1' is listed twice"):
        task_module.TASK(cfg, RECIPES_DIR / "cad_icassp_2026")._records("valid")


# 3 -------------------------------------------------------------------------------------------
def test_demo_sets_of_other_sizes_live_side_by_side(tmp_path):
    recipe = select("cad2", "task2")[0]
    a = load_config(recipe, [], cwd=tmp_path)
    b = load_config(recipe, ["demo.valid_songs=3"], cwd=tmp_path)
    assert a.path.root != b.path.root and a.path.demo_root == b.path.demo_root


def test_an_impossible_demo_size_is_an_error(run_cli, tmp_path, capsys):
    from harness.cli import main

    assert main(["cad2", "--task", "task2", "--system", "mixture", f"--exp-dir={tmp_path}", "demo.valid_songs=-3"]) == EXIT_ERROR
    assert "demo.valid_songs=-3 is not a possible demo size" in capsys.readouterr().err


# 5 -------------------------------------------------------------------------------------------
def test_exit_code_is_nonzero_when_every_item_failed(run_cli, tmp_path, capsys):
    assert run_cli("--system", "mixture", "--stage", "enhance", "input_sample_rate=22050") == EXIT_ITEMS_FAILED
    assert "4 item(s) failed" in capsys.readouterr().err


def test_a_shard_with_default_stages_does_not_merge_early(run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--shard", "1/2", exp=exp) == 0
    assert "merge with --stage merge once all 2 shards have finished" in capsys.readouterr().out
    assert run_cli("--system", "mixture", "--shard", "2/2", exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "merge", exp=exp) == 0


# 6 -------------------------------------------------------------------------------------------
def test_a_moved_experiment_folder_resumes(run_cli, tmp_path, capsys):
    first, moved = tmp_path / "first", tmp_path / "moved"
    assert run_cli("--system", "mixture", exp=first) == 0
    shutil.copytree(first, moved)
    shutil.rmtree(first)
    capsys.readouterr()
    assert run_cli("--system", "mixture", exp=moved) == 0
    out = capsys.readouterr().out
    assert "enhance: 0 to do, 4 already done" in out and "evaluate: 0 to do, 4 already done" in out


def test_the_config_hash_ignores_where_files_live(tmp_path):
    recipe = select("cad2", "task2")[0]
    a = load_config(recipe, ["path.exp_root=/a"], data_root="/data/one", cwd=tmp_path)
    b = load_config(recipe, ["path.exp_root=/b"], data_root="/data/two", cwd=tmp_path)
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(load_config(recipe, ["split=train"], data_root="/data/one", cwd=tmp_path))


# 7 -------------------------------------------------------------------------------------------
def test_a_zero_compression_ratio_is_refused_at_load(run_cli, demo_copy, capsys):
    path = demo_copy / "metadata/compressor_params.valid.json"
    _edit_json(path, lambda d: {k: {**v, "cr_l": [0.0] + v["cr_l"][1:]} for k, v in d.items()})
    assert run_cli("--system", "mixture", data=demo_copy) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(path) in err and "'cr_l' has 0" in err


def test_non_finite_output_is_never_written(tmp_path):
    import numpy as np

    from harness.audio import save_task_output

    path = tmp_path / "out.flac"
    with pytest.raises(InputError, match="NaN"):
        save_task_output(path, np.full((100, 2), np.nan), 44100, 32000)
    assert not path.exists()


# 8 -------------------------------------------------------------------------------------------
def test_the_oracle_ignores_an_unreadable_song_no_scene_uses(run_cli, demo_copy):
    path = demo_copy / "metadata/music.valid.json"

    def add_broken(music):
        name, song = sorted(music.items())[0]
        broken = json.loads(json.dumps(song))
        broken["mixture"]["track"] = "valid/nowhere/mixture.flac"
        return {**music, "unscored_song": broken}

    _edit_json(path, add_broken)
    assert run_cli("--system", "oracle", "--alone", data=demo_copy) == 0


# 9 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, content, words", [
    ("music.valid.json", '"a string"', "must hold an object, found str"),
    ("listeners.valid.json", "[1, 2]", "must hold an object, found list"),
])
def test_metadata_of_the_wrong_type_is_one_line(run_cli, demo_copy, capsys, name, content, words):
    (demo_copy / "metadata" / name).write_text(content)
    assert run_cli("--system", "mixture", data=demo_copy) == EXIT_ERROR
    err = capsys.readouterr().err
    assert words in err and name in err and "Traceback" not in err


def test_an_audiogram_level_that_is_not_a_number_is_one_line(run_cli, demo_copy, capsys):
    path = demo_copy / "metadata/listeners.valid.json"
    _edit_json(path, lambda d: {k: {**v, "audiogram_levels_l": ["a"] + v["audiogram_levels_l"][1:]} for k, v in d.items()})
    assert run_cli("--system", "mixture", data=demo_copy) == EXIT_ERROR
    assert "'audiogram_levels_l' must be 8 finite numbers" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_bad_cli_values_are_one_line(run_cli, capsys, args, words):
    assert run_cli("--system", "mixture", *args) == EXIT_ERROR
    assert words in capsys.readouterr().err


def test_an_exp_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    from harness.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["cad2", "--task", "task2", "--system", "mixture", f"--exp-dir={blocker}"]) == EXIT_ERROR
    assert "is a file, not a folder" in capsys.readouterr().err


# 10 ------------------------------------------------------------------------------------------
def test_a_truncated_flac_names_the_file(run_cli, demo_copy, tmp_path):
    music = json.loads((demo_copy / "metadata/music.valid.json").read_text())
    mixture = demo_copy / "audio" / music[sorted(music)[0]]["mixture"]["track"]
    mixture.write_bytes(mixture.read_bytes()[: mixture.stat().st_size // 3])
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", data=demo_copy, exp=exp) == EXIT_ITEMS_FAILED
    errors = {r["error"] for r in _records(exp, "enhance") if r["status"] == "failed"}
    assert errors and all(str(mixture) in e for e in errors)


@pytest.mark.parametrize("value, words", [("abc", "must be a finite number"), (None, "must be a finite number"),
                                          (200, "outside the plausible range")])
def test_a_bad_gain_names_gains_json_and_the_set(run_cli, demo_copy, capsys, value, words):
    path = demo_copy / "metadata/gains.json"
    _edit_json(path, lambda d: {k: {**v, "source_1": value} for k, v in d.items()})
    assert run_cli("--system", "mixture", data=demo_copy) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "gains.json [gain_" in err and words in err


# 11 ------------------------------------------------------------------------------------------
def test_the_evaluate_log_does_not_count_unenhanced_items_as_done(run_cli, tmp_path, capsys):
    assert run_cli("--system", "mixture", "--stage", "evaluate") == 0
    out = capsys.readouterr().out
    assert "4 item(s) have no enhanced output yet" in out and "evaluate: 0 to do, 0 already done" in out


def test_an_unreachable_dask_scheduler_is_one_line(run_cli, capsys, monkeypatch):
    pytest.importorskip("dask.distributed")
    from harness import runner

    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT_S", 2)
    assert run_cli("--system", "mixture", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1") == EXIT_ERROR
    assert "no Dask scheduler answered at tcp://127.0.0.1:1 within 2 s" in capsys.readouterr().err
