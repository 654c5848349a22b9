"""The clip2 recipe end to end on a tiny demo (6 train, 3 valid, 1 eval signals), its
submission CSV, and its bad-input errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.cli import main

FAST = ["whisper_encoder.compute_type=int8", "evaluate.n_boot=50", "team_id=T042"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from harness.demo.clip2 import make_clip2_demo

    return make_clip2_demo(tmp_path_factory.mktemp("clip2") / "data", seed=4, n_train=6, n_valid=3, n_eval=1)


def test_demo_layout_and_labels(demo):
    train = json.loads((demo / "metadata/train_metadata.json").read_text())
    evaluation = json.loads((demo / "metadata/eval_metadata.json").read_text())
    assert len(train) == 6 and len(evaluation) == 1 and "correctness" not in evaluation[0]
    assert all(0 <= r["correctness"] <= 1 and r["hearing_loss"] in ("No Loss", "Mild", "Moderate") for r in train)
    sid = train[0]["signal"]
    info = sf.info(demo / "train/signals" / f"{sid}.flac")
    assert (info.channels, info.samplerate, info.subtype) == (2, 44100, "PCM_16")
    assert (demo / "train/unprocessed" / f"{sid}_unproc.flac").is_file()


def test_end_to_end_both_baselines_and_the_submission(demo, tmp_path, capsys):
    exp = tmp_path / "exp"
    common = ["--data-root", str(demo), f"--exp-dir={exp}", *FAST]
    assert main(["clip2", "--system", "clip2_better_ear,clip2_mono,stoi", *common]) == 0
    board = capsys.readouterr().out
    for row in ("| clip2_better_ear |", "| clip2_mono |", "| stoi |", "constant (train mean)", "| baseline |",
                "Mild RMSE", "Spearman (95% CI)", "MAE (95% CI)", "MSE - constant's (95% CI), p"):
        assert row in board
    csv = exp / "clip2/clip2_mono/CLIP2_valid_T042.csv"
    lines = csv.read_text().splitlines()
    assert len(lines) == 3 and not lines[0].startswith("signal")  # no header
    table = pd.read_csv(csv, header=None, dtype={0: str})
    assert table.shape == (3, 2) and table[1].between(0, 100).all()
    assert sorted(p.name for p in (exp / "clip2/checkpoints/clip2").iterdir())[0].startswith("stage1-")
    assert len(list((exp / "clip2/checkpoints/clip2").glob("stage1-*"))) == 1  # shared by both systems
    n_features = len(list((exp / "clip2/features").glob("*.npy")))
    assert n_features == 3 * 9  # mono, left, right of 6 train + 3 valid signals, each once
    assert json.loads((exp / "clip2/clip2_mono/score_map.json").read_text()) == {"type": "identity"}
    assert json.loads((exp / "clip2/stoi/score_map.json").read_text())["type"] == "logistic"
    # the CSV is the submission: package and validate check it; a header is refused
    assert main(["clip2", "--system", "clip2_mono", "--stage", "package", *common]) == 0
    assert main(["clip2", "--stage", "validate", "--submission", str(csv), *common]) == 0
    with_header = tmp_path / "with_header.csv"
    with_header.write_text("signal_id,intelligibility_score\n" + csv.read_text())
    assert main(["clip2", "--stage", "validate", "--submission", str(with_header), *common]) == 1
    assert "looks like a header" in capsys.readouterr().out
    # a rerun encodes nothing and trains nothing
    assert main(["clip2", "--system", "clip2_better_ear", "--no-resume", *common]) == 0
    assert len(list((exp / "clip2/features").glob("*.npy"))) == n_features
    # the official valid and eval have no labels: predictions and the CSV, no metrics
    capsys.readouterr()
    assert main(["clip2", "--system", "clip2_mono", "split=eval", *common]) == 0
    assert "No labels on eval: predictions only for clip2_mono" in capsys.readouterr().out
    lines = (exp / "clip2/clip2_mono/CLIP2_eval_T042.csv").read_text().splitlines()
    assert len(lines) == 1 and 0 <= float(lines[0].split(",")[1]) <= 100


@pytest.fixture
def broken(demo, tmp_path):
    dest = tmp_path / "data"
    shutil.copytree(demo, dest)
    return dest


def _first_train(root):
    return json.loads((root / "metadata/train_metadata.json").read_text())[0]["signal"]


def _train(root, tmp_path, capsys) -> tuple[int, str]:
    code = main(["clip2", "--system", "clip2_mono", "--stage", "train", "--data-root", str(root),
                 f"--exp-dir={tmp_path / 'exp'}", *FAST])
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_signal_without_its_unprocessed_twin(broken, tmp_path, capsys):
    sid = _first_train(broken)
    (broken / "train/unprocessed" / f"{sid}_unproc.flac").unlink()
    code, err = _train(broken, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and f"{sid}_unproc.flac: missing: its unprocessed twin" in err[0]


def test_training_metadata_without_correctness(broken, tmp_path, capsys):
    path = broken / "metadata/train_metadata.json"
    records = json.loads(path.read_text())
    del records[2]["correctness"]
    path.write_text(json.dumps(records))
    code, err = _train(broken, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and "train_metadata.json" in err[0] and "no correctness label" in err[0]


def test_correctness_in_percent_is_refused(broken, tmp_path, capsys):
    path = broken / "metadata/train_metadata.json"
    records = json.loads(path.read_text())
    records[1]["correctness"] = 55.0
    path.write_text(json.dumps(records))
    code, err = _train(broken, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and "train_metadata.json [1]" in err[0] and "not a fraction" in err[0]


@pytest.mark.parametrize("problem", ["mono", "rate"])
def test_a_mono_or_wrongly_rated_file(broken, tmp_path, capsys, problem):
    sid = _first_train(broken)
    path = broken / "train/signals" / f"{sid}.flac"
    x, rate = sf.read(path)
    if problem == "mono":
        sf.write(path, x.mean(axis=1), rate, subtype="PCM_16")
    else:
        sf.write(path, np.ascontiguousarray(x[::2]), rate // 2, subtype="PCM_16")
    code, err = _train(broken, tmp_path, capsys)
    expected = "has 1 channels, expected 2" if problem == "mono" else "sample rate is 22050 Hz, expected 44100 Hz"
    assert code == 2 and len(err) == 1 and f"{sid}.flac: {expected}" in err[0]


def test_a_bad_encoder_model_path(demo, tmp_path, capsys):
    missing = tmp_path / "no-model"
    code = main(["clip2", "--system", "clip2_mono", "--stage", "train", "--data-root", str(demo),
                 f"--exp-dir={tmp_path / 'exp'}", f"whisper_encoder.model={missing}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(missing) in err[0] and "model directory not found" in err[0]
