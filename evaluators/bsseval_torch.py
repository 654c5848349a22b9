"""BSSEval v4 (SDR, ISR, SIR, SAR) in torch, float64, on a GPU when present.

The same computation as :mod:`evaluators.bsseval` (read its docstring for the method, the
edge rules and the one documented difference from museval), with torch tensors:

* lagged correlations by block FFTs summed in the frequency domain;
* the distortion filters from ``(G + eps I) C = D`` (museval's system): on a GPU by a dense
  LU solve (``torch.linalg.solve``, as museval's ``numpy.linalg.solve``) of all right-hand
  sides at once; on the CPU by the numpy block Levinson of :mod:`evaluators.bsseval` (its
  small products cost less in numpy than in torch), with its checks and dense fallback;
* the per-frame projections as one batched product per frequency, energies by Parseval.

Shapes and return values as :func:`evaluators.bsseval.bss_eval` (numpy arrays in, numpy
float64 arrays out). ``device``: ``None`` picks ``"cuda"`` when available, else ``"cpu"``.
Parity with museval: ``tests/test_bsseval_torch.py``; speed: ``benchmarks/bsseval_speed.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from evaluators.bsseval import FILTERS_LEN, _framewise_scores, _prepare, _solve_toeplitz, frame_slices

__all__ = ["bss_eval", "default_device"]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _lag_correlations(x: torch.Tensor, y: torch.Tensor, lags: int, block_fft: int = 4096,
                      chunk: int = 16) -> torch.Tensor:
    """``R[p, q, k] = sum_n x[p, n] y[q, n + k]``, ``k < lags``; as :func:`evaluators.bsseval._lag_correlations`."""
    n = x.shape[1]
    nfft = max(block_fft, int(2 ** np.ceil(np.log2(2 * lags))))
    size = nfft - lags + 1
    nblocks = -(-n // size)
    xp = torch.nn.functional.pad(x, (0, nblocks * size - n))
    yp = torch.nn.functional.pad(y, (0, nblocks * size + lags - 1 - n))
    xblocks = xp.reshape(x.shape[0], nblocks, size)
    yblocks = yp.unfold(-1, size + lags - 1, size)  # (Q, blocks, size + lags - 1), a view
    acc = torch.zeros((nfft // 2 + 1, x.shape[0], y.shape[0]), dtype=torch.complex128, device=x.device)
    for b0 in range(0, nblocks, chunk):
        b1 = min(nblocks, b0 + chunk)
        xf = torch.fft.rfft(xblocks[:, b0:b1], n=nfft, dim=-1)  # (P, blocks, F)
        yf = torch.fft.rfft(yblocks[:, b0:b1], n=nfft, dim=-1)  # (Q, blocks, F)
        acc += torch.matmul(xf.permute(2, 0, 1).conj(), yf.permute(2, 1, 0))
    return torch.fft.irfft(acc, n=nfft, dim=0)[:lags].permute(1, 2, 0)


def _dense_toeplitz(m_blocks: torch.Tensor) -> torch.Tensor:
    """The dense block Toeplitz ``T`` (batch, p m, p m): ``T[a, b] = M[b - a]`` (b >= a), ``M[a - b]^T`` else."""
    nb, p, m, _ = m_blocks.shape
    ext = torch.cat([m_blocks[:, 1:].flip(1).transpose(-1, -2), m_blocks], dim=1)  # ext[k + p - 1] = M[k]
    lag = torch.arange(p, device=m_blocks.device)
    idx = lag[None, :] - lag[:, None] + p - 1  # [a, b] -> b - a + p - 1
    return ext[:, idx].permute(0, 1, 3, 2, 4).reshape(nb, p * m, p * m)


def _solve(m_blocks: torch.Tensor, y: torch.Tensor, solver: str) -> torch.Tensor:
    """Solve ``(T + eps I) x = y``; ``m_blocks`` (batch, p, m, m), ``y`` (batch, p, m, r).

    ``"lu"``: dense LU (``torch.linalg.solve``) of all right-hand sides at once, on the tensors'
    device. ``"levinson"`` (CPU tensors only; the recursion's many small products cost less in
    numpy): block Levinson with its checks and fallback, :func:`evaluators.bsseval._solve_toeplitz`.
    """
    nb, p, m, _ = m_blocks.shape
    if solver == "levinson":
        def dense():  # (channel, lag) order, as evaluators.bsseval._gram
            return [d.reshape(p, m, p, m).permute(1, 0, 3, 2).reshape(p * m, p * m).numpy()
                    for d in _dense_toeplitz(m_blocks)]

        return torch.from_numpy(_solve_toeplitz(m_blocks.numpy(), y.numpy(), dense))
    eps = float(np.finfo(float).eps)
    a = _dense_toeplitz(m_blocks)
    a.diagonal(dim1=-2, dim2=-1).add_(eps)
    return torch.linalg.solve(a, y.reshape(nb, p * m, -1)).reshape(y.shape)


def _distortion_filters(ref: torch.Tensor, est: torch.Tensor, nsrc: int, lags: int, solver: str):
    """``c`` (sources_est, sources, channels_in, lags, channels_out), ``cj`` (sources, channels_in, lags,
    channels_out), as :func:`evaluators.bsseval._distortion_filters`."""
    nref = ref.shape[0]
    nchan = nref // nsrc
    corr = _lag_correlations(ref, torch.cat([ref, est]), lags)
    blocks = corr[:, :nref].permute(2, 1, 0)  # M_k[p, q] = R[q, p, k]
    rhs = corr[:, nref:].permute(2, 0, 1)
    x = _solve(blocks[None], rhs[None], solver)[0]
    c = x.permute(1, 0, 2).reshape(nsrc, nchan, lags, nsrc, nchan).permute(3, 0, 1, 2, 4)
    own = [slice(j * nchan, (j + 1) * nchan) for j in range(nsrc)]
    xj = _solve(torch.stack([blocks[:, s, s] for s in own]), torch.stack([rhs[:, s, s] for s in own]), solver)
    return c, xj.permute(0, 2, 1, 3)


def _filter_spectra(c: torch.Tensor, cj: torch.Tensor, nfft: int) -> torch.Tensor:
    """``H (F, 2 m, m)``: rows ``P_all`` then ``P_j`` per (estimate, output channel), as in numpy."""
    nsrc, _, nchan, lags, _ = c.shape
    m = nsrc * nchan
    taps = torch.zeros((2, m, m, lags), dtype=c.dtype, device=c.device)
    taps[0] = c.permute(0, 4, 1, 2, 3).reshape(m, m, lags)
    for j in range(nsrc):
        sl = slice(j * nchan, (j + 1) * nchan)
        taps[1, sl, sl] = cj[j].permute(2, 0, 1)
    return torch.fft.rfft(taps.reshape(2 * m, m, lags), n=nfft, dim=-1).permute(2, 0, 1).contiguous()


def _frames_view(x: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    """``x[:, starts[i]:starts[i] + length]`` stacked on axis 1; a view when ``starts`` is evenly spaced."""
    step = np.diff(starts)
    if starts.size > 1 and np.all(step == step[0]) and step[0] > 0:
        return x[:, int(starts[0]):].unfold(-1, length, int(step[0]))[:, :starts.size]
    idx = torch.as_tensor(starts, device=x.device)[:, None] + torch.arange(length, device=x.device)
    return x[:, idx]


def _frame_energies(ref, est, h, starts, length, nfft, nsrc, chunk):
    """The seven energies per source and frame, (7, sources, frames); see the numpy twin's contract."""
    m = ref.shape[0]
    weight = torch.full((nfft // 2 + 1,), 2.0, dtype=torch.float64, device=ref.device)
    weight[0] = 1.0
    if nfft % 2 == 0:
        weight[-1] = 1.0
    root_w = torch.sqrt(weight / nfft)[:, None, None]
    out = torch.empty((7, nsrc, len(starts)), dtype=torch.float64, device=ref.device)

    def energy(z):  # (F, m, T) complex -> (sources, T)
        e = torch.view_as_real(z).square().sum(dim=(0, 3))
        return e.reshape(nsrc, -1, e.shape[-1]).sum(dim=1)

    for f0 in range(0, len(starts), chunk):
        st = np.asarray(starts[f0:f0 + chunk])
        rw, ew = _frames_view(ref, st, length), _frames_view(est, st, length)  # (m, T, length)
        t = len(st)
        sl = slice(f0, f0 + t)
        out[0, :, sl] = rw.square().sum(-1).reshape(nsrc, -1, t).sum(1)
        out[1, :, sl] = (ew - rw).square().sum(-1).reshape(nsrc, -1, t).sum(1)
        xf = torch.fft.rfft(rw, n=nfft, dim=-1).permute(2, 0, 1) * root_w  # (F, m, T)
        proj = h @ xf
        p_all, p_j = proj[:, :m], proj[:, m:]
        out[3, :, sl], out[5, :, sl] = energy(p_j), energy(p_all)
        out[2, :, sl] = energy(p_j - xf)
        out[4, :, sl] = energy(p_all - p_j)
        del xf, p_j
        ef = torch.fft.rfft(ew, n=nfft, dim=-1).permute(2, 0, 1) * root_w
        out[6, :, sl] = energy(ef - p_all)
    return out


def bss_eval(references, estimates, window=2 * 44100, hop=1.5 * 44100, filters_len: int = FILTERS_LEN,
             device: str | None = None, frame_chunk: int | None = None, solver: str | None = None):
    """BSSEval v4 images metrics per source and frame, as museval's ``bss_eval``, in torch.

    Arguments and returns as :func:`evaluators.bsseval.bss_eval`; ``device`` a torch device
    name (``None``: :func:`default_device`); ``frame_chunk`` frames per batch (memory only;
    ``None``: 8 on the CPU, 64 on a GPU); ``solver`` for the distortion filters, ``"lu"`` or
    ``"levinson"`` (CPU only) (``None``: Levinson on the CPU, LU on a GPU).
    """
    prepared = _prepare(references, estimates)
    if prepared is None:
        return tuple(np.array([]) for _ in range(4))
    references, estimates, live_of = prepared
    dev = torch.device(device or default_device())
    chunk = frame_chunk or (8 if dev.type == "cpu" else 64)
    nsrc, nsampl, nchan = estimates.shape
    ref = torch.as_tensor(references.transpose(0, 2, 1).reshape(nsrc * nchan, nsampl), device=dev)
    est = torch.as_tensor(estimates.transpose(0, 2, 1).reshape(nsrc * nchan, nsampl), device=dev)
    solver = solver or ("levinson" if dev.type == "cpu" else "lu")
    if solver not in ("lu", "levinson") or (solver == "levinson" and dev.type != "cpu"):
        raise ValueError(f"solver {solver!r} on {dev.type}: expected 'lu', or 'levinson' on the CPU")
    c, cj = _distortion_filters(ref, est, nsrc, filters_len, solver)

    def energies(starts, length, nfft):
        h = _filter_spectra(c, cj, nfft)
        return _frame_energies(ref, est, h, starts, length, nfft, nsrc, chunk).cpu().numpy()

    return _framewise_scores(frame_slices(window, hop, nsampl), live_of, nsrc, filters_len, energies)
