"""Vectorised Kates ear model and HAAQI feature stages (the ``fast`` HAAQI backend).

Same steps and constants as ``clarity.evaluator.haspi.eb.ear_model`` followed by the
``haaqi_v1`` feature stages, equal to rounding (HAAQI to ~1e-10, the contract is 1e-6);
what differs is how the work is organised:

* signal-independent coefficients (centre frequencies, loss parameters, NAL-R FIR, filter
  designs, windows, modulation filters) are computed once and cached;
* the per-sample recursions (middle-ear filters, gammatone carriers and IIRs, OHC gain
  low-pass, IHC adaptation) and the segment loops of ``env_smooth`` and ``bm_covary``
  run in numba (``_ear_kernels``), the reference and processed signals of a band side
  by side, the gammatone on 16 stretches of the signal at once (AVX-512 lanes, their
  outputs put back in signal order by 8 x 8 shuffle transposes, ``_simd``), the OHC
  gain low-pass on 8 stretches of each block plus a start-state correction, and the
  segment sums vectorised (bm_covary's lag search seven lags at a time). The IHC
  adaptation's 2 x 2 update runs in its eigenbasis (two decoupled first-order
  recursions, shorter dependency chains);
* log10/power(10, .) steps are natural log and exp, and the OHC compression (clamp, log,
  gain, exp, low-pass, scaling of the envelope and BM) is one kernel working 2048 samples
  at a time with ``_vecmath``'s vectorised ln/exp (numba's are scalar libm calls); the
  control path's envelopes are only logged and averaged, so they stay squared (no square
  roots); ``sl_ihc`` takes the envelope's log for the dB SL the same way, a block at a
  time;
* ``envelope_align`` computes only the +-100 ms of lags it searches (block FFTs)
  instead of a full-length correlation, which made upstream super-linear in the length;
  the blocks go 8 at a time through ``_batch_fft``, a radix-4 real FFT vectorised across
  blocks (~8 us a 16384-point row, pocketfft ~30), which sums their cross spectra lane
  by lane (an alignment at 10 s: 0.8 ms, with pocketfft 1.7);
* ``input_align``'s full-length correlation runs through numpy's FFT at the length
  scipy's ``correlate`` picks (the same transforms, so the same values) without
  fftconvolve's argument handling and copies; its shift and pruning, and NAL-R (a
  blocked numba FIR, ``fir_ahead``), write straight into the ear model's input rows;
* each band is finished (aligned, adapted, smoothed, covaried) as soon as it is computed,
  so no 32 x N matrices are kept. The group-delay correction needs the largest delay over
  bands first; only a few low bands can hold it (``_delay_candidates``), so just their
  control paths run up front, with a full search as a fallback;
* work whose result HAAQI never reads is skipped: the lag search of bm_covary tiles at or
  below the silence threshold, and the BM alignment and covariances of bands whose
  reference never exceeds it (ave_covary2 gives all of them zero weight); the test
  needs only the reference's segment levels (``segment_levels``); melcor9's
  cross-covariances only for the modulation filters and basis functions HAAQI sums;
* the gammatone group delays at DC repeat scipy's ``group_delay`` arithmetic without
  its per-call argument handling; melcor9's filter/basis convolutions are one batch of
  FFTs, and of ave_covary2 only the IHC-sync value HAAQI reads is computed;
* the multi-megabyte buffers (band rows, middle-ear output, gammatone lanes, aligner
  blocks, input_align's rows and spectra, noise rows) are a per-thread workspace kept
  between calls (``_workspace``), on transparent huge pages: fresh ones cost a page
  fault per 4 KB each call, and 4 KB pages a TLB miss per page touched.

The added threshold noise is drawn from the caller's generator in upstream order
(reference bands, processed bands, then melcor9's two zero-weighted draws, which a
``RandomState`` only skips past), so a ``RandomState`` seeded like ``np.random.seed``
reproduces pyclarity's draws; it is drawn a band at a time (``_BandNoise``), never as
one 2 x 32 x N array, by ``_legacy_normal`` (numba MT19937 and polar method, ~2 ns a
draw, ~0.7 ns a skipped one). Scores then match pyclarity's to rounding: fused
multiply-adds, reassociated sums, the gammatone lanes' carriers (started from cos/sin
rather than rotated from sample 0), the OHC low-pass's stretches, ln/exp for
log10/power (``_vecmath``'s within 1 ulp of numpy's), the NAL-R FIR's order of sums,
the IHC recursion's change of basis, the alignment correlation's FFTs (another size
and algorithm than scipy's: only a near-exact tie could move its argmax), melcor9's FFT
convolutions and the vectorised ``log`` in ``_legacy_normal``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
import threading

import numpy as np
from clarity.enhancer.nalr import NALR
from clarity.evaluator.haspi import eb
from clarity.utils.audiogram import Audiogram
from scipy.fft import next_fast_len
from scipy.signal import butter, correlate, firwin

from evaluators import _batch_fft
from evaluators import _ear_kernels as k
from evaluators import _legacy_normal as legacy_normal

logger = logging.getLogger(__name__)

NCHAN = 32
FS = 24000.0
EAR_Q = 9.26449
MIN_BW = 24.7
AUDIOGRAM_FREQUENCIES = (250, 500, 1000, 2000, 4000, 6000)


_WORKSPACE = threading.local()
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # linux/mman.h
# the aligner's 0.6 MB block rows gain as much as the 2 to 12 MB band rows (-3 % a call),
# at the cost of rounding each up to a 2 MiB page
_HUGE_PAGE_FROM = 256 << 10


@functools.lru_cache(maxsize=None)
def _madvise():
    """libc's madvise on Linux (None elsewhere or when it cannot be loaded)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    return madvise


