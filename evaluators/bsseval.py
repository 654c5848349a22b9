"""BSSEval v4 (SDR, ISR, SIR, SAR), vectorised, with museval's numbers.

Reproduces ``museval.metrics.bss_eval(references, estimates, window, hop,
compute_permutation=False, filters_len=512, framewise_filters=False,
bsseval_sources_version=False)`` (museval 0.4, ``museval/metrics.py``), i.e. what
``museval.evaluate`` computes in its default ``mode="v4"``: the BSSEval images decomposition
of Vincent, Gribonval and Fevotte (IEEE TASLP 14(4), 2006) with time-invariant distortion
filters estimated once on the whole track (Liutkus, Stoter and Ito, "The 2018 Signal
Separation Evaluation Campaign", LVA/ICA 2018), and the energy ratios taken frame by frame.

The same quantities as museval, computed differently:

* the lagged correlations that fill the Gram matrix ``G`` of the delayed references and the
  reference/estimate cross-correlations ``D`` come from block FFTs summed in the frequency
  domain (museval: one FFT of the whole track per channel pair);
* the systems ``(G + eps I) C = D`` (museval's regularisation) are solved once for all
  sources (museval: once per source) by a block Levinson recursion on the block Toeplitz
  ``G``, refined once if needed; if its residual is not at the level of a backward-stable dense
  solve, by LU of the dense ``G + eps I`` (museval's ``numpy.linalg.solve``), then least
  squares on ``G`` as museval falls back;
* the per-frame projections are products of frame spectra and filter spectra, one batched
  matrix product per frequency for all frames of a chunk and all sources, and their energies
  are taken by Parseval; the SDR, which with time-invariant filters does not depend on the
  filters, is taken in the time domain.

``filters="museval"`` takes museval's own ``G`` and solves its systems as it does (once for all
estimates), so that the filters are museval's bit for bit (:func:`_museval_filters`).

Edge rules, as museval:

* inputs are made 3-D with ``numpy.atleast_3d``; different shapes, more than 3 dimensions,
  more than :data:`MAX_SOURCES` sources, or a reference or estimate that is all zeros
  (channel sum zero at every sample) raise ``ValueError``; empty inputs give empty arrays;
* frames: ``floor((n - window + hop) / hop)`` frames starting at ``t * hop``, each
  ``window`` long (the partial frame at the end is dropped); one frame over the whole
  signal when ``window >= n`` (``window=numpy.inf`` allowed);
* a frame in which any reference or any estimate is silent (channel sum zero over the
  frame) is NaN for every source and metric;
* a ratio with a zero denominator is ``+inf``; a zero numerator ``-inf``.

One difference: where an estimate equals its reference in a frame, the SDR's error energy is
exactly zero here (``+inf``), whereas museval sums its decomposition's rounding errors and
reports a large finite value. The SDR does not depend on the filters and agrees with museval to
rounding. ISR, SIR and SAR agree to rounding where ``G`` is well conditioned; where it is
numerically singular (pure tones, band-limited stems) museval's own values depend on the
rounding of ``G`` and only ``filters="museval"`` reproduces them (parity tests:
``tests/test_bsseval.py``; figures in benchmarks/README.md). The torch twin is
:mod:`evaluators.bsseval_torch`.

Shapes: ``references`` and ``estimates`` are ``(sources, samples, channels)`` (or
``(sources, samples)``), any float dtype (computed in float64); results are
``(sources, frames)`` float64 arrays in dB.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.fftpack

MAX_SOURCES = 100
FILTERS_LEN = 512

__all__ = ["bss_eval", "MAX_SOURCES", "FILTERS_LEN", "frame_slices"]


def _channel_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=2)`` for ``(sources, samples, channels)``, added channel by channel (faster)."""
    if x.ndim != 3 or x.shape[2] < 2:
        return x.sum(axis=2)
    out = x[:, :, 0].copy()
    for ch in range(1, x.shape[2]):
        out += x[:, :, ch]
    return out


