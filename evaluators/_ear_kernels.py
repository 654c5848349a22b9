"""Numba kernels for the per-sample recursions of the Kates ear model and HAAQI.

Each kernel reproduces pyclarity's arithmetic operation by operation (same order, no fused
multiply-add), so IIR outputs, carriers and IHC adaptation are bit-identical to upstream.
Transcendental functions stay in numpy (its SIMD log/exp are ~10x faster than libm calls
from numba and are what pyclarity itself uses).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def gammatone(x, tpt, center_freq, coefs, env, bm):
    """4th-order gammatone on the two rows of `x` (demodulate, IIR, remodulate).

    Row r uses carrier frequency center_freq[r] and coefs[r] = (a1, a2, a3, a4, a5, gain).
    The carriers are eb.gammatone_bandwidth_demodulation's 2-D rotation, generated inline;
    the IIR is scipy.signal.lfilter's direct form II transposed with b = [1, a1, a5, 0, 0],
    a = [1, -a1, -a2, -a3, -a4], less its products with 1 and 0 (which change at most the
    sign of a zero). Both rows run in one loop so their recursions overlap.
    Writes the envelopes into `env` and the BM motion into `bm` (pass an empty bm to skip
    it); caller-owned outputs let one buffer serve every band.
    """
    npts = x.shape[1]
    want_bm = bm.shape[0] > 0
    # Two rows written out side by side (suffixes 0/1) so the values stay in registers.
    cs0 = np.cos(tpt * center_freq[0])
    sn0 = np.sin(tpt * center_freq[0])
    cs1 = np.cos(tpt * center_freq[1])
    sn1 = np.sin(tpt * center_freq[1])
    b1_0, b2_0, g0 = coefs[0, 0], coefs[0, 4], coefs[0, 5]
    c1_0, c2_0, c3_0, c4_0 = -coefs[0, 0], -coefs[0, 1], -coefs[0, 2], -coefs[0, 3]
    b1_1, b2_1, g1 = coefs[1, 0], coefs[1, 4], coefs[1, 5]
    c1_1, c2_1, c3_1, c4_1 = -coefs[1, 0], -coefs[1, 1], -coefs[1, 2], -coefs[1, 3]
    r0_0 = r1_0 = r2_0 = r3_0 = i0_0 = i1_0 = i2_0 = i3_0 = 0.0
    r0_1 = r1_1 = r2_1 = r3_1 = i0_1 = i1_1 = i2_1 = i3_1 = 0.0
    co0 = co1 = 1.0
    so0 = so1 = 0.0
    for n in range(npts):
        if n > 0:
            arg = co0 * cs0 + so0 * sn0
            so0 = so0 * cs0 - co0 * sn0
            co0 = arg
            arg = co1 * cs1 + so1 * sn1
            so1 = so1 * cs1 - co1 * sn1
            co1 = arg
        xv = x[0, n]
        xr = xv * co0
        xi = xv * so0
        yr = r0_0 + xr
        r0_0 = r1_0 + xr * b1_0 - yr * c1_0
        r1_0 = r2_0 + xr * b2_0 - yr * c2_0
        r2_0 = r3_0 - yr * c3_0
        r3_0 = -(yr * c4_0)
        yi = i0_0 + xi
        i0_0 = i1_0 + xi * b1_0 - yi * c1_0
        i1_0 = i2_0 + xi * b2_0 - yi * c2_0
        i2_0 = i3_0 - yi * c3_0
        i3_0 = -(yi * c4_0)
        env[0, n] = g0 * np.sqrt(yr * yr + yi * yi)
        if want_bm:
            bm[0, n] = g0 * (yr * co0 + yi * so0)
        xv = x[1, n]
        xr = xv * co1
        xi = xv * so1
        yr = r0_1 + xr
        r0_1 = r1_1 + xr * b1_1 - yr * c1_1
        r1_1 = r2_1 + xr * b2_1 - yr * c2_1
        r2_1 = r3_1 - yr * c3_1
        r3_1 = -(yr * c4_1)
        yi = i0_1 + xi
        i0_1 = i1_1 + xi * b1_1 - yi * c1_1
        i1_1 = i2_1 + xi * b2_1 - yi * c2_1
        i2_1 = i3_1 - yi * c3_1
        i3_1 = -(yi * c4_1)
        env[1, n] = g1 * np.sqrt(yr * yr + yi * yi)
        if want_bm:
            bm[1, n] = g1 * (yr * co1 + yi * so1)


@njit(cache=True)
def lowpass_gain(gain, b0, b1, a1, env, bm):
    """scipy.signal.lfilter([b0, b1], [1, a1], gain) on both rows, then scale env and bm."""
    npts = gain.shape[1]
    z = np.zeros(2)
    for n in range(npts):
        for r in range(2):
            x = gain[r, n]
            y = z[r] + b0 * x
            z[r] = x * b1 - y * a1
            env[r, n] = y * env[r, n]
            bm[r, n] = y * bm[r, n]


@njit(cache=True)
def compression_exponent(log_control, level1, knee, attn_ohc, ratio, out):
    """eb.env_compress_basilar_membrane's gain in dB, divided by 20, for both rows.

    `log_control` is log10(max(control, 1e-30)); the caller raises 10 to `out`.
    """
    npts = log_control.shape[1]
    for r in range(2):
        slope = 1 - (1 / ratio[r])
        for n in range(npts):
            logenv = level1 + 20 * log_control[r, n]
            logenv = min(logenv, 100.0)
            logenv = max(logenv, knee[r])
            out[r, n] = (-attn_ohc[r] - (logenv - knee[r]) * slope) / 20


@njit(cache=True)
def sl_ihc(env, bm, log_env, offset, delta, freq_sample, noise, noise_gain, shift,
           env_delay, log_small, out_db, out_bm, gains):
    """eb.envelope_sl and eb.inner_hair_cell_adaptation for both rows (reference,
    processed), with the processed envelope aligned, the group-delay shift, and the
    reference BM finished (threshold noise noise_gain * noise added before the shift).

    The processed row reads env/log_env at n + env_delay (zero, and log10(1e-30) =
    `log_small`, outside the signal), as envelope_align's shifted copy. `log_env` is
    log10(env + 1e-30) and `offset` level1 - IHC attenuation per row. Outputs are delayed
    by `shift` samples, zero filled. Writes envelope dB SL (2, N) to `out_db`, reference
    BM (N) to `out_bm` and processed BM gains (2, N) to `gains`: the processed BM is
    finished by ``processed_bm`` once its own alignment is known, as
    gains[1] * (gains[0] * aligned BM), upstream's order.
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
    product_r1_r2_c1 = r_1 * r_2 * (c_1 / freq_sample_inverse)
    product_r2_r3_c2 = r_2 * r_3 * (c_2 / freq_sample_inverse)
    small = 1e-30
    nsamp = env.shape[1]
    out_db[:, :shift] = 0.0
    out_bm[:shift] = 0.0
    v_1 = np.zeros(2)
    v_2 = np.zeros(2)
    for n in range(nsamp - shift):
        for r in range(2):
            # dB SL envelope and the BM gain to it (eb.envelope_sl)
            m = n + env_delay * r
            if 0 <= m < nsamp:
                e = env[r, m]
                log_e = log_env[r, m]
            else:
                e = 0.0
                log_e = log_small
            v_0 = max(offset[r] + 20 * log_e, 0.0)
            sl_gain = (v_0 + small) / (e + small)
            # IHC adaptation
            b_1 = v_0 * r_2 + product_r1_r2_c1 * v_1[r]
            b_2 = product_r2_r3_c2 * v_2[r]
            v_1[r] = denom * (a22 * b_1 - a12 * b_2)
            v_2[r] = denom * (-a21 * b_1 + a11 * b_2)
            out = max((v_0 - v_1[r]) * r_1_inv, 0.0)
            out_db[r, n + shift] = out
            ihc_gain = (out + small) / (v_0 + small)
            if r == 0:
                out_bm[n + shift] = ihc_gain * (sl_gain * bm[0, n]) + noise_gain * noise[0, n]
            else:
                gains[0, n] = sl_gain
                gains[1, n] = ihc_gain