def _huge_page_empty(size, dtype):
    """np.empty(size, dtype) laid on 2 MiB boundaries and advised as transparent huge
    pages where Linux offers them (``enabled`` = always or madvise), from 256 KiB up.
    The band kernels stream through some 30 MB of rows per band at 10 s; with 4 KB pages
    the TLB misses cost ~10 % of a call (numpy advises only allocations of 4 MiB and
    more, unaligned)."""
    nbytes = size * np.dtype(dtype).itemsize
    madvise = _madvise()
    if madvise is None or nbytes < _HUGE_PAGE_FROM:
        return np.empty(size, dtype)
    span = -(-nbytes // _HUGE_PAGE) * _HUGE_PAGE
    raw = np.empty(span + _HUGE_PAGE, np.uint8)
    start = -raw.ctypes.data % _HUGE_PAGE
    madvise(raw.ctypes.data + start, span, _MADV_HUGEPAGE)  # advice only: errors ignored
    return raw[start:start + nbytes].view(dtype)


def _workspace(name, shape, dtype=float):
    """A scratch array of `shape` (contents undefined), kept per thread from call
    to call: the pipeline's multi-megabyte buffers, fresh each call, cost a page fault
    per 4 KB touched (and are on huge pages, ``_huge_page_empty``). Each name's storage
    only grows (the longest signal scored in this thread), so callers must not hold an
    array past their call or use a name twice."""
    size = int(np.prod(shape))
    store = _WORKSPACE.__dict__
    flat = store.get(name)
    if flat is None or flat.shape[0] < size or flat.dtype != dtype:
        flat = store[name] = _huge_page_empty(size, dtype)
    return flat[:size].reshape(shape)


def release_workspace():
    """Free this thread's workspace (~210 MiB after a 30 s signal); the next call
    allocates it again."""
    _WORKSPACE.__dict__.clear()


@functools.lru_cache(maxsize=None)
def _channel_constants():
    center = eb.center_frequency(NCHAN)
    _, bandwidth_max, _, _, _ = eb.loss_parameters(np.full(6, 100), center)
    return center, bandwidth_max


@functools.lru_cache(maxsize=256)
def _loss(levels: tuple) -> tuple:
    center, _ = _channel_constants()
    return eb.loss_parameters(np.array(levels, dtype=float), center)


@functools.lru_cache(maxsize=256)
def _nalr_fir_reversed(levels: tuple) -> np.ndarray:
    """The NAL-R FIR for `levels`, reversed (contiguous) as ``fir_ahead`` takes it."""
    audiogram = Audiogram(levels=np.array(levels, dtype=float),
                          frequencies=np.array(AUDIOGRAM_FREQUENCIES))
    fir, _ = NALR(140, FS).build(audiogram)
    return np.ascontiguousarray(fir[::-1])


@functools.lru_cache(maxsize=None)
def _filters():
    """Middle-ear filters, OHC gain low-pass, windows and window correlations."""
    me_lp = butter(1, 5000 / (0.5 * FS))
    me_hp = butter(2, 350 / (0.5 * FS), "high")
    gain_lp = butter(1, 800 / (0.5 * FS))
    # env_smooth: 8 ms raised-cosine segments
    nsmooth = int(np.around(8 * (0.001 * FS)))
    nsmooth += nsmooth % 2
    smooth_win = np.hanning(nsmooth)
    smooth = (smooth_win, np.sum(smooth_win), np.sum(smooth_win[nsmooth // 2:]))
    # bm_covary: 16 ms segments, +-1 ms lags
    maxlag = int(np.around(1.0 * (0.001 * FS)))
    nwin = int(np.around(16 * (0.001 * FS)))
    nwin += nwin % 2 == 1
    window = np.hanning(nwin)
    half = window[nwin // 2:]
    win_corr = 1 / correlate(window, window, "full")[nwin - 1 - maxlag: maxlag + nwin]
    half_corr = 1 / correlate(half, half, "full")[len(half) - 1 - maxlag: maxlag + len(half)]
    covary = (window, win_corr, half_corr, 1.0 / np.sum(window**2), 1.0 / np.sum(half**2),
              maxlag)
    return me_lp, me_hp, gain_lp, smooth, covary


@functools.lru_cache(maxsize=None)
def _modulation_filters():
    """melcor9's 8 linear-phase modulation filters for the 250 Hz envelope rate."""
    edge = [4.0, 8.0, 12.5, 20.0, 32.0, 50.0, 80.0]
    nyquist = 0.5 * (1000.0 / (0.5 * 8))
    n_fir = int(2 * np.floor(np.around(128 * (nyquist / 125)) / 2))
    b = np.zeros((len(edge) + 1, n_fir + 1))
    b[0] = firwin(n_fir + 1, edge[0] / nyquist, window="hann", pass_zero="lowpass")
    b[-1] = firwin(n_fir + 1, edge[-1] / nyquist, window="hann", pass_zero="highpass")
    for m in range(1, len(edge)):
        b[m] = firwin(n_fir + 1, [edge[m - 1] / nyquist, edge[m] / nyquist], window="hann",
                      pass_zero="bandpass")
    nbasis = 6
    basis = np.cos(np.outer(np.arange(NCHAN), np.arange(nbasis)) * np.pi / (NCHAN - 1))
    return b, n_fir, basis / np.linalg.norm(basis, axis=0, keepdims=True)


def _gammatone_coefs(bandwidths, center_freq):
    """Rows (a1, a2, a3, a4, a5, gain) as in eb.gammatone_basilar_membrane, one per
    bandwidth (a row for a scalar). After numpy's exp the steps are Python float
    arithmetic (the same IEEE operations in the same order, so the same values) without
    numpy's per-call overhead on 2-element arrays (~5 ms a 10 s call)."""
    erb = MIN_BW + (float(center_freq) / EAR_Q)
    tpt = 2 * np.pi / FS
    a_all = np.exp(-(np.asarray(bandwidths, dtype=float) * tpt * erb * 1.019))
    rows = []
    for a in np.atleast_1d(a_all).tolist():
        a_1 = 4.0 * a
        a_2 = -6.0 * a * a
        a_3 = 4.0 * a * a * a
        a_4 = -a * a * a * a
        a_5 = 4.0 * a * a
        gain = 2.0 * (1 - a_1 - a_2 - a_3 - a_4) / (1 + a_1 + a_5)
        rows.append((a_1, a_2, a_3, a_4, a_5, gain))
    return np.array(rows).reshape(a_all.shape + (6,))


def _group_delay(bandwidth, center_freq):
    """Integer gammatone group delay at DC, as eb.group_delay_compensate."""
    erb = MIN_BW + (center_freq / EAR_Q)
    a = np.exp(-(2 * np.pi / FS * 1.019 * bandwidth * erb))
    b = np.array([1.0, 4.0 * a, 4.0 * a * a])
    den = np.array([1.0, -4.0 * a, 6.0 * a * a, -4.0 * a * a * a, a * a * a * a])
    # scipy.signal.group_delay at w = 0 step for step (there z = 1, so its polyvals are
    # running sums and numpy's complex division a product with 1 / den), without the
    # argument handling that cost ~0.2 ms a call
    c = np.convolve(b, den[::-1]).tolist()
    num = total = 0.0
    for i in range(len(c) - 1, -1, -1):
        num += c[i] * i
        total += c[i]
    return int(np.rint(num * (1.0 / total) - len(den) + 1))


def _bandwidth_adjust(control_rms, bandwidth_min, bandwidth_max, level1):
    control_db = 20 * np.log10(control_rms) + level1
    if control_db < 50:
        return bandwidth_min
    if control_db > 100:
        return bandwidth_max
    return bandwidth_min + ((control_db - 50) / 50) * (bandwidth_max - bandwidth_min)


class _Aligner:
    """eb.envelope_align's delay for a row pair: the argmax of the correlation over its
    +-lags window only.

    c(d) = sum_l reference[l] * output[l + d] for d in [-lags, lags - 1], by block FFTs:
    blocks of the reference against zero-padded stretches of the output, cross spectra
    summed over blocks. Search order and tie-breaking follow upstream (first maximum from
    d = lags - 1 down; with fewer than `lags` samples the window has 2 * npts - 1 lags).
    The blocks go through ``_batch_fft`` 8 at a time (one lane each, time-major), which
    adds their cross spectra per lane without writing the spectra out; the transform
    size is the power of two with the least work for the signal (``_size``). The batch
    buffers are kept for the next band and call (``_workspace``): fresh ones would
    page-fault every time.
    """

    def __init__(self, npts, lags):
        self.npts, self.lags = npts, lags
        self.size = size = self._size(npts, lags)
        self.block = size - 2 * lags + 1
        self.nblock = -(-npts // self.block)
        self.plan = _batch_fft.plan(size)
        rows = _batch_fft.ROWS
        self.reference = _workspace("align_reference", (size, rows))
        self.output = _workspace("align_output", (size, rows))
        self.acc = _workspace("align_lanes", (size // 2 + 1, 2 * rows))
        self.cross = _workspace("align_cross", (size // 2 + 1,), complex)

    @staticmethod
    def _size(npts, lags):
        """The power-of-two block transform size with the least work for the signal:
        batches of 8 blocks times size log size (a few points' worth per batch for the
        copies and the spectra's products)."""
        best = None
        for power in range(max(4, int(np.ceil(np.log2(2 * lags)))), 18):
            size = 1 << power
            block = size - 2 * lags + 1
            if block < 1:
                continue
            nblock = -(-npts // block)
            batches = -(-nblock // _batch_fft.ROWS)
            cost = batches * size * (power + 4)
            if best is None or cost < best[0]:
                best = (cost, size)
        return best[1]

    def delay(self, reference, output):
        lags, block, rows = self.lags, self.block, _batch_fft.ROWS
        radices, sizes, offsets, tw_re, tw_im, permutation, w_re, w_im = self.plan
        self.acc[:] = 0.0
        for first in range(0, self.nblock, rows):
            count = min(rows, self.nblock - first)
            _batch_fft.fill(reference, first * block, block, count, block, self.reference)
            _batch_fft.fill(output, first * block - lags, block, count, self.size,
                            self.output)
            _batch_fft.packed_fft(self.reference, radices, sizes, offsets, tw_re, tw_im)
            _batch_fft.packed_fft(self.output, radices, sizes, offsets, tw_re, tw_im)
            _batch_fft.add_cross_spectra(self.reference, self.output, permutation, w_re,
                                         w_im, self.acc)
        _batch_fft.lane_sums(self.acc, self.cross)
        corr = np.fft.irfft(self.cross, n=self.size)[: 2 * lags]  # corr[d + lags]
        window = corr[::-1][: min(2 * lags, 2 * self.npts - 1)]  # location 0 <-> d = lags - 1
        return lags - int(np.argmax(window)) - 1


def _input_align(reference, processed):
    """eb.input_align as (delay, first, last): the processed signal's shift (processed
    sample t + delay goes to t, zeros from outside the signal) and the reference's span
    without its leading and trailing near-zeros, applied by ``preprocess`` as it fills
    its rows (upstream's concatenations and index arrays cost page faults).

    The correlation is done as scipy's ``correlate`` does it (rfft of both at
    next_fast_len(2n - 1), product, irfft), but through numpy's FFT directly: the same
    transforms (pocketfft, same length), so the same values, without fftconvolve's
    argument handling and copies (-20 % at 10 s)."""
    n = len(reference)
    size = next_fast_len(2 * n - 1, real=True)
    rows = _workspace("input_align", (2, size))  # zero-padded, as rfft(x, size) pads
    np.subtract(reference, np.mean(reference), out=rows[0, :n])
    np.subtract(processed[::-1], np.mean(processed), out=rows[1, :n])
    rows[:, n:] = 0.0
    spectra = _workspace("input_align_spectra", (2, size // 2 + 1), complex)
    np.fft.rfft(rows, axis=-1, out=spectra)  # one call: fewer scratch allocations, faults
    spectrum = spectra[0]
    spectrum *= spectra[1]
    correlation = np.fft.irfft(spectrum, size, out=rows[0])[: 2 * n - 1]
    delay = n - int(np.argmax(np.abs(correlation, out=rows[1, : 2 * n - 1]))) - 1
    delay = int(np.rint(delay - 2 * FS / 1000.0))  # back up 2 ms for dispersion
    reference_abs = np.abs(reference, out=rows[0, :n])
    above = reference_abs > 0.001 * np.max(reference_abs)
    first, last = int(np.argmax(above)), n - 1 - int(np.argmax(above[::-1]))
    return delay, first, last


def _shifted(processed, start, out):
    """out[i] = processed[start + i], zero outside the signal."""
    lo, hi = min(max(-start, 0), len(out)), max(min(len(processed) - start, len(out)), 0)
    out[:lo] = 0.0
    out[lo:max(hi, lo)] = processed[start + lo:start + max(hi, lo)]
    out[max(hi, lo):] = 0.0


def preprocess(reference, reference_freq, processed, processed_freq, levels, itype):
    """Resample to 24 kHz, equalise lengths, align, and add NAL-R (itype 1), as upstream."""
    reference_24, _ = eb.resample_24khz(reference, reference_freq)
    processed_24, _ = eb.resample_24khz(processed, processed_freq)
    nmin = min(len(reference_24), len(processed_24))
    reference_24, processed_24 = reference_24[:nmin], processed_24[:nmin]
    delay, first, last = _input_align(reference_24, processed_24)
    nsamp = last + 1 - first
    rows = _workspace("ear_input", (2, nsamp))
    if itype == 1:  # np.convolve(reference, fir)[140: 140 + nsamp]
        k.fir_ahead(reference_24[first:last + 1], _nalr_fir_reversed(levels), rows[0])
    else:
        rows[0] = reference_24[first:last + 1]
    _shifted(processed_24, first + delay, rows[1])
    me_lp, me_hp, _, _, _ = _filters()
    return k.middle_ear(rows, *me_lp, *me_hp, _workspace("mid", (2, nsamp)))


@functools.lru_cache(maxsize=256)
def _delay_candidates(reference_levels: tuple) -> tuple:
    """Bands that can have the largest gammatone group delay, whatever the signal.

    A band's reference bandwidth lies between its loss bandwidth and the maximum one, so
    its integer group delay lies between the delays at those two bandwidths; only bands
    whose largest possible delay reaches every band's smallest one can set the maximum.
    """
    center, bandwidth_max = _channel_constants()
    bandwidth_min = _loss(reference_levels)[1]
    lowest = [_group_delay(bandwidth_max[n], center[n]) for n in range(NCHAN)]
    highest = [_group_delay(bandwidth_min[n], center[n]) for n in range(NCHAN)]
    return tuple(n for n in range(NCHAN) if highest[n] >= max(lowest))


_NO_BM = np.empty((0, 0))


class _BandNoise:
    """The threshold noise, (2, 32, npts) draws in upstream order (reference bands, then
    processed bands), handed out a band at a time, in band order.

    With a RandomState the draws are made as needed from two cursors (``_legacy_normal``
    streams, kept as MT words between bands), one at the start of the reference rows and
    one at the start of the processed rows (found by running the stream past the
    reference rows), so the 2 x 32 x npts array is never held; processed rows nobody
    needs are skipped without their values. ``finish`` leaves the generator where
    drawing the whole array would.
    """

    def __init__(self, rng, npts):
        self.rng, self.npts = rng, npts
        if not isinstance(rng, np.random.RandomState):
            self.all = rng.standard_normal((2, NCHAN, npts))
            return
        self.start = legacy_normal.Stream(rng)
        self.reference_row = _workspace("noise_reference", (npts,))
        self.processed_row = _workspace("noise_processed", (npts,))
        self._open()

    def _open(self):
        self.reference_stream = self.start.copy()
        self.processed_stream = self.start.copy()
        self.processed_stream.draw(NCHAN * self.npts, None)

    def reference(self, n):
        if not isinstance(self.rng, np.random.RandomState):
            return self.all[0, n]
        self.reference_stream.draw(self.npts, self.reference_row)
        return self.reference_row

    def processed(self, n, needed=True):
        """Band n's processed row (just skipped, returning None, unless `needed`)."""
        if not isinstance(self.rng, np.random.RandomState):
            return self.all[1, n]
        if not needed:
            self.processed_stream.draw(self.npts, None)
            return None
        self.processed_stream.draw(self.npts, self.processed_row)
        return self.processed_row

    def finish(self):
        if isinstance(self.rng, np.random.RandomState):
            self.processed_stream.store(self.rng)

    def rewind(self):
        if isinstance(self.rng, np.random.RandomState):
            self._open()


class _DelayBoundMissed(Exception):
    """A band's group delay exceeded the maximum assumed from the candidate bands."""


class Stages:
    """The band stages a backend may replace: envelope_align's lag search, env_smooth and
    bm_covary (numpy/numba here; ``haaqi_torch.TorchStages`` runs them in torch)."""

    def align_delay(self, reference, output, lags):
        """eb.envelope_align's delay of `output` relative to `reference` (+-lags)."""
        aligner = getattr(self, "_aligner", None)
        if aligner is None or (aligner.npts, aligner.lags) != (len(reference), lags):
            aligner = self._aligner = _Aligner(len(reference), lags)
        return aligner.delay(reference, output)

    def env_smooth(self, db):
        window, wsum, halfsum = _filters()[3]
        return k.env_smooth(db, window, wsum, halfsum)

    def reference_levels(self, reference_bm):
        """bm_covary's 2 x reference MS per segment, without the covariances."""
        window, _, _, win_sum2, half_sum2, _ = _filters()[4]
        return k.segment_levels(reference_bm, window, win_sum2, half_sum2)

    def bm_covary(self, reference_bm, processed_bm, threshold):
        """Cross-covariance and 2 x reference MS per segment; covariances of tiles at or
        below `threshold` (which ave_covary2 ignores) may be left at 0."""
        cov, ms = k.bm_covary(reference_bm[None], processed_bm[None], *_filters()[4],
                              threshold)
        return cov[0], ms[0]


def ear_features(reference, reference_freq, processed, processed_freq, levels, itype,
                 level1, rng, stages=None, silence_threshold=2.5):
    """Ear model plus the per-band reductions HAAQI needs.

    Returns (smooth (2, 32, nseg_env) dB SL envelopes at 250 Hz, cross-covariance and
    reference mean square (32, nseg_bm) from bm_covary, reference_sl, processed_sl).
    `stages` (default ``Stages()``) supplies the replaceable band stages;
    `silence_threshold` is ave_covary2's, used to skip covariances it will ignore.
    """
    stages = stages or Stages()
    levels = tuple(float(v) for v in levels)
    levels_x = tuple(0.0 for _ in levels) if itype == 0 else levels
    mid = preprocess(reference, reference_freq, processed, processed_freq, levels, itype)
    noise = _BandNoise(rng, mid.shape[1])
    filters = _Gammatone(mid)

    # The group-delay correction needs the largest delay over bands before any band can
    # be finished; only a few low bands can have it, so run their control paths first.
    center, bandwidth_max = _channel_constants()
    bandwidth_min_x = _loss(levels_x)[1]
    controls = {n: _control(filters, n, _workspace(f"control{n}", (2, filters.npts)))
                for n in _delay_candidates(levels_x)}
    max_delay = max(
        _group_delay(_bandwidth_adjust(rms[0], bandwidth_min_x[n], bandwidth_max[n], level1),
                     center[n])
        for n, (_, rms) in controls.items())
    try:
        return _bands(filters, levels, levels_x, level1, noise, max_delay, controls, stages,
                      silence_threshold)
    except _DelayBoundMissed:  # cannot happen while delays fall with bandwidth; be safe
        noise.rewind()
        max_delay = max(
            _group_delay(_bandwidth_adjust(_control(filters, n)[1][0], bandwidth_min_x[n],
                                           bandwidth_max[n], level1),
                         center[n])
            for n in range(NCHAN))
        return _bands(filters, levels, levels_x, level1, noise, max_delay, {}, stages,
                      silence_threshold)


@functools.lru_cache(maxsize=None)
def _lead_in():
    """The longest gammatone settle_length: lowest band, narrowest bandwidth (1)."""
    center, _ = _channel_constants()
    return k.settle_length(_gammatone_coefs(1.0, center[0])[0] / 4)


class _Gammatone:
    """The middle-ear output laid out once for the lane-parallel gammatone kernel."""

    def __init__(self, mid):
        self.npts = mid.shape[1]
        self.pad = _lead_in()
        span = -(-self.npts // k.LANES)
        self.lanes = k.lanes_input(mid, self.pad,
                                   _workspace("lanes", ((self.pad + span) * 2 * k.LANES,)))

    def __call__(self, n, bandwidths, env, bm=_NO_BM, squared=False):
        """Band n at (reference, processed) `bandwidths` into env (and bm; env squared if
        `squared`); returns the envelopes' mean squares."""
        center = _channel_constants()[0][n]
        return np.array(k.gammatone(self.lanes, self.pad, self.npts, 2 * np.pi / FS, center,
                                    _gammatone_coefs(bandwidths, center), env, bm, squared))


def _control(filters, n, out=None):
    """Control-path (widest filter) squared envelopes of both signals in band n (into
    `out`) and their RMS."""
    out = np.empty((2, filters.npts)) if out is None else out
    mean_square = filters(n, np.full(2, _channel_constants()[1][n]), out, squared=True)
    return out, np.sqrt(mean_square)


def _bands(filters, levels, levels_x, level1, noise, max_delay, controls, stages,
           silence_threshold):
    """The per-band ear model and reductions (see ear_features)."""
    center, bandwidth_max = _channel_constants()
    attn_ohc_y, bw_min_y, low_knee_y, cr_y, attn_ihc_y = _loss(levels)
    attn_ohc_x, bw_min_x, low_knee_x, cr_x, attn_ihc_x = _loss(levels_x)
    attn_ohc = np.array([attn_ohc_x, attn_ohc_y])
    low_knee = np.array([low_knee_x, low_knee_y])
    ratio = np.array([cr_x, cr_y])
    attn_ihc = np.array([attn_ihc_x, attn_ihc_y])
    gain_lp = _filters()[2]
    npts = filters.npts
    lags = min(int(np.rint(0.001 * 100 * FS)), npts)
    noise_gain = 10 ** ((-10 - level1) / 20)  # eb.basilar_membrane_add_noise
    # Buffers reused by every band (and call): fresh multi-megabyte arrays cost page
    # faults each time (gain's rows take the dB SL)
    control_buf, env, bm, gain = (_workspace(name, (2, npts))
                                  for name in ("control", "env", "bm", "gain"))
    bm_gain, reference_bm, processed_bm = (_workspace(name, (npts,))
                                           for name in ("bm_gain", "reference_bm",
                                                        "processed_bm"))
    average = np.empty((2, NCHAN))
    control_average = np.empty((2, NCHAN))
    smooth = []
    covariance = []
    mean_square = []
    for n in range(NCHAN):
        control, control_rms = (controls.pop(n) if n in controls
                                else _control(filters, n, control_buf))
        bandwidths = (_bandwidth_adjust(control_rms[0], bw_min_x[n], bandwidth_max[n], level1),
                      _bandwidth_adjust(control_rms[1], bw_min_y[n], bandwidth_max[n], level1))
        shift = max_delay - _group_delay(bandwidths[0], center[n])
        if shift < 0:
            raise _DelayBoundMissed
        average[:, n] = np.sqrt(filters(n, np.array(bandwidths), env, bm))
        control_average[:, n] = control_rms

        # OHC compression (eb.env_compress_basilar_membrane)
        k.compress(control, level1, low_knee[:, n], attn_ohc[:, n], ratio[:, n],
                   gain_lp[0][0], gain_lp[0][1], gain_lp[1][1], env, bm)

        # Processed envelope alignment, dB SL, IHC adaptation, group-delay correction
        env_delay = stages.align_delay(env[0], env[1], lags)
        db = gain
        k.sl_ihc(env, bm, level1 - attn_ihc[:, n], 2, FS, noise.reference(n), noise_gain, shift,
                 env_delay, db, reference_bm, bm_gain)
        smooth.append(stages.env_smooth(db))

        # Segment covariances, only where ave_covary2 will use them: a band whose
        # reference never exceeds the threshold needs neither the BM alignment nor them.
        ms = stages.reference_levels(reference_bm)
        cov = np.zeros_like(ms)
        audible = np.any(np.sqrt(ms) > silence_threshold)
        processed_noise = noise.processed(n, needed=audible)
        if audible:
            bm_delay = stages.align_delay(bm[0], bm[1], lags)
            k.processed_bm(bm[1], bm_gain, bm_delay, processed_noise, noise_gain, shift,
                           processed_bm)
            cov, ms = stages.bm_covary(reference_bm, processed_bm, silence_threshold)
        covariance.append(cov)
        mean_square.append(ms)
    noise.finish()

    reference_sl = eb.convert_rms_to_sl(average[0], control_average[0], attn_ohc_x, low_knee_x,
                                        cr_x, attn_ihc_x, level1)
    processed_sl = eb.convert_rms_to_sl(average[1], control_average[1], attn_ohc_y, low_knee_y,
                                        cr_y, attn_ihc_y, level1)
    return (np.stack(smooth, axis=1), np.array(covariance), np.array(mean_square),
            reference_sl, processed_sl)


def melcor9_high(reference, distorted, threshold, add_noise, rng):
    """eb.melcor9's ``mel_cepstral_high`` with its (zero-weighted) noise from `rng`."""
    b, n_fir, cepm = _modulation_filters()
    reference_sum = 20 * np.log10(np.sum(10 ** (reference / 20), 0) / reference.shape[0])
    index = np.where(reference_sum > threshold)[0]
    nsamp = index.shape[0]
    if nsamp <= 1:
        return 0.0
    reference = reference[:, index]
    distorted = distorted[:, index]
    reference += add_noise * _melcor9_noise(rng, reference.shape, add_noise)
    distorted += add_noise * _melcor9_noise(rng, distorted.shape, add_noise)
    reference_cep = np.dot(cepm.T, reference)
    distorted_cep = np.dot(cepm.T, distorted)
    reference_cep -= np.mean(reference_cep, axis=1, keepdims=True)
    distorted_cep -= np.mean(distorted_cep, axis=1, keepdims=True)
    # upstream's cross-covariance matrix, only the entries it sums (modulation filters
    # 4..7, basis functions 1..): 40 of its 96 convolutions
    cross = _melcor9_crosscov(b[4:8], nsamp, n_fir, reference_cep[1:], distorted_cep[1:])
    return np.sum(cross) / (4 * (cepm.shape[1] - 1))


def _melcor9_crosscov(b, nsamp, n_fir, reference_cep, processed_cep):
    """eb.melcor9_crosscovmatrix: every filter/basis convolution in one batch of FFTs
    (upstream's 2 x filters x basis direct convolutions cost ~50 us each), then the same
    normalised cross-covariances. `b` holds the modulation filters, (nmod, n_fir + 1) taps
    as ``_modulation_filters`` makes them; any other length is refused, since the FFT
    length and the crop below assume it."""
    b = np.atleast_2d(b)
    if b.shape[-1] != n_fir + 1:
        raise ValueError(f"modulation filters have {b.shape[-1]} taps, expected n_fir + 1 = {n_fir + 1}")
    size = next_fast_len(nsamp + n_fir, real=True)
    filters = np.fft.rfft(b, size)[:, None, None, :]  # (nmod, 1, 1, freq)
    signals = np.fft.rfft(np.stack([reference_cep, processed_cep]), size)  # (2, nbasis, freq)
    filtered = np.fft.irfft(filters * signals, size)[..., n_fir // 2: n_fir // 2 + nsamp]
    filtered -= np.mean(filtered, axis=-1, keepdims=True)
    reference, processed = filtered[:, 0], filtered[:, 1]  # (nmod, nbasis, nsamp)
    reference_sum = np.sum(reference**2, axis=-1)
    processed_sum = np.sum(processed**2, axis=-1)
    xy = np.sum(reference * processed, axis=-1)
    small = 1.0e-30
    valid = (reference_sum >= small) & (processed_sum >= small)
    cross = np.zeros_like(xy)
    cross[valid] = np.abs(xy[valid]) / np.sqrt(reference_sum[valid] * processed_sum[valid])
    return cross


def _melcor9_noise(rng, shape, add_noise):
    """melcor9's draws from `rng`; HAAQI weights them by add_noise = 0, so a RandomState
    is then only advanced past them (_legacy_normal.skip, ~10x cheaper than drawing)."""
    if add_noise == 0 and isinstance(rng, np.random.RandomState):
        legacy_normal.skip(rng, int(np.prod(shape)))
        return 0.0
    return rng.standard_normal(shape)


@functools.lru_cache(maxsize=None)
def _fsync5():
    """ave_covary2's IHC synchronisation weights per band (its steps) for its fifth
    low-pass (3.5 kHz, order 5), the only one HAAQI reads."""
    order = np.array([1, 3, 5, 5, 5, 5])
    cutoff = 1000 * np.array([1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    fc2p = np.atleast_2d(cutoff ** (2 * order)).repeat(NCHAN, axis=0).T
    freq2p = _channel_constants()[0] ** (2 * np.atleast_2d(order).repeat(NCHAN, axis=0).T)
    return np.sqrt(fc2p / (fc2p + freq2p))[4]


def ihc_sync5(covariance, mean_square, threshold):
    """eb.ave_covary2's ihc_sync_covariance[4] alone: the tiles' weighted mean without
    the six (6, 32, segments) weight tensors upstream builds."""
    signal_rms = np.sqrt(mean_square)
    reference_mean = 20 * np.log10(np.sum(10 ** (signal_rms / 20), 0) / NCHAN)
    index = np.flatnonzero(reference_mean > threshold)
    if index.size <= 1:
        logger.warning("Function AveCovary2: Ave signal below threshold, outputs set to 0.")
        return 0.0
    # a segment above threshold on average has a band above it: some weight is nonzero
    weight = np.where(signal_rms[:, index] > threshold, _fsync5()[:, None], 0.0)
    return np.sum(weight * covariance[:, index]) / np.sum(weight)