def _validate(references: np.ndarray, estimates: np.ndarray, ref_sum: np.ndarray, est_sum: np.ndarray) -> None:
    """museval's ``validate``; ``*_sum`` are the channel sums, (sources, samples)."""
    if references.shape != estimates.shape:
        raise ValueError(f"the shapes of estimates {estimates.shape} and references {references.shape} differ")
    if references.ndim > 3:
        raise ValueError(f"too many dimensions ({references.ndim}); expected (sources, samples, channels)")
    if references.size and np.any(~ref_sum.any(axis=1)):
        raise ValueError("a reference source is all zeros, which makes the evaluation ambiguous")
    if estimates.size and np.any(~est_sum.any(axis=1)):
        raise ValueError("an estimated source is all zeros, which makes the projection underdetermined")
    if references.shape[0] > MAX_SOURCES:
        raise ValueError(f"{references.shape[0]} sources, more than MAX_SOURCES={MAX_SOURCES}")


def _live_frames(ref_sum: np.ndarray, est_sum: np.ndarray, frames: list[slice]) -> np.ndarray:
    """Frames in which no reference and no estimate is silent (channel sum zero over the frame)."""
    return np.array([bool(np.all(np.any(ref_sum[:, w] != 0, axis=1)) and np.all(np.any(est_sum[:, w] != 0, axis=1)))
                     for w in frames], dtype=bool)


def frame_slices(window: float, hop: float, length: int) -> list[slice]:
    """museval's ``Framing``: the frames of a ``length``-sample signal, in samples."""
    nwin = int(np.floor((length - window + hop) / hop)) if window < length else 1
    out = []
    for t in range(nwin):
        start = t * hop
        if np.isnan(start) or np.isinf(start):
            start = 0
        stop = min(t * hop + window, length)
        if np.isnan(stop) or np.isinf(stop):
            stop = length
        out.append(slice(int(np.floor(start)), int(np.floor(stop))))
    return out


