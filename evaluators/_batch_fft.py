"""Real FFTs of eight signals at once, vectorised across the signals, for the aligner.

The envelope aligner spends most of its time in real FFTs of a few thousand-sample
blocks (pocketfft: ~40 us a 20480-point row, four rows a call). Here eight rows go
through one transform side by side: the data is laid out time-major, (points, 8), so
every butterfly works on 8-wide vectors (one AVX-512 register, two AVX2 ones) whatever
the stage, and the butterflies are written as LLVM vector IR (numba's loop vectoriser
gives up on them: too many possibly aliasing streams). A length-S real transform is a
length-S/2 complex one on (even, odd) sample pairs, decimation in frequency in place,
radix 4 (and one radix-2 stage for odd powers of two), the first stage over the whole
array and the rest a top-level block at a time so that it stays in cache; outputs come
out in digit-reversed order, which the final real-spectrum step reads through a
permutation.

The aligner needs only sum over blocks of conj(R_b) O_b, so ``add_cross_spectra`` turns
the two packed transforms (reference blocks, output stretches) into their real spectra
and adds their products per lane, without writing either spectrum out.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from evaluators._simd import transpose8

ROWS = 8
_VEC = ir.VectorType(ir.DoubleType(), ROWS)


def _splat(builder, value):
    vector = builder.insert_element(ir.Constant(_VEC, ir.Undefined), value,
                                    ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(vector, ir.Constant(_VEC, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), ROWS), [0] * ROWS))


class _Complex:
    """A complex 8-vector (re, im) in IR, with the few operations the butterflies use."""

    def __init__(self, builder, re, im):
        self.b, self.re, self.im = builder, re, im

    def __add__(self, other):
        return _Complex(self.b, self.b.fadd(self.re, other.re), self.b.fadd(self.im, other.im))

    def __sub__(self, other):
        return _Complex(self.b, self.b.fsub(self.re, other.re), self.b.fsub(self.im, other.im))

    def times_minus_i(self):
        return _Complex(self.b, self.im, self.b.fneg(self.re))

    def times(self, wr, wi):
        """self * (wr + i wi), wr and wi splat vectors."""
        b = self.b
        return _Complex(b, b.fsub(b.fmul(self.re, wr), b.fmul(self.im, wi)),
                        b.fadd(b.fmul(self.re, wi), b.fmul(self.im, wr)))


def _pointer(context, builder, array_type, array):
    return context.make_array(array_type)(context, builder, array).data


def _load(builder, base, index):
    """Complex element `index` of a (points, 8) array viewed as (index, re/im, 8)."""
    intp = index.type
    at = builder.mul(index, ir.Constant(intp, 2 * ROWS))
    re = builder.load(builder.bitcast(builder.gep(base, [at]), _VEC.as_pointer()), align=8)
    at = builder.add(at, ir.Constant(intp, ROWS))
    im = builder.load(builder.bitcast(builder.gep(base, [at]), _VEC.as_pointer()), align=8)
    return _Complex(builder, re, im)


def _store(builder, base, index, value):
    intp = index.type
    at = builder.mul(index, ir.Constant(intp, 2 * ROWS))
    builder.store(value.re, builder.bitcast(builder.gep(base, [at]), _VEC.as_pointer()), align=8)
    at = builder.add(at, ir.Constant(intp, ROWS))
    builder.store(value.im, builder.bitcast(builder.gep(base, [at]), _VEC.as_pointer()), align=8)


def _check(x):
    return isinstance(x, types.Array) and x.dtype == types.float64 and x.layout == "C"


@intrinsic
def _radix4(typingctx, x, first, stride, w1r, w1i, w2r, w2i, w3r, w3i):
    """In place on elements first + u stride (u < 4): the DIF radix-4 butterfly, outputs
    u = 1..3 times the twiddles w_u."""
    if not _check(x):
        return None
    sig = types.void(x, types.intp, types.intp, *(types.float64,) * 6)

    def codegen(context, builder, signature, args):
        x_v, first_v, stride_v, *w = args
        base = _pointer(context, builder, signature.args[0], x_v)
        index = [first_v]
        for _ in range(3):
            index.append(builder.add(index[-1], stride_v))
        a, b, c, d = (_load(builder, base, i) for i in index)
        t0, t1, t2, t3 = a + c, a - c, b + d, (b - d).times_minus_i()
        w = [_splat(builder, v) for v in w]
        _store(builder, base, index[0], t0 + t2)
        _store(builder, base, index[1], (t1 + t3).times(w[0], w[1]))
        _store(builder, base, index[2], (t0 - t2).times(w[2], w[3]))
        _store(builder, base, index[3], (t1 - t3).times(w[4], w[5]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _radix2(typingctx, x, first, stride, w1r, w1i):
    """In place on elements first, first + stride: the DIF radix-2 butterfly."""
    if not _check(x):
        return None
    sig = types.void(x, types.intp, types.intp, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        x_v, first_v, stride_v, wr, wi = args
        base = _pointer(context, builder, signature.args[0], x_v)
        second = builder.add(first_v, stride_v)
        a, b = _load(builder, base, first_v), _load(builder, base, second)
        _store(builder, base, first_v, a + b)
        _store(builder, base, second, (a - b).times(_splat(builder, wr), _splat(builder, wi)))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _cross_pair(typingctx, reference, output, acc, k, position, mirror, wr, wi):
    """acc[k] += conj(R[k]) O[k] per lane, R and O the real spectra of the packed
    transforms `reference` and `output` (Z[k] at `position`, Z[M - k] at `mirror`):
    X[k] = E + W^k D, E = (Z[k] + conj Z[M-k]) / 2, D = -i (Z[k] - conj Z[M-k]) / 2,
    W^k = wr + i wi. acc is (M + 1, 16), laid out like the transforms' elements."""
    if not (_check(reference) and _check(output) and _check(acc)):
        return None
    sig = types.void(reference, output, acc, types.intp, types.intp, types.intp,
                     types.float64, types.float64)

    def codegen(context, builder, signature, args):
        ref_v, out_v, acc_v, k_v, pos_v, mir_v, wr, wi = args
        half = _splat(builder, ir.Constant(ir.DoubleType(), 0.5))
        wr, wi = _splat(builder, wr), _splat(builder, wi)

        def spectrum(array_type, array):
            base = _pointer(context, builder, array_type, array)
            z, zm = _load(builder, base, pos_v), _load(builder, base, mir_v)
            conj = _Complex(builder, zm.re, builder.fneg(zm.im))
            even, odd = z + conj, (z - conj).times_minus_i()
            total = even + odd.times(wr, wi)
            return _Complex(builder, builder.fmul(total.re, half), builder.fmul(total.im, half))

        r = spectrum(signature.args[0], ref_v)
        o = spectrum(signature.args[1], out_v)
        # conj(r) o = (rr or + ri oi) + i (rr oi - ri or)
        product = _Complex(builder,
                           builder.fadd(builder.fmul(r.re, o.re), builder.fmul(r.im, o.im)),
                           builder.fsub(builder.fmul(r.re, o.im), builder.fmul(r.im, o.re)))
        base = _pointer(context, builder, signature.args[2], acc_v)
        _store(builder, base, k_v, _load(builder, base, k_v) + product)
        return context.get_dummy_value()

    return sig, codegen


