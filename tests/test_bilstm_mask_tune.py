"""The Optuna study of bilstm_mask: seeded, stored in SQLite, resumes after a kill (a trial left
RUNNING is retried with its parameters, finished trials are kept), saves the best trial, and the
final model is trained with the best parameters. Tiny budget: two-step trials of tiny models."""

from __future__ import annotations

import json

import pytest

optuna = pytest.importorskip("optuna")

from baselines.bilstm_mask import BiLSTMMaskSeparator  # noqa: E402
from baselines.bilstm_mask_model import BiLSTMMaskConfig  # noqa: E402
from baselines.bilstm_mask_tune import run_study, suggest, validation_songs  # noqa: E402
from baselines.models.hf_checkpoint import read_config  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from tests.test_bilstm_mask import make_ctx, write_songs  # noqa: E402

SPACE = {"steps": 2, "batch_size": [2], "hidden_size": [4, 8], "num_layers": [1, 2], "lr": [1e-4, 1e-2],
         "max_seconds": 1.2}
OPTIONS = {"preset": "demo", "model": {"n_fft": 512, "hop": 128, "conv_channels": 2, "bottleneck": 8},
           "train": {"steps": 2, "batch_size": 2, "segment_seconds": 0.3}, "segment": 0.5, "overlap": 0.1}


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    return write_songs(tmp_path_factory.mktemp("tune_songs"), count=3, seconds=1.2)


def separator(trials: int, **space) -> BiLSTMMaskSeparator:
    return BiLSTMMaskSeparator({**OPTIONS, "tune": {**SPACE, **space, "trials": trials}})


def load(folder):
    return optuna.load_study(study_name="bilstm_mask", storage=f"sqlite:///{folder / 'study.db'}")


def test_study_resumes_after_a_kill(tmp_path, songs):
    ctx = make_ctx(tmp_path, songs)
    folder = tmp_path / "tune"
    first = run_study(separator(2), ctx, "demo", folder)
    assert len(first["trials"]) == 2 and (folder / "best.json").is_file()
    kept = {t.number: (t.value, t.params) for t in load(folder).trials}
    # a kill mid-trial leaves the trial RUNNING with its parameters drawn (what ask + suggest leave)
    study = load(folder)
    killed = study.ask()
    params = suggest(killed, {**separator(3).tune_options})
    best = run_study(separator(3), ctx, "demo", folder)
    trials = load(folder).trials
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3 and len(best["trials"]) == 3
    assert trials[killed.number].state == optuna.trial.TrialState.FAIL
    assert trials[-1].params == params  # the killed trial's parameters were retried
    for number, (value, p) in kept.items():
        assert (trials[number].value, trials[number].params) == (value, p)  # finished trials are not redone
    saved = json.loads((folder / "best.json").read_text())
    assert saved["value"] == max(t.value for t in trials if t.value is not None)
    assert set(saved["params"]) == {"lr", "batch_size", "hidden_size", "dropout", "num_layers", "weight_decay"}
    assert saved["validation_songs"] and not set(saved["validation_songs"]) & set(saved["train_songs"])
    # resuming a finished study runs nothing new
    assert run_study(separator(3), ctx, "demo", folder)["trials"] == best["trials"]


def test_seeded_sampler_repeats(tmp_path, songs):
    runs = [run_study(separator(1), make_ctx(tmp_path / str(i), songs), "demo", tmp_path / str(i) / "tune")
            for i in range(2)]
    assert runs[0]["params"] == runs[1]["params"] and runs[0]["value"] == runs[1]["value"]


def test_final_model_uses_the_best_trial(tmp_path, songs):
    ctx = make_ctx(tmp_path, songs)
    sep = separator(2)
    sep.train(ctx)
    folder = ctx.checkpoint_dir / "bilstm_mask" / "demo-tuned"
    best = json.loads((folder / "tune" / "best.json").read_text())
    stored = BiLSTMMaskConfig.from_dict(read_config(folder))
    assert (stored.hidden_size, stored.num_layers) == (best["params"]["hidden_size"], best["params"]["num_layers"])
    assert read_config(folder)["train"]["lr"] == best["params"]["lr"]
    sep.prepare(ctx)  # loads the tuned model without training again
    assert sep.model.cfg.hidden_size == best["params"]["hidden_size"]


def test_too_few_songs_for_a_validation_set(tmp_path):
    two = write_songs(tmp_path, count=2, seconds=0.3)
    with pytest.raises(HarnessError, match="at least 3 training songs"):
        validation_songs(two, 0.34)
