"""``RandomState.standard_normal`` draws, reproduced faster (the ear model needs 2 x 32 x N).

numpy's legacy normal is MT19937 doubles, the Marsaglia polar method, and the second value
of each pair cached in the state. Here numba runs the MT19937 stream on uint32 words and the
rejection loop in vectorised passes, and numpy's SIMD ``log`` finishes the pairs. The stream, pair order, cached value and final state are the same as numpy's; a
value can differ from numpy's in the last bit only where numpy's vectorised ``log`` and
libm's ``log`` round differently.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

_N = 624
_M = 397
_U = np.uint32
_UPPER, _LOWER, _MATRIX_A = _U(0x80000000), _U(0x7FFFFFFF), _U(0x9908B0DF)
_T1, _T2 = _U(0x9D2C5680), _U(0xEFC60000)
_INV_2_52 = 2.0 / 9007199254740992.0  # 2 * 2^-53: a power of two, same as dividing


@njit(cache=True)
def _twist(mt):
    """mt19937_gen on uint32 words (twice the SIMD lanes of uint64), in three loops
    without wrap-around indexing so they vectorise."""
    for i in range(_N - _M):
        y = (mt[i] & _UPPER) | (mt[i + 1] & _LOWER)
        mt[i] = mt[i + _M] ^ (y >> 1) ^ ((y & 1) * _MATRIX_A)
    for i in range(_N - _M, _N - 1):
        y = (mt[i] & _UPPER) | (mt[i + 1] & _LOWER)
        mt[i] = mt[i + _M - _N] ^ (y >> 1) ^ ((y & 1) * _MATRIX_A)
    y = (mt[_N - 1] & _UPPER) | (mt[0] & _LOWER)
    mt[_N - 1] = mt[_M - 1] ^ (y >> 1) ^ ((y & 1) * _MATRIX_A)


@njit(cache=True)
def _uniform_pairs(mt, pos, npairs, x1, x2, r2, store=True):
    """Accepted (x1, x2, r2) of the polar method, as legacy_gauss draws them.

    Works a twist block at a time, each step a vectorised pass: temper the block's words,
    make the uniforms (2 words each) and the candidates' r2 = x1^2 + x2^2 with the block's
    acceptance count; only then the scalar, branch-free compaction, with no end-of-request
    test unless the request ends in this block. x1, x2, r2 need npairs + 1 entries. With
    store=False only the last pair is written (at npairs - 1) and whole blocks are just
    counted. Returns the new pos.
    """
    words = np.empty(_N + 4, np.uint32)
    uniform = np.empty((_N + 4) // 2)
    r2_cand = np.empty((_N + 4) // 4)
    nw = 0
    count = 0
    while count < npairs:
        if pos >= _N:
            _twist(mt)
            pos = 0
        block = words[nw:nw + _N - pos]
        state = mt[pos:_N]
        for i in range(_N - pos):
            y = state[i]
            y ^= y >> 11
            y ^= (y << 7) & _T1
            y ^= (y << 15) & _T2
            y ^= y >> 18
            block[i] = y
        nw += _N - pos
        pos = _N
        ncand = nw // 4
        # legacy_double: (a >> 5) * 2^26 + (b >> 6), scaled by 2^-53 (exact); int32
        # operands convert to double faster than unsigned ones
        for j in range(2 * ncand):
            high = np.int32(words[2 * j] >> 5)
            low = np.int32(words[2 * j + 1] >> 6)
            uniform[j] = (high * 67108864.0 + low) * _INV_2_52 - 1.0
        accepted = 0
        for c in range(ncand):
            s = uniform[2 * c] * uniform[2 * c] + uniform[2 * c + 1] * uniform[2 * c + 1]
            r2_cand[c] = s
            accepted += (s < 1.0) & (s != 0.0)
        if count + accepted < npairs:  # the whole block is used
            if not store:
                count += accepted
            else:
                for c in range(ncand):
                    s = r2_cand[c]
                    x1[count] = uniform[2 * c]
                    x2[count] = uniform[2 * c + 1]
                    r2[count] = s
                    count += (s < 1.0) & (s != 0.0)
        else:
            for c in range(ncand):
                s = r2_cand[c]
                if store or count == npairs - 1:
                    x1[count] = uniform[2 * c]
                    x2[count] = uniform[2 * c + 1]
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


@njit(cache=True, error_model="numpy")
def _pairs_to_normals(x1, x2, r2, f, out, nsecond):
    """legacy_gauss's outputs from accepted pairs, f holding ln(r2) on entry: f = sqrt(-2
    ln(r2) / r2), out[2i] = f x2 and out[2i + 1] = f x1 (the latter for i < nsecond).
    error_model="numpy" lets the division and root vectorise (no zero-division check)."""
    n = r2.shape[0]
    for i in range(n):
        f[i] = np.sqrt(-2.0 * f[i] / r2[i])
    for i in range(nsecond):
        out[2 * i] = f[i] * x2[i]
        out[2 * i + 1] = f[i] * x1[i]
    if nsecond < n:
        out[2 * n - 2] = f[n - 1] * x2[n - 1]


_CHUNK = 1 << 15  # pairs per pass: buffers stay in cache
_SCRATCH = threading.local()


def _scratch():
    """This thread's pair buffers (x1, x2, r2 with _CHUNK + 1 entries, f with _CHUNK),
    shared by its streams (a draw uses them only while it runs) and kept between calls:
    fresh ones cost ~1 MB of page faults each time."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = (*(np.empty(_CHUNK + 1) for _ in range(3)),
                                      np.empty(_CHUNK))
    return buffers


