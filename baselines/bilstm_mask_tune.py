"""Optuna search for ``bilstm_mask`` over seed 002's space (Listing 4.6, Table 4.1): learning rate
log-uniform 1e-5..1e-1, batch {16, 32, 64}, hidden units 32..256, dropout 0.1..0.5, LSTM layers
1..3, weight decay log-uniform 1e-6..1e-3 (AdamW, decoupled, since Adam's L2 term is not what
a "weight decay" search usually means).

Differences from the thesis, which returned the validation *loss* and tuned on batches drawn
from its training set: the objective is the median vocal SDR (``evaluators.sdr.museval_sdr``,
BSSEval v4, 1 s frames, median over frames) over songs held out of the training split by a hash
of their names (``baselines.training_data.holdout_songs``, ``holdout_fraction``), each trial
trained for ``steps`` steps on the remaining songs. The evaluation split is never seen.

Reproducible and resumable: a TPE sampler seeded from the run's seed, the study in SQLite
(``<checkpoint>/tune/study.db``) so a killed study goes on where it stopped: completed trials are
kept, a trial the kill left RUNNING is marked failed and its parameters re-queued, and its
training resumes from its own checkpoint folder (``trials/<hash of the parameters>``). The run
stops when ``trials`` trials are complete; ``best.json`` holds the best trial's number, value
and every parameter, with all completed trials.

Options (``systems.bilstm_mask.tune``): ``trials`` (0: no tuning), ``steps`` per trial,
``holdout_fraction``, ``seed`` (null: the run's), ``max_seconds`` of each validation song, and
the space's bounds ``lr``, ``batch_size``, ``hidden_size``, ``dropout``, ``num_layers``,
``weight_decay`` (a demo may narrow them to fit its budget; the defaults are the thesis').
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from baselines.training import derived_seed
from baselines.training_data import holdout_songs, target_and_accompaniment
from evaluators.sdr import museval_sdr
from harness.errors import HarnessError
from harness.files import atomic_write

logger = logging.getLogger(__name__)

TUNE_DEFAULTS: dict[str, Any] = {
    "trials": 0,
    "steps": 40,
    "holdout_fraction": 0.34,
    "seed": None,
    "max_seconds": 10.0,
    "lr": [1e-5, 1e-1],
    "batch_size": [16, 32, 64],
    "hidden_size": [32, 256],
    "dropout": [0.1, 0.5],
    "num_layers": [1, 3],
    "weight_decay": [1e-6, 1e-3],
}
MODEL_PARAMS = ("hidden_size", "num_layers", "dropout")
TRAIN_PARAMS = ("lr", "batch_size", "weight_decay")


def suggest(trial, space: dict) -> dict:
    """Draw one point of the search space (``space`` as the options above)."""
    return {
        "lr": trial.suggest_float("lr", *map(float, space["lr"]), log=True),
        "batch_size": trial.suggest_categorical("batch_size", [int(b) for b in space["batch_size"]]),
        "hidden_size": trial.suggest_int("hidden_size", *map(int, space["hidden_size"])),
        "dropout": trial.suggest_float("dropout", *map(float, space["dropout"])),
        "num_layers": trial.suggest_int("num_layers", *map(int, space["num_layers"])),
        "weight_decay": trial.suggest_float("weight_decay", *map(float, space["weight_decay"]), log=True),
    }


def split_params(params: dict) -> tuple[dict, dict]:
    """(model overrides, training overrides) of a trial's parameters."""
    return ({k: params[k] for k in MODEL_PARAMS if k in params},
            {k: params[k] for k in TRAIN_PARAMS if k in params})


def params_key(params: dict) -> str:
    return hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


def validation_songs(dataset, fraction: float) -> tuple[list[str], list[str]]:
    """(training songs, held-out validation songs) of a split; HarnessError when too few."""
    names = [n for n, s in sorted(dataset.songs.items()) if any(t.instrument == "vocals" for t in s.sources.values())]
    held = sorted(holdout_songs(names, fraction))
    if not held:
        raise HarnessError(f"tuning bilstm_mask needs at least 3 training songs with vocals to hold some out "
                           f"(holdout_fraction {fraction}); the training split has {len(names)}")
    return [n for n in names if n not in held], held


