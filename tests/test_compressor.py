"""The compiled multiband compressor is bit-identical to pyclarity's."""

from __future__ import annotations

import numpy as np
import pytest
from clarity.enhancer.multiband_compressor import MultibandCompressor

from harness.compressor import FastMultibandCompressor

XOVER = [353.55, 707.11, 1414.21, 2828.43, 5656.85]


@pytest.mark.parametrize("knee", [0.0, 6.0])
@pytest.mark.parametrize("rate", [44100, 24000])
def test_bit_identical_to_pyclarity(knee, rate):
    rng = np.random.default_rng(int(knee) + rate)
    signal = 0.05 * rng.standard_normal((2, rate // 2))
    signal[:, 1000:1500] = 0.0  # exact zeros take upstream's eps path
    params = dict(attack=[11, 11, 14, 13, 11, 11], release=[80, 80, 80, 80, 100, 100], threshold=[-30] * 6,
                  ratio=list(rng.uniform(1, 3, 6)), makeup_gain=list(rng.uniform(0, 24, 6)), knee_width=knee)
    ours, theirs = FastMultibandCompressor(XOVER, rate), MultibandCompressor(XOVER, rate)
    ours.set_compressors(**params)
    theirs.set_compressors(**params)
    np.testing.assert_array_equal(ours(signal.copy()), theirs(signal.copy()))
