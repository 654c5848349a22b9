"""HAAQI with its heavy band stages in torch (the ``torch`` HAAQI backend).

Coverage, stated plainly: the per-sample recursions of the ear model (gammatone IIRs,
OHC gain low-pass, IHC adaptation) and the resampling/NAL-R front end stay in numba/numpy
on the CPU, as in the ``fast`` backend; torch runs the stages that parallelise well:
envelope_align's lag search (block FFT correlation), env_smooth and bm_covary (segment
windows, means, energies and +-1 ms cross-correlations by batched FFT). They run on CUDA
when it is available, else on the CPU, always in float64, so the scores match pyclarity's
to rounding (the parity test uses the same 1e-6 tolerance as for ``fast``).

Use: ``evaluators.haaqi.haaqi_v1(..., stages=TorchStages(device))``, or ``compute_haaqi(...,
backend="torch")``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from evaluators import ear_model
from evaluators.device import resolve_device


class TorchStages(ear_model.Stages):
    """ear_model.Stages in torch float64 on `device`; numpy in, numpy out."""

    def __init__(self, device: torch.device | str | None = None):
        self.device = torch.device(resolve_device(device))

    def _tensor(self, array) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), dtype=torch.float64, device=self.device)

    @functools.cached_property
    def _windows(self):
        window, wsum, halfsum = ear_model._filters()[3]
        cov_window, win_corr, half_corr, win_sum2, half_sum2, maxlag = ear_model._filters()[4]
        return (self._tensor(window), wsum, halfsum, self._tensor(cov_window),
                self._tensor(win_corr), self._tensor(half_corr), win_sum2, half_sum2, maxlag)

    def align_delay(self, reference, output, lags):
        """Same search as ear_model._Aligner (block FFT cross-correlation)."""
        npts = len(reference)
        span = 2 * lags
        size = 16384 if npts > 16384 else 1 << int(np.ceil(np.log2(npts + span)))
        block = size - span + 1
        nblock = -(-npts // block)
        ref = torch.zeros(nblock * block, dtype=torch.float64, device=self.device)
        padded = torch.zeros((nblock - 1) * block + size, dtype=torch.float64,
                             device=self.device)
        ref[:npts] = self._tensor(reference)
        padded[lags:lags + npts] = self._tensor(output)
        ref_spec = torch.fft.rfft(ref.reshape(nblock, block), n=size, dim=-1)
        out_spec = torch.fft.rfft(padded.unfold(-1, size, block), dim=-1)
        corr = torch.fft.irfft((ref_spec.conj() * out_spec).sum(dim=0), n=size)[:span]
        window = corr.flip(-1)[: min(span, 2 * npts - 1)]
        # first maximum, as numpy.argmax
        location = int((window == window.max()).int().argmax())
        return lags - location - 1

    def env_smooth(self, db):
        """eb.env_smooth: 50 %-overlapped von Hann averages, half windows at the ends."""
        window, wsum, halfsum = self._windows[:3]
        x = self._tensor(db)
        nwin = window.shape[0]
        nhalf = nwin // 2
        npts = x.shape[-1]
        nseg = int(1 + np.floor(npts / nwin) + np.floor((npts - nwin / 2) / nwin))
        first = x[:, :nhalf] @ window[nhalf:] / halfsum
        middle = x.unfold(-1, nwin, nhalf)[:, 1:nseg - 1] @ window / wsum
        start = (nseg - 1) * nhalf
        last = x[:, start:start + nhalf] @ window[:nhalf] / halfsum
        return torch.cat([first[:, None], middle, last[:, None]], dim=1).cpu().numpy()

    def reference_levels(self, reference_bm):
        """bm_covary's 2 x reference MS per segment."""
        window, _, _, win_sum2, half_sum2, _ = ear_model._filters()[4]
        x = self._tensor(reference_bm)
        window = self._tensor(window)
        nwin = window.shape[0]
        nhalf = nwin // 2
        nseg = int(1 + np.floor(x.shape[-1] / nwin) + np.floor((x.shape[-1] - nwin / 2) / nwin))
        start = (nseg - 1) * nhalf
        parts = [(x[None, :nhalf], window[nhalf:], half_sum2),
                 (x.unfold(-1, nwin, nhalf)[1:nseg - 1], window, win_sum2),
                 (x[None, start:start + nhalf], window[:nhalf], half_sum2)]
        levels = []
        for segs, win, inv_sum2 in parts:
            a = segs * win
            a = a - a.mean(dim=1, keepdim=True)
            levels.append((a * a).sum(dim=1) * inv_sum2)
        return (2.0 * torch.cat(levels)).cpu().numpy()

    def bm_covary(self, reference_bm, processed_bm, threshold):
        """eb.bm_covary for one band: (cross-covariance in [0, 1], 2 x reference MS); all
        tiles are computed (`threshold` is not needed)."""
        (_, _, _, window, win_corr, half_corr, win_sum2, half_sum2,
         maxlag) = self._windows
        x = self._tensor(reference_bm)
        y = self._tensor(processed_bm)
        nwin = window.shape[0]
        nhalf = nwin // 2
        npts = x.shape[-1]
        nseg = int(1 + np.floor(npts / nwin) + np.floor((npts - nwin / 2) / nwin))
        start = (nseg - 1) * nhalf
        full = self._segments(x.unfold(-1, nwin, nhalf)[1:nseg - 1],
                              y.unfold(-1, nwin, nhalf)[1:nseg - 1],
                              window, win_corr, win_sum2, maxlag)
        first = self._segments(x[None, :nhalf], y[None, :nhalf], window[nhalf:], half_corr,
                               half_sum2, maxlag)
        last = self._segments(x[None, start:start + nhalf], y[None, start:start + nhalf],
                              window[:nhalf], half_corr, half_sum2, maxlag)
        cov, ms = (torch.cat([f, m, e]) for f, m, e in zip(first, full, last))
        return cov.clamp(0, 1).cpu().numpy(), (2.0 * ms).cpu().numpy()

    @staticmethod
    def _segments(x, y, window, inv_corr, inv_sum2, maxlag):
        """Windowed zero-mean segments: max |lag| <= maxlag normalised cross-covariance."""
        small = 1.0e-30
        a = x * window
        b = y * window
        a = a - a.mean(dim=1, keepdim=True)
        b = b - b.mean(dim=1, keepdim=True)
        ms_a = (a * a).sum(dim=1) * inv_sum2
        ms_b = (b * b).sum(dim=1) * inv_sum2
        size = 1 << int(np.ceil(np.log2(a.shape[1] + maxlag + 1)))
        corr = torch.fft.irfft(torch.fft.rfft(a, n=size) * torch.fft.rfft(b, n=size).conj(),
                               n=size)
        # lags -maxlag..maxlag = sum_i a[i] b[i - lag]
        lagged = torch.cat([corr[:, size - maxlag:], corr[:, :maxlag + 1]], dim=1)
        best = (lagged * inv_corr).abs().max(dim=1).values
        ok = (ms_a > small) & (ms_b > small)
        cov = torch.where(ok, best / torch.sqrt(ms_a * ms_b).clamp_min(small), 0.0)
        return cov, ms_a