@functools.lru_cache(maxsize=None)
def plan(size):
    """Radices, sub-sizes, twiddle tables and output permutation for real transforms of
    `size` points (a power of two, at least 16): the complex transform of size / 2 points
    as radix-4 stages (and a radix-2 one first if needed)."""
    if size < 16 or size & (size - 1):
        raise ValueError(f"batch FFT size must be a power of two >= 16, got {size}")
    m = size // 2
    radices = ([2] if (m.bit_length() - 1) % 2 else []) + [4] * ((m.bit_length() - 1) // 2)
    sizes, offsets, tw_re, tw_im = [], [0], [], []
    n = m
    for p in radices:
        twiddle = np.exp(-2j * np.pi * np.outer(np.arange(n // p), np.arange(p)) / n)
        tw_re.append(twiddle.real.ravel())
        tw_im.append(twiddle.imag.ravel())
        sizes.append(n)
        offsets.append(offsets[-1] + twiddle.size)
        n //= p
    # element at position P = sum_l u_l (n_l / p_l) holds frequency k = sum_l u_l prod(p_<l)
    position = np.arange(m)
    frequency = np.zeros(m, np.int64)
    scale = 1
    for p, n in zip(radices, sizes):
        frequency += (position // (n // p)) % p * scale
        scale *= p
    permutation = np.empty(m, np.int64)
    permutation[frequency] = position
    w = np.exp(-2j * np.pi * np.arange(m + 1) / size)
    return (np.array(radices), np.array(sizes), np.array(offsets[:-1]), np.concatenate(tw_re),
            np.concatenate(tw_im), permutation, np.ascontiguousarray(w.real),
            np.ascontiguousarray(w.imag))


@njit(cache=True)
def _stage(x, start, span, p, n, tw_re, tw_im, t0):
    m = n // p
    for o in range(start, start + span, n):
        for j in range(m):
            t = t0 + p * j
            if p == 4:
                _radix4(x, o + j, m, tw_re[t + 1], tw_im[t + 1], tw_re[t + 2], tw_im[t + 2],
                        tw_re[t + 3], tw_im[t + 3])
            else:
                _radix2(x, o + j, m, tw_re[t + 1], tw_im[t + 1])


@njit(cache=True)
def packed_fft(x, radices, sizes, offsets, tw_re, tw_im):
    """In place: x (size, 8), the 8 rows' samples time-major, becomes the complex
    transform of their (even, odd) sample pairs, digit-reversed (``plan``)."""
    m = sizes[0]
    _stage(x, 0, m, radices[0], sizes[0], tw_re, tw_im, offsets[0])
    if radices.shape[0] > 1:
        block = sizes[1]
        for start in range(0, m, block):  # the rest a first-stage block at a time
            for level in range(1, radices.shape[0]):
                _stage(x, start, block, radices[level], sizes[level], tw_re, tw_im,
                       offsets[level])


@njit(cache=True)
def add_cross_spectra(reference, output, permutation, w_re, w_im, acc):
    """acc[k] += conj(R_b[k]) O_b[k] per lane b, k = 0..M, from the packed transforms
    of the reference blocks and output stretches; acc is (M + 1, 16), each row the 8
    lanes' real parts then their imaginary parts."""
    m = permutation.shape[0]
    for k in range(m // 2 + 1):  # k and m - k read the same two elements: once from memory
        position = permutation[k]
        mirror = permutation[(m - k) % m]
        _cross_pair(reference, output, acc, k, position, mirror, w_re[k], w_im[k])
        if m - k != k:
            _cross_pair(reference, output, acc, m - k, mirror, position, w_re[m - k],
                        w_im[m - k])


@njit(cache=True)
def fill(signal, start, step, count, limit, x):
    """x (size, 8) = the rows signal[start + b step:][:limit] for b < count, time-major,
    zero outside the signal, past `limit` and in lanes b >= count. Whole 8 x 8 tiles
    inside the signal go through ``transpose8``, the rest one value at a time."""
    npts = signal.shape[0]
    size = x.shape[0]
    flat = x.reshape(size * ROWS)
    for t0 in range(0, size, ROWS):
        lo, hi = start + t0, start + (ROWS - 1) * step + t0 + ROWS - 1
        if count == ROWS and t0 + ROWS <= limit and lo >= 0 and hi < npts:
            transpose8(signal, lo, step, flat, t0 * ROWS, ROWS)
            continue
        for t in range(t0, t0 + ROWS):
            for b in range(ROWS):
                at = start + b * step + t
                inside = b < count and t < limit and 0 <= at < npts
                x[t, b] = signal[at] if inside else 0.0


@njit(cache=True)
def lane_sums(acc, out):
    """out[k] = the sum over lanes of acc[k] (see ``add_cross_spectra``), as complex."""
    for k in range(out.shape[0]):
        re = 0.0
        im = 0.0
        for b in range(ROWS):
            re += acc[k, b]
            im += acc[k, ROWS + b]
        out[k] = complex(re, im)