def validation_sdr(separator, dataset, songs: list[str], max_seconds: float) -> float:
    """Median over `songs` of the vocal SDR (BSSEval v4, median over 1 s frames) of `separator`
    (prepared) on the mixture vocals + accompaniment of each song's first `max_seconds`."""
    rate = int(dataset.sample_rate)
    values = []
    for name in songs:
        vocals, accompaniment = target_and_accompaniment(dataset, dataset.songs[name], "vocals")
        n = min(len(vocals), int(max_seconds * rate))
        refs = {"vocals": vocals[:n], "accompaniment": accompaniment[:n]}
        mixture = refs["vocals"] + refs["accompaniment"]
        if not np.any(mixture):
            continue
        estimates = separator.separate(mixture, ["vocals", "accompaniment"])
        values.append(museval_sdr(estimates, refs, rate)["vocals"])
    finite = [v for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else float("nan")


def _requeue_stale(study) -> int:
    """Trials a killed run left RUNNING: marked failed, their parameters queued again."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(dict(trial.params), skip_if_exists=False)
    return len(stale)


def run_study(separator, ctx, preset: str, directory: Path) -> dict:
    """Run (or resume) the study of `separator` (a BiLSTMMaskSeparator) on ``ctx.dataset("train")``
    into `directory`; returns the best trial as written to ``best.json``."""
    try:
        import optuna
    except ImportError:
        raise HarnessError("tuning needs the package 'optuna' (pip install -e '.[deploy]')") from None
    options = separator.tune_options
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dataset = ctx.dataset("train")
    train_songs, held = validation_songs(dataset, float(options["holdout_fraction"]))
    seed = int(options["seed"] if options["seed"] is not None else separator.seed(ctx))
    sampler = optuna.samplers.TPESampler(seed=seed)
    storage = f"sqlite:///{directory / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="bilstm_mask", storage=storage, direction="maximize", sampler=sampler,
                                load_if_exists=True)
    requeued = _requeue_stale(study)
    if requeued:
        logger.info("tune: %d trial(s) left running by a killed run re-queued", requeued)

    def objective(trial) -> float:
        params = suggest(trial, options)
        model_over, train_over = split_params(params)
        cfg = separator.train_config(preset, {**train_over, "steps": int(options["steps"]),
                                              "checkpoint_every": max(1, int(options["steps"]) // 4)})
        model_cfg = separator.model_config(preset, model_over)
        trial_dir = directory / "trials" / params_key(params)
        trial.set_user_attr("folder", str(trial_dir))
        model = separator.train_one(dataset, train_songs, model_cfg, cfg, trial_dir,
                                    derived_seed(seed, "bilstm_mask", "tune", params_key(params)),
                                    f"tune trial {trial.number}", {"preset": preset, "trial": params})
        evaluator = separator.trial_evaluator(model)
        return validation_sdr(evaluator, dataset, held, float(options["max_seconds"]))

    def complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    for _ in range(3):  # failed trials (no finite SDR) are retried, a bounded number of times
        if complete() >= int(options["trials"]):
            break
        study.optimize(objective, n_trials=int(options["trials"]) - complete(), catch=())
    return write_best(study, directory, {"train_songs": train_songs, "validation_songs": held, "seed": seed,
                                         "steps_per_trial": int(options["steps"])})


def write_best(study, directory: Path, extra: dict) -> dict:
    """``best.json``: the best trial's number, value (median validation vocal SDR, dB) and
    parameters, every completed trial, and `extra`."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    scored = [t for t in done if t.value is not None and np.isfinite(t.value)]
    if not scored:
        raise HarnessError(f"tuning bilstm_mask: no trial of {directory} has a finite validation SDR")
    best = max(scored, key=lambda t: t.value)
    record = {"number": best.number, "value": best.value, "params": best.params, "objective": "median vocal SDR (dB)",
              "trials": [{"number": t.number, "value": t.value, "params": t.params} for t in done], **extra}
    text = json.dumps(record, indent=2, sort_keys=True)
    atomic_write(directory / "best.json", lambda tmp: Path(tmp).write_text(text))
    return record
