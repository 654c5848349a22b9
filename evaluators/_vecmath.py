"""ln and exp over float64 arrays in numba loops that LLVM vectorises.

llvmlite here has no SVML, so ``np.log``/``np.exp`` inside numba are scalar libm calls
(~10x slower than numpy's SIMD loops). These follow fdlibm's argument reductions with
integer bit operations on int64 views and stay below 1 ulp (numpy's are too; the two agree
to the last bit on ~98 % of inputs and differ by at most 1 ulp), so kernels can take
logs and exps of a block of samples without a separate numpy pass over memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_LN2_HI = 6.93147180369123816490e-01  # trailing zero bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
# fdlibm e_log.c: ln(1 + f) = f - hfsq + s (hfsq + R(s^2)), s = f / (2 + f)
_LG1, _LG2, _LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_LG4, _LG5 = 2.222219843214978396e-01, 1.818357216161805012e-01
_LG6, _LG7 = 1.531383769920937332e-01, 1.479819860511658591e-01
_LOG_OFF = 0x3FE6955500000000  # musl's offset: puts the reduced mantissa in [0.7, 1.4)
_EXP_SHIFT = 6755399441055744.0  # 1.5 * 2^52: t = y + shift holds round(y) in its low bits
_EXP_SHIFT_BITS = 0x4338000000000000
_INV_LN2 = 1.4426950408889634


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def log_into(x, out, scratch):
    """out = ln(x) for positive, normal x (no checks). `scratch` is a float64 buffer of
    x's length; none of the three may overlap (LLVM's run-time overlap check would pick
    its scalar loop)."""
    xi = x.view(np.int64)
    zi = scratch.view(np.int64)
    mask = np.int64(0xFFF) << 52
    for i in range(x.shape[0]):  # x = 2^k z with z in [0.7, 1.4)
        tmp = xi[i] - _LOG_OFF
        zi[i] = xi[i] - (tmp & mask)
        out[i] = np.float64(tmp >> 52)
    for i in range(x.shape[0]):
        k = out[i]
        f = scratch[i] - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = w * (_LG2 + w * (_LG4 + w * _LG6)) + z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
        hfsq = 0.5 * f * f
        out[i] = k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


@njit(cache=True, fastmath={"contract"})
def exp_into(x, out, scratch):
    """out = exp(x) for |x| < 700 (no checks). `scratch` is a float64 buffer of x's
    length; none of the three may overlap (as log_into). exp(x) = 2^k exp(r), |r| <= ln(2) / 2, exp(r) by its Taylor
    polynomial to r^13 (truncation < 2e-17), 2^k added to the exponent bits."""
    for i in range(x.shape[0]):
        t = x[i] * _INV_LN2 + _EXP_SHIFT
        k = t - _EXP_SHIFT
        r = (x[i] - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        out[i] = p * r + 1.0
        scratch[i] = t
    oi = out.view(np.int64)
    ti = scratch.view(np.int64)
    for i in range(x.shape[0]):
        oi[i] += (ti[i] - _EXP_SHIFT_BITS) << 52
