"""Numba kernels for the per-sample recursions of the Kates ear model and HAAQI.

The kernels follow pyclarity's arithmetic step by step, but not bit for bit: multiply-adds
may be fused, sums reassociated (vectorised), and the gammatone runs stretches of the
signal side by side; outputs agree with upstream to rounding, and HAAQI to ~1e-10.
Logs and exps are taken a block at a time with ``_vecmath`` (numba's own are scalar libm
calls, ~10x slower than numpy's SIMD loops).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evaluators._simd import transpose8
from evaluators._vecmath import exp_into, log_into


LANES = 16  # signal stretches filtered side by side: enough for LLVM to vectorise across
_BLOCK = 64  # gammatone steps whose outputs (32 KB) stay in L1 until put back in order


@njit(cache=True)
def settle_length(a):
    """Steps after which a 4-fold pole at `a` has forgotten its initial state: the first m
    with C(m + 3, 3) a^m < 1e-18. The states are up to ~1e8 times the output (the gain
    rescales them), so what is left is ~1e-10 of the output, under the recursion's own
    rounding noise there (~1e-8 in the lowest band)."""
    m = 0
    decay = 1.0
    while (m + 1) * (m + 2) * (m + 3) / 6 * decay >= 1e-18:
        m += 1
        decay *= a
    return m


@njit(cache=True)
def middle_ear(x, b_lp, a_lp, b_hp, a_hp, out):
    """out = lfilter(b_hp, a_hp, lfilter(b_lp, a_lp, x)) on each row of `x`, for a first-order
    low-pass and a second-order high-pass with a[0] = 1: scipy's direct form II
    transposed step for step (no fused multiply-adds, so the same bits), the rows and
    the two filters interleaved so their recursions overlap (scipy runs each serially)."""
    nrow, npts = x.shape
    lp = np.zeros(nrow)
    hp = np.zeros((nrow, 2))
    for n in range(npts):
        for r in range(nrow):
            xn = x[r, n]
            y = lp[r] + b_lp[0] * xn
            lp[r] = xn * b_lp[1] - y * a_lp[1]
            v = hp[r, 0] + b_hp[0] * y
            hp[r, 0] = hp[r, 1] + y * b_hp[1] - v * a_hp[1]
            hp[r, 1] = y * b_hp[2] - v * a_hp[2]
            out[r, n] = v
    return out


@njit(cache=True, fastmath={"contract"})
def fir_ahead(x, taps, out):
    """out[i] = sum_k taps[k] x[i + k], x zero past its end: np.convolve(x, taps[::-1])
    from its (len(taps) - 1)-th output on, as NAL-R is applied (1.5 x numpy's direct
    convolution). Works on output blocks that stay in L1, a tap at a time, so the
    products vectorise; sums run in another order than numpy's (rounding only)."""
    n, nx, m = out.shape[0], x.shape[0], taps.shape[0]
    for start in range(0, n, 512):
        stop = min(start + 512, n)
        block = out[start:stop]
        block[:] = 0.0
        for j in range(m):
            hi = min(stop, nx - j)
            if hi <= start:
                break  # past x's end for this tap and all later ones
            c = taps[j]
            source = x[start + j:hi + j]
            for i in range(hi - start):
                block[i] += c * source[i]
    return out


