"""Parity of evaluators.bsseval_torch with museval.metrics.bss_eval (and with the numpy backend).

Same tolerance as tests/test_bsseval.py (1e-6 dB, same NaN/inf pattern), on the CPU always and
on a GPU when torch sees one.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_bsseval import RATE, TOL, signals, silence

torch = pytest.importorskip("torch")
metrics = pytest.importorskip("museval.metrics")
from evaluators import bsseval, bsseval_torch  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def assert_same(theirs, ours):
    for name, a, b in zip(("sdr", "isr", "sir", "sar"), theirs, ours):
        assert a.shape == b.shape, name
        for pattern in (np.isnan, np.isposinf, np.isneginf):
            assert np.array_equal(pattern(a), pattern(b)), name
        fin = np.isfinite(a)
        assert np.max(np.abs(a[fin] - b[fin]), initial=0.0) <= TOL, (name, np.max(np.abs(a[fin] - b[fin])))


@pytest.mark.parametrize("device, solver", [(d, None) for d in DEVICES] + [("cpu", "lu")])
def test_torch_parity_with_museval(device, solver):
    """``("cpu", "lu")`` runs the GPU's solver on the CPU, so that path is checked without a GPU."""
    refs, ests = signals(3, 3.6, n_ch=2, quality="poor", seed=30)
    refs = silence(refs, 1, 1.0, 2.0)  # a silent reference frame: NaN
    theirs = metrics.bss_eval(refs, ests, window=RATE, hop=RATE, compute_permutation=False)[:4]
    assert_same(theirs, bsseval_torch.bss_eval(refs, ests, RATE, RATE, device=device, solver=solver))


@pytest.mark.parametrize("device", DEVICES)
def test_torch_matches_numpy_backend(device):
    refs, ests = signals(4, 5.5, n_ch=1, quality="near-perfect", seed=31)
    ests = silence(ests, 2, 4.0, 5.0)
    assert_same(bsseval.bss_eval(refs, ests, RATE, RATE // 2), bsseval_torch.bss_eval(refs, ests, RATE, RATE // 2,
                                                                                      device=device))
    uneven = bsseval_torch.bss_eval(refs, ests, RATE, 2999.5, device=device)  # frames of two lengths
    assert_same(bsseval.bss_eval(refs, ests, RATE, 2999.5), uneven)


def test_torch_edge_rules():
    refs, ests = signals(2, 1.0, seed=32)
    with pytest.raises(ValueError, match="reference source is all zeros"):
        bsseval_torch.bss_eval(silence(refs, 0, 0, 1.0), ests, RATE, RATE, device="cpu")
    with pytest.raises(ValueError, match="solver"):
        bsseval_torch.bss_eval(refs, ests, RATE, RATE, device="cpu", solver="qr")
    empty = np.zeros((0, 0, 0))
    assert all(x.size == 0 for x in bsseval_torch.bss_eval(empty, empty, RATE, RATE, device="cpu"))
