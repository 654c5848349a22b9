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
_INV_2_53 = 1.0 / 9007199254740992.0  # a power of two: same as dividing


@njit(cache=True)
def _twist(mt):
    """mt19937_gen, in three loops without wrap-around indexing so they vectorise."""
    for i in range(_N - _M):
        y = (mt[i] & _UPPER) | (mt[i + 1] & _LOWER)
        mt[i] = mt[i + _M] ^ (y >> _S1) ^ ((y & _S1) * _MATRIX_A)
    for i in range(_N - _M, _N - 1):
        y = (mt[i] & _UPPER) | (mt[i + 1] & _LOWER)
        mt[i] = mt[i + _M - _N] ^ (y >> _S1) ^ ((y & _S1) * _MATRIX_A)
    y = (mt[_N - 1] & _UPPER) | (mt[0] & _LOWER)
    mt[_N - 1] = mt[_M - 1] ^ (y >> _S1) ^ ((y & _S1) * _MATRIX_A)


@njit(cache=True)
def _uniform_pairs(mt, pos, npairs, x1, x2, r2, store=True):
    """Accepted (x1, x2, r2) of the polar method, as legacy_gauss draws them.

    Works a twist block at a time: temper the block's words, then test 4-word candidates
    with branch-free compaction. x1, x2, r2 need npairs + 1 entries. With store=False only
    the last pair is written (at npairs - 1), and whole blocks are just counted. Returns
    the new pos.
    """
    words = np.empty(_N + 4, np.int64)
    cand = np.empty((3, (_N + 4) // 4))
    nw = 0
    count = 0
    while count < npairs:
        if pos >= _N:
            _twist(mt)
            pos = 0
        for i in range(pos, _N):
            y = mt[i]
            y ^= y >> _S11
            y ^= (y << _S7) & _T1
            y ^= (y << _S15) & _T2
            y ^= y >> _S18
            words[nw + i - pos] = np.int64(y)
        nw += _N - pos
        pos = _N
        ncand = nw // 4
        # legacy_double pairs: (a >> 5) * 2^26 + (b >> 6), scaled by 2^-53 (exact)
        for c in range(ncand):
            w = 4 * c
            a = 2.0 * (((words[w] >> 5) * 67108864.0 + (words[w + 1] >> 6))
                       * _INV_2_53) - 1.0
            b = 2.0 * (((words[w + 2] >> 5) * 67108864.0 + (words[w + 3] >> 6))
                       * _INV_2_53) - 1.0
            cand[0, c] = a
            cand[1, c] = b
            cand[2, c] = a * a + b * b
        scan_from = 0
        if not store:  # only the count: a branch-free sum unless this block finishes
            accepted = 0
            for c in range(ncand):
                s = cand[2, c]
                accepted += (s < 1.0) & (s != 0.0)
            if count + accepted < npairs:
                count += accepted
                scan_from = ncand
        for c in range(scan_from, ncand):
            s = cand[2, c]
            if store or count == npairs - 1:
                x1[count] = cand[0, c]
                x2[count] = cand[1, c]
                r2[count] = s
            count += (s < 1.0) & (s != 0.0)
            if count == npairs:
                # unconsumed words all come from the current block
                return _N - (nw - 4 * c - 4)
        rest = nw - 4 * ncand
        for i in range(rest):
            words[i] = words[4 * ncand + i]
        nw = rest
    return pos


_CHUNK = 1 << 15  # pairs per pass: buffers stay in cache


def standard_normal(state: np.random.RandomState, shape, out=None) -> np.ndarray:
    """Same as ``state.standard_normal(shape)``, advancing `state` the same way (into
    `out`, a contiguous array of that shape, if given)."""
    total = int(np.prod(shape))
    out = np.empty(total) if out is None else out.reshape(total)
    _draw(state, total, out)
    return out.reshape(shape)


def skip(state: np.random.RandomState, count: int) -> None:
    """Advance `state` as ``state.standard_normal(count)`` would, without the values."""
    _draw(state, count, None)


def _draw(state, total, out):
    """`total` draws from `state` into `out` (None: only advance the state)."""
    _, key, pos, has_gauss, cached = state.get_state()
    start = 0
    if has_gauss and total:
        if out is not None:
            out[0] = cached
        start = 1
        has_gauss, cached = 0, 0.0
    npairs = (total - start + 1) // 2
    mt = key.astype(np.uint64)
    x1 = np.empty(_CHUNK + 1)
    x2 = np.empty(_CHUNK + 1)
    r2 = np.empty(_CHUNK + 1)
    f = np.empty(_CHUNK)
    for first in range(0, npairs, _CHUNK):
        count = min(_CHUNK, npairs - first)
        pos = _uniform_pairs(mt, pos, count, x1, x2, r2, out is not None)
        lo = start + 2 * first
        nsecond = min(count, total - lo - count)
        if out is None:  # only an odd total's cached second value is needed
            if nsecond < count:
                fc = np.sqrt(-2.0 * np.log(r2[count - 1:count]) / r2[count - 1:count])
                has_gauss, cached = 1, float(fc[0] * x1[count - 1])
            continue
        # f = sqrt(-2 log(r2) / r2), as legacy_gauss
        fc = f[:count]
        np.log(r2[:count], out=fc)
        np.multiply(-2.0, fc, out=fc)
        np.divide(fc, r2[:count], out=fc)
        np.sqrt(fc, out=fc)
        np.multiply(fc, x2[:count], out=out[lo:lo + 2 * count:2])
        np.multiply(fc[:nsecond], x1[:nsecond], out=out[lo + 1:lo + 2 * nsecond:2])
        if nsecond < count:
            has_gauss, cached = 1, float(fc[-1] * x1[count - 1])
    state.set_state(("MT19937", mt.astype(np.uint32), pos, has_gauss, cached))