def _lag_correlations(x: np.ndarray, ys: tuple[np.ndarray, ...], lags: int, block_fft: int = 4096,
                      chunk: int = 32) -> np.ndarray:
    """``R[p, q, k] = sum_n x[p, n] * y[q, n + k]`` for ``k`` in ``[0, lags)``; x (P, n), y (Q, n)
    the rows of the arrays ``ys`` stacked (not copied).

    Blocks of ``B = block_fft - lags + 1`` samples of ``x`` against ``B + lags - 1`` samples of
    ``y`` (strided views of the inputs; only the last blocks are copied, zero-padded), summed
    over blocks in the frequency domain (one batched matrix product per chunk of blocks), then
    one inverse FFT per pair.
    """
    n = x.shape[1]
    nfft = max(block_fft, int(2 ** np.ceil(np.log2(2 * lags))))
    size = nfft - lags + 1
    nblocks = -(-n // size)
    inside = min(nblocks, max(0, (n - lags + 1) // size))  # blocks whose y-span ends inside the signal
    tail = nblocks - inside
    xt = np.zeros((x.shape[0], tail * size))
    xt[:, :n - inside * size] = x[:, inside * size:]
    nq = sum(y.shape[0] for y in ys)
    yt = np.zeros((nq, tail * size + lags - 1))
    yt[:, :n - inside * size] = np.concatenate([y[:, inside * size:] for y in ys])
    parts = [(x[:, :inside * size].reshape(x.shape[0], inside, size), [y[:, :inside * size + lags - 1] for y in ys]),
             (xt.reshape(x.shape[0], tail, size), [yt])]
    acc = np.zeros((nfft // 2 + 1, x.shape[0], nq), dtype=complex)
    for xblocks, ysigs in parts:
        if xblocks.shape[1] == 0:
            continue
        yblocks = [np.lib.stride_tricks.sliding_window_view(y, size + lags - 1, axis=-1)[:, ::size] for y in ysigs]
        for b0 in range(0, xblocks.shape[1], chunk):
            xf = scipy.fft.rfft(xblocks[:, b0:b0 + chunk], n=nfft, axis=-1)  # (P, blocks, F)
            yf = np.concatenate([scipy.fft.rfft(yb[:, b0:b0 + chunk], n=nfft, axis=-1) for yb in yblocks])
            xc = np.ascontiguousarray(xf.transpose(2, 0, 1))  # (F, P, blocks)
            np.conjugate(xc, out=xc)
            acc += np.matmul(xc, np.ascontiguousarray(yf.transpose(2, 1, 0)))  # (F, P, Q)
    return scipy.fft.irfft(acc, n=nfft, axis=0)[:lags].transpose(1, 2, 0)


def _gram(rr: np.ndarray, lags: int) -> np.ndarray:
    """The Gram matrix of the delayed reference channels, ordered (channel, lag) x (channel, lag).

    ``G[(p, a), (q, b)] = sum_n r_p[n - a] r_q[n - b]``, i.e. ``R[q, p, b - a]`` for ``b >= a``
    and ``R[p, q, a - b]`` otherwise (museval's ``_compute_reference_correlations`` reshaped
    by ``_reshape_G``).
    """
    m = rr.shape[0]
    # v[p, q, i] = G block (p, q) on diagonal b - a = i - (lags - 1): R[p, q, a - b] then R[q, p, b - a]
    v = np.concatenate([rr[:, :, :0:-1], rr.transpose(1, 0, 2)], axis=-1)
    windows = np.lib.stride_tricks.sliding_window_view(v, lags, axis=-1)  # [p, q, i, b] = v[p, q, i + b]
    g = np.empty((m, lags, m, lags))
    g[...] = windows[:, :, ::-1].transpose(0, 2, 1, 3)  # row a reads window lags - 1 - a
    return g.reshape(m * lags, m * lags)


def _block_levinson(m_blocks: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve ``T x = y`` for symmetric block Toeplitz ``T`` (block Levinson recursion).

    ``m_blocks`` (batch, p, m, m): ``T[a, b] = M[b - a]`` for ``b >= a`` and ``M[a - b]^T``
    otherwise; ``y`` (batch, p, m, r). Returns ``x`` (batch, p, m, r). ``O(p^2 m^3)`` work
    instead of the ``O(p^3 m^3)`` of a dense factorisation.
    """
    nb, p, m, _ = m_blocks.shape
    r = y.shape[-1]
    eye = np.eye(m)
    # rows of T against the first n blocks: [M_n^T ... M_1^T] and [M_1 ... M_n], as (m, n m)
    back = np.ascontiguousarray(m_blocks[:, :0:-1].transpose(0, 3, 1, 2)).reshape(nb, m, (p - 1) * m)
    fwd = np.ascontiguousarray(m_blocks[:, 1:].transpose(0, 2, 1, 3)).reshape(nb, m, (p - 1) * m)
    f = np.zeros((nb, p * m, m))
    b = np.zeros((nb, p * m, m))
    x = np.zeros((nb, p * m, r))
    inv0 = np.linalg.inv(m_blocks[:, 0])
    f[:, :m] = inv0
    b[:, :m] = inv0
    x[:, :m] = inv0 @ y[:, 0]
    for n in range(1, p):
        nm = n * m
        row_back = back[:, :, (p - 1 - n) * m:]
        e_f = row_back @ f[:, :nm]
        e_b = fwd[:, :, :nm] @ b[:, :nm]
        e_x = row_back @ x[:, :nm]
        alpha = np.linalg.inv(eye - e_b @ e_f)
        delta = np.linalg.inv(eye - e_f @ e_b)
        beta = -e_f @ alpha
        gamma = -e_b @ delta
        fn, bn = f[:, :nm].copy(), b[:, :nm]
        f[:, :nm] = fn @ alpha
        f[:, nm:nm + m] = 0.0
        f[:, m:nm + m] += bn @ beta
        b_new = np.zeros((nb, nm + m, m))
        b_new[:, :nm] = fn @ gamma
        b_new[:, m:] += bn @ delta
        b[:, :nm + m] = b_new
        x[:, :nm + m] += b_new @ (y[:, n] - e_x)
    return x.reshape(nb, p, m, r)


def _toeplitz_matvec(m_blocks: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``T x`` for the block Toeplitz ``T`` of :func:`_block_levinson`, by FFT over the lags."""
    nb, p, m, _ = m_blocks.shape
    nfft = scipy.fft.next_fast_len(2 * p)
    h = np.zeros((nb, nfft, m, m))
    h[:, :p] = m_blocks.transpose(0, 1, 3, 2)  # h[e] = M_e^T, e >= 0
    h[:, nfft - p + 1:] = m_blocks[:, :0:-1]  # h[-e] = M_e
    hf = scipy.fft.rfft(h, axis=1)
    xf = scipy.fft.rfft(x, n=nfft, axis=1)
    return scipy.fft.irfft(hf @ xf, n=nfft, axis=1)[:, :p]


def _solve_toeplitz(m_blocks: np.ndarray, y: np.ndarray, dense) -> np.ndarray:
    """Solve ``(T + eps I) x = y`` as museval's ``numpy.linalg.solve`` does, fast.

    Block Levinson, refined once only if its residual is not at the level of a backward-stable
    dense solve; if it still is not, the dense system (``dense()`` builds it) is solved by
    :func:`_solve` instead.
    """
    eps = np.finfo(float).eps
    mb = m_blocks.copy()
    mb[:, 0] += eps * np.eye(mb.shape[-1])
    scale_t = np.abs(mb).max()
    with np.errstate(all="ignore"):
        x = _block_levinson(mb, y)
        for refine in (False, True):
            res = y - _toeplitz_matvec(mb, x)
            scale = scale_t * np.abs(x).sum(axis=(1, 2), keepdims=True).max() + np.abs(y).max()
            if np.all(np.isfinite(x)) and np.abs(res).max() <= 1e-13 * scale:
                return x
            if not refine:
                x = x + _block_levinson(mb, res)
    return np.stack([_solve(g, yy.transpose(1, 0, 2).reshape(-1, yy.shape[-1]))
                     .reshape(yy.shape[1], yy.shape[0], yy.shape[2]).transpose(1, 0, 2)
                     for g, yy in zip(dense(), y)])


def _solve(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Solve ``(G + eps I) C = D`` as museval does: LU (``numpy.linalg.solve``), else lstsq on ``G``."""
    eps = np.finfo(float).eps
    try:
        return np.linalg.solve(g + eps * np.eye(g.shape[0]), d)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(g, d, rcond=None)[0]


def _distortion_filters(ref: np.ndarray, est: np.ndarray, nsrc: int, lags: int):
    """museval's C (each estimate on all references) and Cj (each estimate on its reference).

    ``ref``, ``est``: ``(sources * channels, samples)``, source-major. Returns ``c``
    (sources_est, sources, channels_in, lags, channels_out) and ``cj``
    (sources, channels_in, lags, channels_out).
    """
    nref = ref.shape[0]
    nchan = nref // nsrc
    corr = _lag_correlations(ref, (ref, est), lags)
    rr = corr[:, :nref]
    blocks = rr.transpose(2, 1, 0)  # M_k[p, q] = R[q, p, k]: G in (lag, channel) order
    rhs = corr[:, nref:].transpose(2, 0, 1)  # D[m, (s, cj), (j, c)] = sum_n ref_{s,cj}[n - m] est_{j,c}[n]
    x = _solve_toeplitz(blocks[None], rhs[None], lambda: [_gram(rr, lags)])[0]
    c = x.transpose(1, 0, 2).reshape(nsrc, nchan, lags, nsrc, nchan).transpose(3, 0, 1, 2, 4)
    own = [slice(j * nchan, (j + 1) * nchan) for j in range(nsrc)]
    xj = _solve_toeplitz(np.stack([blocks[:, s, s] for s in own]), np.stack([rhs[:, s, s] for s in own]),
                         lambda: [_gram(rr[s, s], lags) for s in own])
    cj = xj.transpose(0, 2, 1, 3)  # (source, channel in, lag, channel out)
    return c, cj


def _museval_filters(references: np.ndarray, estimates: np.ndarray, lags: int):
    """``c``, ``cj`` as :func:`_distortion_filters`, bit for bit museval's (``filters="museval"``).

    ``G`` and the reference spectra come from museval's own ``_compute_reference_correlations``;
    the cross-correlations ``D`` are computed as its ``_compute_projection_filters`` does, and the
    systems solved with its ``numpy.linalg.solve(G + eps I, D)`` (lstsq on ``G`` if singular), but
    once for all estimates instead of once per estimate (the LU factors do not depend on the
    right-hand sides; the solutions came out bitwise equal where compared, museval 0.4.1 with
    OpenBLAS). Costs the dense solve of museval: use where ``G`` is numerically singular.
    """
    from museval import metrics  # imports musdb/stempeg, which need ffmpeg at import time

    nsrc, nsampl, nchan = references.shape
    g, sf = metrics._compute_reference_correlations(references, lags)
    n_fft = int(2 ** np.ceil(np.log2(nsampl + lags - 1.0)))

    def cross(spectra, estimate):  # museval's D: (len(spectra) * nchan * lags, nchan)
        sef = scipy.fftpack.fft(metrics._zeropad(estimate.T, lags - 1, axis=1), n=n_fft)
        d = np.zeros((spectra.shape[0], nchan, lags, nchan))
        for j in range(spectra.shape[0]):
            for cj in range(nchan):
                for c in range(nchan):
                    ssef = np.real(scipy.fftpack.ifft(spectra[j, cj] * np.conj(sef[c])))
                    d[j, cj, :, c] = np.hstack((ssef[0], ssef[-1:-lags:-1]))
        return d.reshape(-1, nchan)

    def solve(gram, rhs):
        try:
            return np.linalg.solve(gram + np.finfo(float).eps * np.eye(gram.shape[-1]), rhs)
        except np.linalg.LinAlgError:
            return np.stack([np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(gram.reshape(-1, *gram.shape[-2:]),
                                                                                     rhs.reshape(-1, *rhs.shape[-2:]))
                             ]).reshape(rhs.shape)

    x = solve(metrics._reshape_G(g), np.concatenate([cross(sf, estimates[j]) for j in range(nsrc)], axis=1))
    c = x.reshape(nsrc, nchan, lags, nsrc, nchan).transpose(3, 0, 1, 2, 4)
    grams = np.stack([metrics._reshape_G(g[j, j][None, None]) for j in range(nsrc)])
    xj = solve(grams, np.stack([cross(sf[j][None], estimates[j]) for j in range(nsrc)]))
    return c, xj.reshape(nsrc, nchan, lags, nchan)


def _safe_db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, np.inf, 10 * np.log10(num / np.where(den == 0, 1.0, den)))


def _frames_view(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """``x[..., starts[i]:starts[i] + length]`` stacked on a new axis -2; a view when ``starts`` is evenly spaced."""
    win = np.lib.stride_tricks.sliding_window_view(x, length, axis=-1)
    step = np.diff(starts)
    if starts.size > 1 and np.all(step == step[0]) and step[0] > 0:
        return win[..., starts[0]:starts[-1] + 1:step[0], :]
    return win[..., starts, :]


def _filter_spectra(c: np.ndarray, cj: np.ndarray, nfft: int) -> np.ndarray:
    """``H (F, 2 sources channels, sources channels)``: rows ``(j, c)`` give ``P_all`` of estimate
    ``j``, output channel ``c`` (filters ``c``), then rows ``(j, c)`` of ``P_j`` (block diagonal,
    filters ``cj``); columns are the reference channels ``(k, ci)``."""
    nsrc, _, nchan, _, _ = c.shape
    m = nsrc * nchan
    taps = np.zeros((2, m, m, c.shape[3]))
    taps[0] = c.transpose(0, 4, 1, 2, 3).reshape(m, m, -1)  # [(j, c), (k, ci), lag]
    for j in range(nsrc):
        sl = slice(j * nchan, (j + 1) * nchan)
        taps[1, sl, sl] = cj[j].transpose(2, 0, 1)  # [c, ci, lag]
    spec = scipy.fft.rfft(taps.reshape(2 * m, m, -1), n=nfft, axis=-1)
    return np.ascontiguousarray(spec.transpose(2, 0, 1))


def _frame_energies(ref_sig, est_sig, h, starts, length, nfft, nsrc, chunk):
    """The energies museval's ``_bss_crit`` takes, (7, sources, frames), frames all ``length`` long.

    ``ref_sig``, ``est_sig``: ``(sources * channels, samples)``; ``h`` from :func:`_filter_spectra`.
    In order: ``|s|^2``, ``|e - s|^2``, ``|P_j - s|^2``, ``|P_j|^2``, ``|P_all - P_j|^2``,
    ``|P_all|^2``, ``|e - P_all|^2``, with ``s`` the reference, ``e`` the estimate, ``P_j`` its
    projection on the delayed reference and ``P_all`` on all delayed references (each over the
    frame's ``length + lags - 1`` samples of linear convolution, by Parseval on ``nfft`` points).
    """
    m = ref_sig.shape[0]
    weight = np.full(nfft // 2 + 1, 2.0)
    weight[0] = 1.0
    if nfft % 2 == 0:
        weight[-1] = 1.0
    root_w = np.sqrt(weight / nfft)[:, None, None]
    out = np.empty((7, nsrc, len(starts)))

    def energy(z):  # (F, m, T) complex -> (sources, T)
        zr = z.view(float).reshape(z.shape[0], -1)
        e = np.einsum("fi,fi->i", zr, zr).reshape(m, -1, 2).sum(axis=-1)
        return e.reshape(nsrc, -1, e.shape[-1]).sum(axis=1)

    for f0 in range(0, len(starts), chunk):
        st = np.asarray(starts[f0:f0 + chunk])
        rw = _frames_view(ref_sig, st, length)  # (m, T, length)
        ew = _frames_view(est_sig, st, length)
        sl = slice(f0, f0 + len(st))
        s_en = np.einsum("mtl,mtl->mt", rw, rw)
        err = ew - rw
        out[0, :, sl] = s_en.reshape(nsrc, -1, len(st)).sum(axis=1)
        out[1, :, sl] = np.einsum("mtl,mtl->mt", err, err).reshape(nsrc, -1, len(st)).sum(axis=1)
        xf = np.ascontiguousarray(scipy.fft.rfft(rw, n=nfft, axis=-1).transpose(2, 0, 1))  # (F, m, T)
        xf *= root_w
        proj = np.matmul(h, xf)  # (F, 2m, T)
        p_all, p_j = proj[:, :m], proj[:, m:]
        out[3, :, sl], out[5, :, sl] = energy(p_j), energy(p_all)
        out[2, :, sl] = energy(p_j - xf)
        out[4, :, sl] = energy(p_all - p_j)
        del xf
        ef = np.ascontiguousarray(scipy.fft.rfft(ew, n=nfft, axis=-1).transpose(2, 0, 1))
        ef *= root_w
        ef -= p_all
        out[6, :, sl] = energy(ef)
    return out


def bss_eval(references, estimates, window=2 * 44100, hop=1.5 * 44100, filters_len: int = FILTERS_LEN,
             frame_chunk: int = 8, filters: str = "fast"):
    """BSSEval v4 images metrics per source and frame, as museval's ``bss_eval``.

    Args:
        references: true sources, ``(sources, samples, channels)`` or ``(sources, samples)``.
        estimates: estimated sources, the same shape, in the same source order.
        window, hop: frame length and hop in samples (museval's defaults; ``numpy.inf`` for
            one frame over the whole signal).
        filters_len: taps of the distortion filters (512 in BSSEval).
        frame_chunk: frames processed together (memory only; the results do not depend on it).
        filters: ``"fast"`` (block FFT correlations, block Levinson) or ``"museval"``
            (:func:`_museval_filters`: museval's filters bit for bit, at the cost of its dense
            solve; where ``G`` is numerically singular, e.g. pure tones or band-limited stems,
            the only way to museval's ISR/SIR/SAR, which there depend on its rounding).

    Returns:
        ``(sdr, isr, sir, sar)``, each ``(sources, frames)`` float64 in dB, museval's order
        (``museval.metrics.bss_eval`` with ``compute_permutation=False`` returns these plus
        the identity permutation).
    """
    prepared = _prepare(references, estimates)
    if prepared is None:
        return tuple(np.array([]) for _ in range(4))
    references, estimates, live_of = prepared
    nsrc, nsampl, nchan = estimates.shape
    ref = np.ascontiguousarray(references.transpose(0, 2, 1)).reshape(nsrc * nchan, nsampl)
    est = np.ascontiguousarray(estimates.transpose(0, 2, 1)).reshape(nsrc * nchan, nsampl)
    if filters == "fast":
        c, cj = _distortion_filters(ref, est, nsrc, filters_len)
    elif filters == "museval":
        c, cj = _museval_filters(references, estimates, filters_len)
    else:
        raise ValueError(f"filters={filters!r}: expected 'fast' or 'museval'")

    def energies(starts, length, nfft):
        return _frame_energies(ref, est, _filter_spectra(c, cj, nfft), starts, length, nfft, nsrc, frame_chunk)

    return _framewise_scores(frame_slices(window, hop, nsampl), live_of, nsrc, filters_len, energies)


def _prepare(references, estimates):
    """Inputs as float64 ``(sources, samples, channels)``, validated as museval does, and
    ``live_of(frames)`` (:func:`_live_frames` on their channel sums); ``None`` when empty."""
    estimates = np.atleast_3d(np.asarray(estimates, dtype=float))
    references = np.atleast_3d(np.asarray(references, dtype=float))
    ref_sum, est_sum = _channel_sum(references), _channel_sum(estimates)
    _validate(references, estimates, ref_sum, est_sum)
    if references.size == 0:
        return None
    return references, estimates, lambda frames: _live_frames(ref_sum, est_sum, frames)


def _framewise_scores(frames: list[slice], live_of, nsrc: int, filters_len: int, energies) -> tuple:
    """``(sdr, isr, sir, sar)`` (sources, frames): NaN on silent frames, the rest from
    ``energies(starts, length, nfft)`` (the 7 energies of :func:`_frame_energies`, numpy) for
    each group of frames of one length."""
    result = np.full((4, nsrc, len(frames)), np.nan)
    live = live_of(frames)
    by_length: dict[int, list[int]] = {}
    for t, w in enumerate(frames):
        if live[t]:
            by_length.setdefault(w.stop - w.start, []).append(t)
    for length, ts in by_length.items():
        starts = np.array([frames[t].start for t in ts])
        nfft = scipy.fft.next_fast_len(length + filters_len - 1, real=True)
        s_energy, sdr_den, isr_den, p_j, interf, p_all, sar_den = energies(starts, length, nfft)
        result[0][:, ts] = _safe_db(s_energy, sdr_den)
        result[1][:, ts] = _safe_db(s_energy, isr_den)
        result[2][:, ts] = _safe_db(p_j, interf)
        result[3][:, ts] = _safe_db(p_all, sar_den)
    return result[0], result[1], result[2], result[3]
