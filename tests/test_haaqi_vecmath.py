"""The fast HAAQI's vectorised ln/exp agree with numpy's to 1 ulp."""

from __future__ import annotations

import numpy as np

from evaluators._vecmath import exp_into, log_into


def _ulps(ours, reference):
    return np.max(np.abs(ours - reference) / np.spacing(np.abs(reference)))


def test_log_within_one_ulp_of_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.exp(rng.uniform(-140, 50, 200_000)), rng.uniform(0.6, 1.5, 50_000),
                        [1e-30, 1e-60, 0.5, 1.0, 2.0, np.nextafter(1, 0), np.nextafter(1, 2)]])
    out = np.empty_like(x)
    log_into(x, out, np.empty_like(x))
    nonzero = x != 1.0
    assert _ulps(out[nonzero], np.log(x[nonzero])) <= 1.0
    assert out[x == 1.0] == 0.0


def test_exp_within_one_ulp_of_numpy():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-60, 10, 200_000), rng.uniform(-1, 1, 50_000),
                        [0.0, -0.0, 1e-20, -1e-20, 0.5 * np.log(2), -0.5 * np.log(2), 300, -300]])
    out = np.empty_like(x)
    exp_into(x, out, np.empty_like(x))
    assert _ulps(out, np.exp(x)) <= 1.0
    assert out[x == 0.0].tolist() == [1.0, 1.0]