@njit(cache=True)
def lanes_input(x, pad, out):
    """The rows of `x` cut into LANES stretches of span = ceil(N / LANES) samples, each
    with the `pad` samples before it (zeros outside the signal), laid out for
    ``gammatone`` in `out`: flat (pad + span, 2, LANES)."""
    npts = x.shape[1]
    span = -(-npts // LANES)
    for k in range(pad + span):
        for r in range(2):
            for lane in range(LANES):
                t = lane * span + k - pad
                out[(2 * k + r) * LANES + lane] = x[r, t] if 0 <= t < npts else 0.0
    return out


@njit(cache=True, fastmath={"contract"})
def gammatone(xt, pad, npts, tpt, center_freq, coefs, env, bm, squared=False):
    """4th-order gammatone on both rows (demodulate, IIR, remodulate), LANES stretches of
    the signal at a time.

    Both rows share the carrier frequency `center_freq`; row r uses coefs[r] = (a1, a2,
    a3, a4, a5, gain). The IIR is scipy.signal.lfilter's direct form II transposed with
    b = [1, a1, a5, 0, 0], a = [1, -a1, -a2, -a3, -a4], less its products with 1 and 0, as
    eb.gammatone_basilar_membrane. A serial recursion runs at ~4 scalar flops a cycle;
    instead each lane filters its stretch (`xt` from ``lanes_input``), starting `settle`
    samples early from a zero state that the filter has forgotten below rounding by the
    stretch (settle_length <= pad), with its carrier (eb's rotation) started from cos/sin
    of its phase there. Results equal the serial recursion to rounding (~1e-9 relative in
    the lowest band, whose states are ~1e8 times its output).
    Writes the envelopes into `env` (their squares if `squared`: square roots are a large
    part of the cost, and the control path needs only the logs) and the BM motion into
    `bm` (pass an empty bm to skip it); returns the envelopes' mean squares.
    """
    span = -(-npts // LANES)
    settle = settle_length(max(coefs[0, 0], coefs[1, 0]) / 4)
    if settle > pad:
        raise ValueError("gammatone lanes need a longer lead-in")
    w = tpt * center_freq
    # per lane: 16 IIR states (4 real and 4 imaginary per row), then the carrier's cos, sin
    st = np.zeros(18 * LANES)
    for lane in range(LANES):
        st[16 * LANES + lane] = np.cos(w * (lane * span - settle))
        st[17 * LANES + lane] = -np.sin(w * (lane * span - settle))
    # blocks of steps whose outputs stay in cache until they are put back in signal order
    yt = np.empty(_BLOCK * 4 * LANES)
    sums = np.zeros(2)
    for k0 in range(0, settle + span, _BLOCK):
        k1 = min(k0 + _BLOCK, settle + span)
        # a slice, not an offset: numba's check for negative indices would turn the
        # lane loop's loads into gathers
        steps = xt[2 * LANES * (k0 + pad - settle):2 * LANES * (k1 + pad - settle)]
        _lane_steps(steps, st, coefs, np.cos(w), np.sin(w), yt[:2 * LANES * _BLOCK],
                    yt[2 * LANES * _BLOCK:])
        if k1 > settle:
            if not squared:
                _square_roots(yt[:2 * LANES * (k1 - k0)])
            _from_lanes(yt, k0 - settle, k1 - settle, npts, env, bm, squared, sums)
    return sums[0] / npts, sums[1] / npts


@njit(cache=True, fastmath={"contract"})
def _lane_steps(xt, st, coefs, cs, sn, env_t, bm_t):
    """The gammatone steps of every lane in `xt` (2 x LANES inputs a step), state in `st`;
    writes the squared envelopes g^2 (yr^2 + yi^2) of both rows to `env_t` and the BM
    g (yr cos + yi sin) to `bm_t`, each (steps, 2, LANES) flat; vectorised across lanes
    (LLVM keeps the state in registers over the call)."""
    b1_0, b2_0, g0 = coefs[0, 0], coefs[0, 4], coefs[0, 5]
    c1_0, c2_0, c3_0, c4_0 = -coefs[0, 0], -coefs[0, 1], -coefs[0, 2], -coefs[0, 3]
    b1_1, b2_1, g1 = coefs[1, 0], coefs[1, 4], coefs[1, 5]
    c1_1, c2_1, c3_1, c4_1 = -coefs[1, 0], -coefs[1, 1], -coefs[1, 2], -coefs[1, 3]
    gg0 = g0 * g0
    gg1 = g1 * g1
    L = LANES
    for k in range(xt.shape[0] // (2 * L)):
        for lane in range(L):
            c = st[16 * L + lane]
            s = st[17 * L + lane]
            xv = xt[2 * L * k + lane]
            xr = xv * c
            xi = xv * s
            yr = st[lane] + xr
            st[lane] = st[L + lane] + xr * b1_0 - yr * c1_0
            st[L + lane] = st[2 * L + lane] + xr * b2_0 - yr * c2_0
            st[2 * L + lane] = st[3 * L + lane] - yr * c3_0
            st[3 * L + lane] = -(yr * c4_0)
            yi = st[4 * L + lane] + xi
            st[4 * L + lane] = st[5 * L + lane] + xi * b1_0 - yi * c1_0
            st[5 * L + lane] = st[6 * L + lane] + xi * b2_0 - yi * c2_0
            st[6 * L + lane] = st[7 * L + lane] - yi * c3_0
            st[7 * L + lane] = -(yi * c4_0)
            env_t[2 * L * k + lane] = gg0 * (yr * yr + yi * yi)
            bm_t[2 * L * k + lane] = g0 * (yr * c + yi * s)
            xv = xt[2 * L * k + L + lane]
            xr = xv * c
            xi = xv * s
            yr = st[8 * L + lane] + xr
            st[8 * L + lane] = st[9 * L + lane] + xr * b1_1 - yr * c1_1
            st[9 * L + lane] = st[10 * L + lane] + xr * b2_1 - yr * c2_1
            st[10 * L + lane] = st[11 * L + lane] - yr * c3_1
            st[11 * L + lane] = -(yr * c4_1)
            yi = st[12 * L + lane] + xi
            st[12 * L + lane] = st[13 * L + lane] + xi * b1_1 - yi * c1_1
            st[13 * L + lane] = st[14 * L + lane] + xi * b2_1 - yi * c2_1
            st[14 * L + lane] = st[15 * L + lane] - yi * c3_1
            st[15 * L + lane] = -(yi * c4_1)
            env_t[2 * L * k + L + lane] = gg1 * (yr * yr + yi * yi)
            bm_t[2 * L * k + L + lane] = g1 * (yr * c + yi * s)
            st[16 * L + lane] = c * cs + s * sn
            st[17 * L + lane] = s * cs - c * sn


@njit(cache=True)
def _square_roots(x):
    """x = sqrt(x), vectorised (in _from_lanes the roots would be scalar)."""
    for i in range(x.shape[0]):
        x[i] = np.sqrt(x[i])


@njit(cache=True, fastmath={"reassoc", "nsz", "contract"})
def _from_lanes(yt, j0, j1, npts, env, bm, squared, sums):
    """A block of _lane_steps outputs (lane steps j0..j1, j < 0 being lead-in) back into
    (2, N) rows of env and bm; adds the envelopes' squares to `sums` (the envelopes
    themselves if `squared`). Whole blocks go through 8 x 8 shuffle transposes, the
    block's ends (lead-in, the short last lane) through a scalar loop."""
    span = -(-npts // LANES)
    if j0 >= 0 and j1 - j0 == _BLOCK and j1 <= npts - (LANES - 1) * span:
        _transpose_block(yt, j0, span, env, bm)
    else:
        _scatter_block(yt, j0, j1, npts, env, bm)
    lo = max(j0, 0)
    for r in range(2):
        total = 0.0
        for lane in range(LANES):
            base = lane * span
            hi = min(j1, npts - base)
            row = env[r, base + lo:base + max(hi, lo)]
            for i in range(row.shape[0]):
                total += row[i] if squared else row[i] * row[i]
        sums[r] += total


@njit(cache=True)
def _transpose_block(yt, j0, span, env, bm):
    """A whole block (steps j0..j0 + _BLOCK, every lane inside the signal) into place:
    for each row, lane octet and step octet one 8 x 8 transpose."""
    L = LANES
    outputs = 2 if bm.shape[0] > 0 else 1
    for part in range(outputs):
        at = part * (yt.shape[0] // 2)
        for r in range(2):
            dst = env[r] if part == 0 else bm[r]
            for lane in range(0, L, 8):
                for q in range(0, _BLOCK, 8):
                    transpose8(yt, at + 2 * L * q + r * L + lane, 2 * L,
                               dst, lane * span + j0 + q, span)


@njit(cache=True)
def _scatter_block(yt, j0, j1, npts, env, bm):
    """_transpose_block for a block's ends, one value at a time."""
    L = LANES
    span = -(-npts // L)
    want_bm = bm.shape[0] > 0
    bm_at = yt.shape[0] // 2
    lo = max(j0, 0)
    for lane in range(L):
        base = lane * span
        hi = min(j1, npts - base)  # the last lane may end early
        for j in range(lo, hi):
            y0 = 2 * L * (j - j0) + lane
            env[0, base + j] = yt[y0]
            env[1, base + j] = yt[y0 + L]
            if want_bm:
                bm[0, base + j] = yt[bm_at + y0]
                bm[1, base + j] = yt[bm_at + y0 + L]


DB_PER_NEPER = 20 / np.log(10)  # 20 log10(x) = DB_PER_NEPER * ln(x): ln is the cheaper


_VBLOCK = 2048  # samples a fused kernel takes through its vectorised steps at a time


_WAYS = 8  # stretches a first-order recursion runs side by side (``_recursion``)


@njit(cache=True)
def _recursion_powers(pole):
    """pole^(i + 1) for the stretches of a _VBLOCK-sample ``_recursion``."""
    return pole ** np.arange(1.0, _VBLOCK // _WAYS + 1.0)


@njit(cache=True, fastmath={"contract"})
def _recursion(u, pole, state, out, powers):
    """out[i] = pole out[i - 1] + u[i] from out[-1] = `state`; returns out[-1].

    A serial recursion waits a multiply-add's latency a step; instead _WAYS contiguous
    stretches run side by side from zero states, then each stretch gets its true start
    state's response, the previous stretch's last value times powers[i] =
    pole^(i + 1) (``_recursion_powers``), in a vectorised pass. Equal to the serial
    recursion to rounding (a few ulps).
    """
    m = u.shape[0]
    seg = m // _WAYS
    z0 = z1 = z2 = z3 = z4 = z5 = z6 = z7 = 0.0
    for i in range(seg):
        z0 = pole * z0 + u[i]
        z1 = pole * z1 + u[seg + i]
        z2 = pole * z2 + u[2 * seg + i]
        z3 = pole * z3 + u[3 * seg + i]
        z4 = pole * z4 + u[4 * seg + i]
        z5 = pole * z5 + u[5 * seg + i]
        z6 = pole * z6 + u[6 * seg + i]
        z7 = pole * z7 + u[7 * seg + i]
        out[i] = z0
        out[seg + i] = z1
        out[2 * seg + i] = z2
        out[3 * seg + i] = z3
        out[4 * seg + i] = z4
        out[5 * seg + i] = z5
        out[6 * seg + i] = z6
        out[7 * seg + i] = z7
    for w in range(_WAYS if seg > 0 else 0):
        stretch = out[w * seg:(w + 1) * seg]
        for i in range(seg):
            stretch[i] += powers[i] * state
        state = stretch[seg - 1]
    for i in range(_WAYS * seg, m):
        state = pole * state + u[i]
        out[i] = state
    return state


@njit(cache=True, fastmath={"contract"})
def compress(control_sq, level1, knee, attn_ohc, ratio, b0, b1, a1, env, bm):
    """eb.env_compress_basilar_membrane on both rows, in place on env and bm, from the
    squared control envelopes.

    The OHC gain in dB, -attn_ohc - (clip(level1 + 20 log10 max(control, 1e-30), knee,
    100) - knee) (1 - 1 / ratio), with 20 log10 max(control, 1e-30) = 10 log10
    max(control^2, 1e-60), is taken to a gain with exp (as ln/exp: natural units),
    low-passed by lfilter([b0, b1], [1, a1]) and applied to env and bm. Runs a block at a
    time so the log, exp and scaling vectorise over data in cache; the low-pass recursion
    keeps one multiply-add per step on its dependency chain.
    """
    npts = control_sq.shape[1]
    to_neper = np.log(10) / 20
    gain = np.empty((2, _VBLOCK))
    ln_control = np.empty(_VBLOCK)
    scratch = np.empty(_VBLOCK)
    states = np.empty(_VBLOCK)
    powers = _recursion_powers(-a1)
    b1_eff = b1 - a1 * b0  # z' = b1 x - a1 (z + b0 x)
    z = np.zeros(2)
    for start in range(0, npts, _VBLOCK):
        stop = min(start + _VBLOCK, npts)
        m = stop - start
        for r in range(2):
            g = gain[r, :m]
            c = control_sq[r, start:stop]
            for i in range(m):
                g[i] = max(c[i], 1e-60)
            ln_c = ln_control[:m]
            log_into(g, ln_c, scratch[:m])
            slope = 1 - (1 / ratio[r])
            for i in range(m):
                logenv = min(level1 + (0.5 * DB_PER_NEPER) * ln_c[i], 100.0)
                logenv = max(logenv, knee[r])
                ln_c[i] = (-attn_ohc[r] - (logenv - knee[r]) * slope) * to_neper
            exp_into(ln_c, g, scratch[:m])
        # the low-pass: y[i] = z[i - 1] + b0 x[i], z[i] = -a1 z[i - 1] + b1_eff x[i]
        for r in range(2):
            g = gain[r, :m]
            u = scratch[:m]
            for i in range(m):
                u[i] = b1_eff * g[i]
            z_in = z[r]
            z[r] = _recursion(u, -a1, z_in, states[:m], powers)
            g[0] = z_in + b0 * g[0]
            after, before = g[1:], states[:m - 1]
            for i in range(m - 1):
                after[i] = before[i] + b0 * after[i]
        for r in range(2):
            e = env[r, start:stop]
            v = bm[r, start:stop]
            g = gain[r, :m]
            for i in range(m):
                e[i] *= g[i]
                v[i] *= g[i]


@njit(cache=True, fastmath={"contract"})
def sl_ihc(env, bm, offset, delta, freq_sample, noise, noise_gain, shift, env_delay,
           out_db, out_bm, gain):
    """eb.envelope_sl and eb.inner_hair_cell_adaptation for both rows (reference,
    processed), with the processed envelope aligned, the group-delay shift, and the
    reference BM finished (its threshold noise noise_gain * noise added before the shift).

    The processed row reads env at n + env_delay (zero outside the signal), as
    envelope_align's shifted copy. `offset` is level1 - IHC attenuation per row. Outputs
    are delayed by `shift` samples, zero filled.
    Writes envelope dB SL (2, N) to `out_db`, reference BM (N) to `out_bm` and the
    processed BM gain (N) to `gain` (``processed_bm`` applies it once the BM alignment is
    known). The BM gain is upstream's IHC gain times its SL gain, (out + small) / (v_0 +
    small) * (v_0 + small) / (env + small), with v_0 cancelled.
    """
    dsmall = 1.0001
    delta = max(delta, dsmall)
    tau1 = 0.001 * 2
    tau2 = 0.001 * 60
    freq_sample_inverse = 1 / freq_sample
    r_1 = 1 / delta
    r_2 = 0.5 * (1 - r_1)
    r_3 = r_2
    c_1 = tau1 * (r_1 + r_2) / (r_1 * r_2)
    c_2 = tau2 / ((r_1 + r_2) * r_3)
    a11 = r_1 + r_2 + r_1 * r_2 * (c_1 / freq_sample_inverse)
    a12 = -r_1
    a21 = -r_3
    a22 = r_2 + r_3 + r_2 * r_3 * (c_2 / freq_sample_inverse)
    denom = 1 / ((a11 * a22) - (a21 * a12))
    r_1_inv = 1 / r_1
    p_1 = r_1 * r_2 * (c_1 / freq_sample_inverse)
    p_2 = r_2 * r_3 * (c_2 / freq_sample_inverse)
    # upstream's 2 x 2 solve folded into one linear update: (v_1, v_2) <- A (v_1, v_2) +
    # b v_0, A = [[k_11, k_12], [k_21, k_22]], b = (k_10, k_20); then in A's eigenbasis
    # (real, well-conditioned eigenvectors scaled to v_1 = q_1 + q_2), two decoupled
    # first-order recursions q_j <- lam_j q_j + beta_j v_0: one multiply-add per step on
    # each dependency chain instead of two.
    k_10, k_11, k_12 = denom * a22 * r_2, denom * a22 * p_1, -denom * a12 * p_2
    k_20, k_21, k_22 = -denom * a21 * r_2, -denom * a21 * p_1, denom * a11 * p_2
    # (forms without cancellation: the slow eigenvalue's 1 - lam sets the gain)
    half_gap = 0.5 * (k_22 - k_11)
    root = np.sqrt(half_gap * half_gap + k_12 * k_21)
    lam_1 = 0.5 * (k_11 + k_22) + root
    lam_2 = (k_11 * k_22 - k_12 * k_21) / lam_1
    m_1 = (half_gap + root) / k_12  # eigenvectors (1, m_j)
    m_2 = -k_21 / (half_gap + root)
    beta_1 = (m_2 * k_10 - k_20) / (m_2 - m_1)
    beta_2 = (k_20 - m_1 * k_10) / (m_2 - m_1)
    small = 1e-30
    ln_small = np.log(small)
    nsamp = env.shape[1]
    count = nsamp - shift
    out_db[:, :shift] = 0.0
    out_bm[:shift] = 0.0
    db_0, db_1 = out_db[0, shift:], out_db[1, shift:]  # row views: cheaper indexing
    lo = min(max(-env_delay, 0), count)  # the aligned processed envelope: ln_1[n + delay]
    hi = max(min(count, nsamp - env_delay), lo)  # inside lo <= n < hi, else ln(1e-30)
    _sl_levels(env[0, :count], offset[0], db_0)
    db_1[:lo] = db_1[hi:] = max(offset[1] + DB_PER_NEPER * ln_small, 0.0)
    _sl_levels(env[1, lo + env_delay:hi + env_delay], offset[1], db_1[lo:hi])
    q_01 = q_02 = q_11 = q_12 = 0.0  # (row, eigenvalue); db rows hold the levels v_0
    for n in range(count):
        v_0 = db_0[n]
        y_0 = db_1[n]
        q_01 = lam_1 * q_01 + beta_1 * v_0
        q_02 = lam_2 * q_02 + beta_2 * v_0
        q_11 = lam_1 * q_11 + beta_1 * y_0
        q_12 = lam_2 * q_12 + beta_2 * y_0
        db_0[n] = max((v_0 - (q_01 + q_02)) * r_1_inv, 0.0)
        db_1[n] = max((y_0 - (q_11 + q_12)) * r_1_inv, 0.0)
    # BM gains, in separate loops over contiguous views so the divisions vectorise
    reference = out_bm[shift:]
    _reference_bm(out_db[0, shift:], env[0, :count], bm[0, :count], noise[:count],
                  noise_gain, reference)
    lo = min(max(-env_delay, 0), count)
    hi = max(min(count, nsamp - env_delay), lo)
    _bm_gain(out_db[1, shift + lo:shift + hi], env[1, lo + env_delay:hi + env_delay],
             gain[lo:hi])
    for n in list(range(lo)) + list(range(hi, count)):  # the aligned envelope is 0 there
        gain[n] = (out_db[1, n + shift] + small) / small


@njit(cache=True, fastmath={"contract"})
def _sl_levels(env, offset, out):
    """out = max(offset + 20 log10(env + 1e-30), 0) (eb.envelope_sl less the IHC
    attenuation, floored as the IHC adaptation does), ahead of the recursion, a block at
    a time so the log needs no pass of its own."""
    shifted = np.empty(_VBLOCK)
    scratch = np.empty(_VBLOCK)
    for start in range(0, out.shape[0], _VBLOCK):
        stop = min(start + _VBLOCK, out.shape[0])
        m = stop - start
        e = env[start:stop]
        for i in range(m):
            shifted[i] = e[i] + 1e-30
        level = out[start:stop]
        log_into(shifted[:m], level, scratch[:m])
        for i in range(m):
            level[i] = max(offset + DB_PER_NEPER * level[i], 0.0)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _reference_bm(db, env, bm, noise, noise_gain, out):
    """The reference BM, _bm_gain times bm plus its threshold noise, in one pass."""
    for n in range(db.shape[0]):
        out[n] = (db[n] + 1e-30) / (env[n] + 1e-30) * bm[n] + noise_gain * noise[n]


@njit(cache=True, error_model="numpy")
def _bm_gain(db, env, out):
    """(db + small) / (env + small): the SL and IHC gains of the BM in one division.
    error_model="numpy" drops the zero-division check, so the divisions vectorise (4x)."""
    for n in range(db.shape[0]):
        out[n] = (db[n] + 1e-30) / (env[n] + 1e-30)


@njit(cache=True)
def processed_bm(bm, gain, bm_delay, noise, noise_gain, shift, out):
    """Finish the processed BM from sl_ihc's gain into `out`: aligned by `bm_delay` (zero
    outside), scaled, threshold noise added, delayed by `shift` samples."""
    nsamp = bm.shape[0]
    count = nsamp - shift
    out[:shift] = 0.0
    done = out[shift:]
    for n in range(count):  # the aligned BM is zero outside lo <= n < hi
        done[n] = noise_gain * noise[n]
    lo = min(max(-bm_delay, 0), count)
    hi = max(min(count, nsamp - bm_delay), lo)
    # contiguous views, so the loop vectorises (no bounds test a sample)
    done, g, b = done[lo:hi], gain[lo:hi], bm[lo + bm_delay:hi + bm_delay]
    for n in range(hi - lo):
        done[n] += g[n] * b[n]


@njit(cache=True, fastmath={"reassoc", "nsz", "contract"})
def _dot(x, y):
    """sum x * y of equal-length contiguous views, reassociated so it vectorises (the order
    moves only the last bits). Slices, not offset indexing: numba's negative-index check
    on computed indices blocks vectorisation."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


@njit(cache=True)
def env_smooth(env, window, wsum, halfsum):
    """``eb.env_smooth`` on each row: 50 %-overlapped von Hann averages (first/last half)."""
    nwin = window.shape[0]
    nhalf = nwin // 2
    nrow, npts = env.shape
    nseg = int(1 + np.floor(npts / nwin) + np.floor((npts - nwin / 2) / nwin))
    smooth = np.empty((nrow, nseg))
    for k in range(nrow):
        row = env[k]
        smooth[k, 0] = _dot(row[:nhalf], window[nhalf:]) / halfsum
        for n in range(1, nseg - 1):
            smooth[k, n] = _dot(row[n * nhalf:n * nhalf + nwin], window) / wsum
        last = (nseg - 1) * nhalf
        smooth[k, nseg - 1] = _dot(row[last:last + nhalf], window[:nhalf]) / halfsum
    return smooth


@njit(cache=True, fastmath={"reassoc", "nsz", "contract"})
def _dot7(x, y):
    """sum x[i] * y[i + 6 - m] for m < 7 (y: 6 longer than x) at once: one load of x for
    seven multiply-adds, reassociated so it vectorises (as _dot; indices a nonnegative
    constant past i, so no negative-index checks)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        s0 += v * y[i + 6]
        s1 += v * y[i + 5]
        s2 += v * y[i + 4]
        s3 += v * y[i + 3]
        s4 += v * y[i + 2]
        s5 += v * y[i + 1]
        s6 += v * y[i]
    return s0, s1, s2, s3, s4, s5, s6


@njit(cache=True, fastmath={"reassoc", "nsz", "contract"})
def _segment_cov(x, y, start, win, wstart, n, inv_corr, inv_sum2, maxlag, small, threshold,
                 buf):
    """Windowed, zero-mean segment cross-covariance (max |lag| <= maxlag) and MS levels.

    The covariance is only computed (else 0) when the reference level sqrt(2 MS) exceeds
    `threshold`: ave_covary2 gives every other tile zero weight.
    """
    a = buf[0, :n]
    b = buf[1, :n]
    xs = x[start:start + n]
    ys = y[start:start + n]
    ws = win[wstart:wstart + n]
    mx = 0.0
    my = 0.0
    for i in range(n):
        a[i] = xs[i] * ws[i]
        b[i] = ys[i] * ws[i]
        mx += a[i]
        my += b[i]
    mx /= n
    my /= n
    sx = 0.0
    sy = 0.0
    for i in range(n):
        a[i] -= mx
        b[i] -= my
        sx += a[i] * a[i]
        sy += b[i] * b[i]
    ms_x = sx * inv_sum2
    ms_y = sy * inv_sum2
    if not np.sqrt(ms_x * 2.0) > threshold:
        return 0.0, ms_x, ms_y
    # correlate(a, b)[lag] = sum a[i] * b[i - lag] = sum a[i] * padded[maxlag - lag + i],
    # b zero-padded by maxlag each side: seven lags at a time share a's loads
    padded = buf[2, :n + 2 * maxlag]
    padded[:maxlag] = 0.0
    padded[maxlag:maxlag + n] = b
    padded[maxlag + n:] = 0.0
    best = 0.0
    nlag = 2 * maxlag + 1
    for j in range(0, nlag - nlag % 7, 7):
        off = 2 * maxlag - j  # lag j - maxlag
        sums = _dot7(a, padded[off - 6:off + n])
        for m in range(7):
            v = abs(sums[m] * inv_corr[j + m])
            if v > best:
                best = v
    for j in range(nlag - nlag % 7, nlag):
        off = 2 * maxlag - j
        v = abs(_dot(a, padded[off:off + n]) * inv_corr[j])
        if v > best:
            best = v
    if ms_x > small and ms_y > small:
        cov = best / np.sqrt(ms_x * ms_y)
    else:
        cov = 0.0
    return cov, ms_x, ms_y


@njit(cache=True)
def bm_covary(x, y, window, win_corr, half_corr, win_sum2, half_sum2, maxlag, threshold):
    """``eb.bm_covary`` on each row pair: segment cross-covariance and reference MS level.

    Returns (cross_covariance clipped to [0, 1], 2 * reference mean square). Tiles whose
    reference level sqrt(2 MS) does not exceed `threshold` (ave_covary2's silence threshold)
    get covariance 0 without computing it, since ave_covary2 weights them by 0.
    """
    small = 1.0e-30
    nwin = window.shape[0]
    nhalf = nwin // 2
    nrow, npts = x.shape
    nseg = int(1 + np.floor(npts / nwin) + np.floor((npts - nwin / 2) / nwin))
    cov = np.empty((nrow, nseg))
    ms = np.empty((nrow, nseg))
    buf = np.empty((3, nwin + 2 * maxlag))
    for k in range(nrow):
        xk = x[k]
        yk = y[k]
        c, mx, _ = _segment_cov(xk, yk, 0, window, nhalf, nhalf, half_corr, half_sum2,
                                maxlag, small, threshold, buf)
        cov[k, 0] = c
        ms[k, 0] = mx
        nstart = 0
        for n in range(1, nseg - 1):
            nstart += nhalf
            c, mx, _ = _segment_cov(xk, yk, nstart, window, 0, nwin, win_corr, win_sum2,
                                    maxlag, small, threshold, buf)
            cov[k, n] = c
            ms[k, n] = mx
        nstart += nhalf
        c, mx, _ = _segment_cov(xk, yk, nstart, window, 0, nhalf, half_corr, half_sum2,
                                maxlag, small, threshold, buf)
        cov[k, nseg - 1] = c
        ms[k, nseg - 1] = mx
    return np.minimum(np.maximum(cov, 0.0), 1.0), ms * 2.0


@njit(cache=True, fastmath={"reassoc", "nsz", "contract"})
def _segment_ms(x, start, win, wstart, n, inv_sum2):
    """_segment_cov's mean square of the windowed, zero-mean reference segment alone."""
    xs = x[start:start + n]
    ws = win[wstart:wstart + n]
    total = 0.0
    for i in range(n):
        total += xs[i] * ws[i]
    mean = total / n
    sx = 0.0
    for i in range(n):
        d = xs[i] * ws[i] - mean
        sx += d * d
    return sx * inv_sum2


@njit(cache=True)
def segment_levels(x, window, win_sum2, half_sum2):
    """bm_covary's second output (2 x reference mean square per segment) for row `x`
    alone: what tells whether a band has any tile above the silence threshold."""
    nwin = window.shape[0]
    nhalf = nwin // 2
    npts = x.shape[0]
    nseg = int(1 + np.floor(npts / nwin) + np.floor((npts - nwin / 2) / nwin))
    ms = np.empty(nseg)
    ms[0] = _segment_ms(x, 0, window, nhalf, nhalf, half_sum2)
    for n in range(1, nseg - 1):
        ms[n] = _segment_ms(x, n * nhalf, window, 0, nwin, win_sum2)
    ms[nseg - 1] = _segment_ms(x, (nseg - 1) * nhalf, window, 0, nhalf, half_sum2)
    return ms * 2.0