@njit(cache=True)
def processed_bm(bm, gains, bm_delay, noise, noise_gain, shift, out):
    """Finish the processed BM from sl_ihc's gains into `out`: aligned by `bm_delay` (zero
    outside), scaled, threshold noise added, delayed by `shift` samples."""
    nsamp = bm.shape[0]
    out[:shift] = 0.0
    for n in range(nsamp - shift):
        m = n + bm_delay
        b = bm[m] if 0 <= m < nsamp else 0.0
        out[n + shift] = gains[1, n] * (gains[0, n] * b) + noise_gain * noise[n]


@njit(cache=True)
def env_smooth(env, window, wsum, halfsum):
    """``eb.env_smooth`` on each row: 50 %-overlapped von Hann averages (first/last half).

    Full segments are summed in ascending sample order, like upstream's builtin ``sum``;
    eight segments are accumulated side by side so the adds do not wait on each other.
    """
    nwin = window.shape[0]
    nhalf = nwin // 2
    nrow, npts = env.shape
    nseg = int(1 + np.floor(npts / nwin) + np.floor((npts - nwin / 2) / nwin))
    smooth = np.empty((nrow, nseg))
    acc = np.empty(8)
    for k in range(nrow):
        s = 0.0
        for i in range(nhalf):
            s += env[k, i] * window[nhalf + i]
        smooth[k, 0] = s / halfsum
        for n0 in range(1, nseg - 1, 8):
            m = min(8, nseg - 1 - n0)
            for j in range(m):
                acc[j] = 0.0
            base = n0 * nhalf
            for i in range(nwin):
                wi = window[i]
                for j in range(m):
                    acc[j] += env[k, base + j * nhalf + i] * wi
            for j in range(m):
                smooth[k, n0 + j] = acc[j] / wsum
        nstart = (nseg - 1) * nhalf
        s = 0.0
        for i in range(nhalf):
            s += env[k, nstart + i] * window[i]
        smooth[k, nseg - 1] = s / halfsum
    return smooth


