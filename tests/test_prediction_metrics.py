"""Prediction metrics, bootstrap intervals and the logistic map (evaluators/prediction.py)."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from evaluators.prediction import (
    LogisticMap,
    bootstrap_ci,
    compute_scores,
    kendall_tau,
    logistic,
    ncc,
    rmse,
    spearman,
    std_err,
)

P = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
Y = np.array([12.0, 18.0, 35.0, 38.0, 45.0])


def test_rmse_and_std_err_by_hand():
    d = P - Y  # [-2, 2, -5, 2, 5]
    assert rmse(P, Y) == pytest.approx(math.sqrt((4 + 4 + 25 + 4 + 25) / 5))
    mean = d.mean()
    pop_std = math.sqrt(sum((v - mean) ** 2 for v in d) / 5)  # ddof=0, as official
    assert std_err(P, Y) == pytest.approx(pop_std / math.sqrt(5))


def test_correlations_match_scipy():
    assert ncc(P, Y) == pytest.approx(stats.pearsonr(P, Y)[0])
    assert kendall_tau(P, Y) == pytest.approx(stats.kendalltau(P, Y)[0])
    assert spearman(P, Y) == pytest.approx(1.0)  # same ranking
    assert kendall_tau(P, Y) == pytest.approx(1.0)
    assert ncc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_compute_scores_keys_and_official_formula():
    s = compute_scores(P, Y)
    assert list(s) == ["RMSE", "Std", "NCC", "KT", "SCC"]
    # the official recipe's formula, re-typed
    assert s["RMSE"] == pytest.approx(np.sqrt(np.mean((P - Y) ** 2)))
    assert s["Std"] == pytest.approx(np.std(P - Y) / np.sqrt(len(P)))
    json.dumps(s)  # plain floats
    with pytest.raises(ValueError, match="unknown metric"):
        compute_scores(P, Y, metrics=["MAE?"])


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        rmse([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        compute_scores([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="at least"):
        compute_scores([1, 2], [1, 2])
    with pytest.raises(ValueError, match="at least"):
        LogisticMap().fit([0.1, 0.2], [10, 20])


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 100, 60)
    p = y + rng.normal(0, 15, 60)
    a = bootstrap_ci(p, y, n_boot=300, seed=7)
    b = bootstrap_ci(p, y, n_boot=300, seed=7)
    c = bootstrap_ci(p, y, n_boot=300, seed=8)
    assert a == b
    assert a != c
    point = compute_scores(p, y)
    for m, (lo, hi) in a.items():
        assert lo <= point[m] <= hi, m
    with pytest.raises(ValueError):
        bootstrap_ci(p, y, n_boot=0)


def test_logistic_fit_recovers_parameters():
    x = np.linspace(0, 1, 50)
    y = logistic(x, 0.4, 8.0)
    m = LogisticMap().fit(x, y)
    assert m.x0 == pytest.approx(0.4, abs=1e-4)
    assert m.k == pytest.approx(8.0, rel=1e-3)
    # noisy labels still land close
    rng = np.random.default_rng(0)
    m2 = LogisticMap().fit(x, y + rng.normal(0, 3, x.size))
    assert m2.x0 == pytest.approx(0.4, abs=0.03)
    assert m2.k == pytest.approx(8.0, rel=0.25)


def test_logistic_map_round_trip_and_errors():
    with pytest.raises(RuntimeError, match="before fit"):
        LogisticMap().predict([0.5])
    m = LogisticMap().fit([0.0, 0.25, 0.5, 0.75, 1.0], [5, 20, 50, 80, 95])
    d = json.loads(json.dumps(m.to_dict()))
    m2 = LogisticMap.from_dict(d)
    np.testing.assert_allclose(m2.predict([0.1, 0.6]), m.predict([0.1, 0.6]))
    assert m.predict(0.5) == pytest.approx(50, abs=1)
    with pytest.raises(ValueError):
        LogisticMap.from_dict({"type": "isotonic"})
    with pytest.raises(ValueError, match="NaN"):
        m.predict([np.nan])