class Stream:
    """A RandomState's normal stream held as numba's words between draws: the state
    goes through ``get_state``/``set_state`` (an array copy each way) once, not every
    draw."""

    def __init__(self, state: np.random.RandomState):
        _, key, self.pos, self.has_gauss, self.cached = state.get_state()
        self.mt = key.astype(np.uint32)

    def copy(self) -> Stream:
        other = Stream.__new__(Stream)
        other.__dict__.update(self.__dict__)
        other.mt = self.mt.copy()
        return other

    def store(self, state: np.random.RandomState) -> None:
        """Put this stream's position into `state`."""
        state.set_state(("MT19937", self.mt, self.pos, self.has_gauss, self.cached))

    def draw(self, total, out):
        """`total` draws into `out` (None: only advance)."""
        start = 0
        if self.has_gauss and total:
            if out is not None:
                out[0] = self.cached
            start = 1
            self.has_gauss, self.cached = 0, 0.0
        npairs = (total - start + 1) // 2
        x1, x2, r2, f = _scratch()
        for first in range(0, npairs, _CHUNK):
            count = min(_CHUNK, npairs - first)
            self.pos = _uniform_pairs(self.mt, self.pos, count, x1, x2, r2, out is not None)
            lo = start + 2 * first
            nsecond = min(count, total - lo - count)
            if out is None:  # only an odd total's cached second value is needed
                if nsecond < count:
                    fc = np.sqrt(-2.0 * np.log(r2[count - 1:count]) / r2[count - 1:count])
                    self.has_gauss, self.cached = 1, float(fc[0] * x1[count - 1])
                continue
            # numpy's SIMD log, not _vecmath's: it rounds like libm's far more often
            np.log(r2[:count], out=f[:count])
            _pairs_to_normals(x1[:count], x2[:count], r2[:count], f[:count],
                              out[lo:lo + 2 * count], nsecond)
            if nsecond < count:
                self.has_gauss, self.cached = 1, float(f[count - 1] * x1[count - 1])


def standard_normal(state: np.random.RandomState, shape, out=None) -> np.ndarray:
    """Same as ``state.standard_normal(shape)``, advancing `state` the same way (into
    `out`, a contiguous array of that shape, if given)."""
    total = int(np.prod(shape))
    out = np.empty(total) if out is None else out.reshape(total)
    stream = Stream(state)
    stream.draw(total, out)
    stream.store(state)
    return out.reshape(shape)


def skip(state: np.random.RandomState, count: int) -> None:
    """Advance `state` as ``state.standard_normal(count)`` would, without the values."""
    stream = Stream(state)
    stream.draw(count, None)
    stream.store(state)
