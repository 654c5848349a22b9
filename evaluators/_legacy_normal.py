"""``RandomState.standard_normal`` draws, reproduced several times faster.

numpy's legacy normal (MT19937 doubles, Marsaglia polar method, second value of each
pair cached in the state) costs ~25 ns a draw, and the ear model needs 2 x 32 x N draws.
Here numba runs the MT19937 stream and the rejection loop, and numpy's SIMD ``log``
finishes the pairs. The stream, pair order, cached value and final state are the same
as numpy's; a value can differ from numpy's in the last bit only where numpy's vectorised
``log`` and libm's ``log`` round differently.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_N = 624
_M = 397
# numba types mixed uint64/int64 arithmetic as float64: keep every operand uint64
_U = np.uint64
_UPPER, _LOWER, _MATRIX_A = _U(0x80000000), _U(0x7FFFFFFF), _U(0x9908B0DF)
_T1, _T2 = _U(0x9D2C5680), _U(0xEFC60000)
_S1, _S5, _S6, _S7, _S11, _S15, _S18 = _U(1), _U(5), _U(6), _U(7), _U(11), _U(15), _U(18)


@njit(cache=True)
def _twist(mt):
    for i in range(_N):
        y = (mt[i] & _UPPER) | (mt[(i + 1) % _N] & _LOWER)
        v = mt[(i + _M) % _N] ^ (y >> _S1)
        if y & _S1:
            v ^= _MATRIX_A
        mt[i] = v


@njit(cache=True)
def _uniform_pairs(mt, pos, npairs, x1, x2, r2):
    """Accepted (x1, x2, r2) of the polar method, as legacy_gauss draws them."""
    words = np.empty(4, np.uint64)
    for p in range(npairs):
        while True:
            for w in range(4):
                if pos >= _N:
                    _twist(mt)
                    pos = 0
                y = mt[pos]
                pos += 1
                y ^= y >> _S11
                y ^= (y << _S7) & _T1
                y ^= (y << _S15) & _T2
                y ^= y >> _S18
                words[w] = y
            a = 2.0 * (((words[0] >> _S5) * 67108864.0 + (words[1] >> _S6)) / 9007199254740992.0) - 1.0
            b = 2.0 * (((words[2] >> _S5) * 67108864.0 + (words[3] >> _S6)) / 9007199254740992.0) - 1.0
            s = a * a + b * b
            if s < 1.0 and s != 0.0:
                break
        x1[p] = a
        x2[p] = b
        r2[p] = s
    return pos


def standard_normal(state: np.random.RandomState, shape) -> np.ndarray:
    """Same as ``state.standard_normal(shape)``, advancing `state` the same way."""
    _, key, pos, has_gauss, cached = state.get_state()
    total = int(np.prod(shape))
    out = np.empty(total)
    start = 0
    if has_gauss and total:
        out[0] = cached
        start = 1
        has_gauss, cached = 0, 0.0
    npairs = (total - start + 1) // 2
    mt = key.astype(np.uint64)
    x1 = np.empty(npairs)
    x2 = np.empty(npairs)
    r2 = np.empty(npairs)
    pos = _uniform_pairs(mt, pos, npairs, x1, x2, r2)
    f = np.sqrt(-2.0 * np.log(r2) / r2)
    first = f * x2
    second = f * x1
    out[start::2] = first
    nsecond = total - start - npairs
    out[start + 1::2] = second[:nsecond]
    if nsecond < npairs:
        has_gauss, cached = 1, float(second[-1])
    state.set_state(("MT19937", mt.astype(np.uint32), pos, has_gauss, cached))
    return out.reshape(shape)