@njit(cache=True)
def _segment_cov(x, y, start, win, wstart, n, inv_corr, inv_sum2, maxlag, small, threshold,
                 buf, acc):
    """Windowed, zero-mean segment cross-covariance (max |lag| <= maxlag) and MS levels.

    The covariance is only computed (else 0) when the reference level sqrt(2 MS) exceeds
    `threshold`: ave_covary2 gives every other tile zero weight.
    """
    a = buf[0]
    b = buf[1]
    br = buf[2]
    mx = 0.0
    my = 0.0
    for i in range(n):
        a[i] = x[start + i] * win[wstart + i]
        b[i] = y[start + i] * win[wstart + i]
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
    nl = 2 * maxlag + 1
    # correlate(a, b)[lag] = sum_i a[i] * b[i - lag], lag in [-maxlag, maxlag], summed in
    # ascending i. br is b reversed and zero padded by maxlag, so for fixed i the lags read
    # consecutive elements: b[i - lag] = br[n - 1 + maxlag - i + lag].
    for i in range(n + 2 * maxlag):
        br[i] = 0.0
    for i in range(n):
        br[n - 1 + maxlag - i] = b[i]
    for j in range(nl):
        acc[j] = 0.0
    # Four samples per pass over the lags (same summation order, half the acc traffic).
    n4 = n - n % 4
    for i in range(0, n4, 4):
        a0 = a[i]
        a1 = a[i + 1]
        a2 = a[i + 2]
        a3 = a[i + 3]
        off = n - 1 - i
        for j in range(nl):
            acc[j] = (((acc[j] + a0 * br[off + j]) + a1 * br[off - 1 + j])
                      + a2 * br[off - 2 + j]) + a3 * br[off - 3 + j]
    for i in range(n4, n):
        ai = a[i]
        off = n - 1 - i
        for j in range(nl):
            acc[j] += ai * br[off + j]
    best = 0.0
    for j in range(nl):
        v = abs(acc[j] * inv_corr[j])
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
    acc = np.empty(2 * maxlag + 1)  # separate from buf so the lag loop vectorises
    for k in range(nrow):
        xk = x[k]
        yk = y[k]
        c, mx, _ = _segment_cov(xk, yk, 0, window, nhalf, nhalf, half_corr, half_sum2,
                                maxlag, small, threshold, buf, acc)
        cov[k, 0] = c
        ms[k, 0] = mx
        nstart = 0
        for n in range(1, nseg - 1):
            nstart += nhalf
            c, mx, _ = _segment_cov(xk, yk, nstart, window, 0, nwin, win_corr, win_sum2,
                                    maxlag, small, threshold, buf, acc)
            cov[k, n] = c
            ms[k, n] = mx
        nstart += nhalf
        c, mx, _ = _segment_cov(xk, yk, nstart, window, 0, nhalf, half_corr, half_sum2,
                                maxlag, small, threshold, buf, acc)
        cov[k, nseg - 1] = c
        ms[k, nseg - 1] = mx
    return np.minimum(np.maximum(cov, 0.0), 1.0), ms * 2.0


@njit(cache=True)
def cross_spectrum_sum(ref_spec, out_spec):
    """sum over blocks (axis 0) of conj(ref_spec) * out_spec."""
    nblock, nfreq = ref_spec.shape
    total = np.zeros(nfreq, dtype=np.complex128)
    for b in range(nblock):
        for f in range(nfreq):
            total[f] += ref_spec[b, f].conjugate() * out_spec[b, f]
    return total
