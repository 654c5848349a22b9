"""CAD2 task 1 and the ICASSP 2026 prediction task end to end on tiny demos."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.cli import main


def test_alpha_downmix():
    from harness.recipe import load_task_module, select

    downmix = load_task_module(select("cad2", "task1")[0].directory).downmix
    v, a = np.full((4, 2), 0.5), np.full((4, 2), 0.25)
    np.testing.assert_allclose(downmix(v, a, 0.0), v + a)  # alpha 0: the original balance
    np.testing.assert_allclose(downmix(v, a, 1.0), 2 * v)  # alpha 1: vocals only, doubled
    np.testing.assert_allclose(downmix(v, a, 0.5), 1.25 * v + 0.75 * a)


@pytest.fixture(scope="module")
def task1_demo(tmp_path_factory):
    from harness.demo.cad2_task1 import make_cad2_task1_demo

    root = tmp_path_factory.mktemp("t1") / "data"
    make_cad2_task1_demo(root, seed=3, n_songs={"train": 1, "valid": 1}, listeners_per_scene=1)
    return root


def test_cad2_task1_oracle_and_mixture(task1_demo, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert main(["cad2", "--task", "task1", "--system", "oracle,mixture", "--data-root", str(task1_demo),
                 f"--exp-dir={exp}"]) == 0
    board = capsys.readouterr().out
    assert "| oracle |" in board and "| mixture |" in board
    scores = pd.read_csv(exp / "cad2/task1/oracle/scores.csv")
    assert list(scores.columns) == ["scene", "song", "listener", "lyrics", "hypothesis_left", "hypothesis_right",
                                    "haaqi_left", "haaqi_right", "haaqi_avg", "whisper_left", "whisper_right",
                                    "whisper_be", "alpha", "score",
                                    *(f"{stem}_{m}" for stem in ("vocals", "accompaniment")
                                      for m in ("sdr", "isr", "sir", "sar", "si_sdr", "nsdr"))]
    row = scores.iloc[0]
    assert row.vocals_sdr > 40 and row.accompaniment_si_sdr > 40 and row.vocals_nsdr > 30  # the true stems
    mixture = pd.read_csv(exp / "cad2/task1/mixture/scores.csv")
    assert mixture["vocals_sdr"].isna().all() and mixture["score"].notna().all()  # no stems, no SDR
    assert "vocals_sdr" in board and "accompaniment_nsdr" in board
    assert 0 <= row.haaqi_avg <= 1 and 0 <= row.whisper_be <= 1
    assert row.whisper_be == max(row.whisper_left, row.whisper_right)
    assert row.score == pytest.approx(row.alpha * row.whisper_be + (1 - row.alpha) * row.haaqi_avg)
    assert row.whisper_be > 0.5  # the oracle's vocals of a clear espeak line are mostly understood
    out = next((exp / "cad2/task1/oracle/enhanced").glob("*.flac"))
    assert out.name == f"{row.scene}_{row.listener}_A{row.alpha}_remix.flac"
    assert sf.info(out).samplerate == 44100 and sf.info(out).subtype == "PCM_16"


@pytest.fixture(scope="module")
def clip_demo(tmp_path_factory):
    from harness.demo.clip1 import make_clip_demo

    root = tmp_path_factory.mktemp("clip") / "data"
    make_clip_demo(root, seed=5, n_train=8, n_valid=5)
    return root


def test_clip_whisper_and_an_enhancer_chain(clip_demo, tmp_path, capsys):
    exp = tmp_path / "exp"
    # the chain alone brings its control (whisper) and whisper's comparison (the other CLIP1 baseline, stoi)
    assert main(["cad_icassp_2026", "--system", "transient_boost+whisper", "--data-root", str(clip_demo),
                 f"--exp-dir={exp}", "team_id=T042", "evaluate.n_boot=50"]) == 0
    board = capsys.readouterr().out
    assert "| stoi |" in board and "| whisper |" in board and "| baseline |" in board and "constant (train mean)" in board
    assert "transient_boost+whisper" in board and "error is" in board
    predictions = pd.read_csv(exp / "cad_icassp_2026/whisper/ICASSP2026_valid_T042.csv")
    assert list(predictions.columns) == ["signal_id", "intelligibility_score"]
    assert len(predictions) == 5 and predictions.intelligibility_score.between(0, 100).all()
    assert (exp / "cad_icassp_2026/whisper/logistic_map.json").exists()
    # the predictions CSV is the submission: package checks it, validate checks any CSV
    common = ["--data-root", str(clip_demo), f"--exp-dir={exp}", "team_id=T042"]
    assert main(["cad_icassp_2026", "--system", "whisper", "--stage", "package", *common]) == 0
    csv = exp / "cad_icassp_2026/whisper/ICASSP2026_valid_T042.csv"
    assert main(["cad_icassp_2026", "--stage", "validate", "--submission", str(csv), *common]) == 0
    predictions.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    assert main(["cad_icassp_2026", "--stage", "validate", "--submission", str(tmp_path / "short.csv"), *common]) == 1
    assert ": missing" in capsys.readouterr().out


def test_clip_stoi_baseline(clip_demo, tmp_path):
    exp = tmp_path / "exp"
    assert main(["cad_icassp_2026", "--system", "stoi", "--data-root", str(clip_demo), f"--exp-dir={exp}",
                 "evaluate.n_boot=50"]) == 0
    scores = pd.read_csv(exp / "cad_icassp_2026/stoi/scores.csv")
    assert scores.raw.between(0, 1).all() and scores.prediction.between(0, 100).all()


def test_prediction_task_rejects_a_separator(clip_demo, tmp_path, capsys):
    assert main(["cad_icassp_2026", "--system", "centre", "--data-root", str(clip_demo), f"--exp-dir={tmp_path}"]) == 2
    assert "none of ['centre'] runs on 'cad_icassp_2026' (cad_icassp_2026 takes predictor systems producing intelligibility)" in capsys.readouterr().err


def test_a_fit_stage_where_every_item_fails_is_one_line(clip_demo, tmp_path, capsys):
    code = main(["cad_icassp_2026", "--system", "stoi", "--alone", "--data-root", str(clip_demo),
                 f"--exp-dir={tmp_path / 'exp'}", "systems.stoi.separator=convtasnet_vocals",
                 f"systems.convtasnet_vocals.pretrained_dir={tmp_path / 'nothing'}"])
    err = capsys.readouterr().err
    assert code != 0 and "none of the 8 fit items succeeded" in err and "pretrained_dir" in err
    assert "Traceback" not in err
