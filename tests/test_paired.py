import numpy as np
import pytest
from scipy import stats

from evaluators.paired import bootstrap_mean_ci, paired, wilcoxon_p

# Darwin's Zea mays data as scipy's wilcoxon documentation uses it: cross- minus self-fertilised
# heights (eighths of an inch); scipy's documented result is statistic 24, p = 0.041259765625
ZEA = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], float)


def test_wilcoxon_matches_scipy_on_known_data():
    assert wilcoxon_p(ZEA) == pytest.approx(0.041259765625, abs=1e-12)
    rng = np.random.default_rng(3)
    for n in (5, 12, 40, 120):  # exact and normal-approximation regimes
        d = rng.normal(0.1, 1.0, n)
        assert wilcoxon_p(d) == stats.wilcoxon(d).pvalue


def test_all_zero_differences_have_no_evidence():
    r = paired([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert (r.mean, r.lo, r.hi, r.p, r.n) == (0.0, 0.0, 0.0, 1.0, 3)


def test_mean_is_the_mean_paired_difference_and_sign_is_system_minus_baseline():
    base = np.array([0.1, 0.4, 0.2, 0.8, 0.5, 0.3])
    r = paired(base + ZEA[:6] / 100, base)
    assert r.mean == pytest.approx(ZEA[:6].mean() / 100)
    assert r.lo <= r.mean <= r.hi and r.n == 6
    assert paired(base, base + ZEA[:6] / 100).mean == pytest.approx(-r.mean)


def test_bootstrap_is_seeded_and_agrees_with_scipy_percentile_bootstrap():
    d = ZEA.copy()
    assert bootstrap_mean_ci(d, seed=7) == bootstrap_mean_ci(d, seed=7)
    assert bootstrap_mean_ci(d, seed=7) != bootstrap_mean_ci(d, seed=8)
    ours = bootstrap_mean_ci(d, n_boot=20000)
    ref = stats.bootstrap((d,), np.mean, n_resamples=20000, method="percentile", random_state=1).confidence_interval
    # two independent Monte-Carlo estimates of the same percentiles: within a tenth of the interval
    width = ref.high - ref.low
    assert ours[0] == pytest.approx(ref.low, abs=0.1 * width)
    assert ours[1] == pytest.approx(ref.high, abs=0.1 * width)


def test_pairing_keeps_items_together():
    # each item's baseline is far from the others but the system is always 0.01 above it:
    # a paired interval is tight around 0.01 where an unpaired one would span the spread
    base = np.linspace(0, 1, 30)
    r = paired(base + 0.01, base)
    assert r.lo == pytest.approx(0.01) and r.hi == pytest.approx(0.01)


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="differ in length: 2 vs 3"):
        paired([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="NaN/inf"):
        paired([1, np.nan], [1, 2])
    assert np.isnan(paired([], []).mean) and paired([], []).n == 0
