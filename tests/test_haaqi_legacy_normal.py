"""The fast HAAQI's legacy normal draws follow ``RandomState.standard_normal``."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import _legacy_normal as legacy_normal


def _states_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_state(), b.get_state()))


@pytest.mark.parametrize("total", [1, 2, 7, 240_001, 70_000])
@pytest.mark.parametrize("before", [0, 1, 3])  # a cached value / a mid-block position
def test_draws_and_final_state_match_numpy(total, before):
    expected_state, state, skipped = (np.random.RandomState(5) for _ in range(3))
    for rng in (expected_state, state, skipped):
        rng.standard_normal(before)
    expected = expected_state.standard_normal(total)
    ours = legacy_normal.standard_normal(state, total)
    legacy_normal.skip(skipped, total)
    # numpy's SIMD log and libm's may round differently: a couple of ulps, rarely
    ulps = np.abs(ours - expected) / np.spacing(np.abs(expected))
    assert ulps.max() <= 4 and np.mean(ours == expected) > 0.99
    assert _states_equal(state, expected_state)
    assert _states_equal(skipped, expected_state)
