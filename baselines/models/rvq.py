"""Residual vector quantisation (RVQ), as SoundStream and EnCodec quantise a codec's latent.

Zeghidour et al., "SoundStream" (IEEE/ACM TASLP 2021), algorithm 1; Défossez et al.,
"High Fidelity Neural Audio Compression" (EnCodec, 2022), section 3.2; the training tricks
seed 001 lists (section 2.2.3): codebooks initialised by k-means on the first batch, updated by
exponential moving averages (van den Oord et al. 2017, appendix), codes that fall out of use
replaced by vectors of the current batch, and quantiser dropout (a random number of
codebooks per training batch, so that the first k codebooks alone decode to a coarse version).

Each of the ``n_q`` quantisers codes what the previous ones left: ``r_0 = z``,
``q_i = Q_i(r_{i-1})``, ``r_i = r_{i-1} - q_i``, and the quantised latent is ``sum_i q_i``.
Gradients pass the quantiser unchanged (straight-through estimator: the output is
``z + sg(sum q_i - z)``, so ``d output / d z`` is the identity); the encoder is pulled
towards its codes by the commitment loss ``sum_i mean((r_{i-1} - sg(q_i))^2)``. The codebooks
get no gradient: in training mode each forward pass updates them by EMA.

Shapes: latents ``(batch, dim, frames)``; codes ``(batch, n_q, frames)`` int64 in
``0..codebook_size-1``. Randomness (k-means seeds, dead-code replacement, dropout) comes from
torch's global generator, which the training loops seed per step.
"""

from __future__ import annotations

import torch
from torch import nn


def _squared_distances(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, size) squared L2 distances of the rows of `x` (N, dim) to the codes (size, dim)."""
    return (x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.t() + codebook.pow(2).sum(1)[None]).clamp_min(0)


def kmeans(x: torch.Tensor, size: int, iterations: int = 10) -> torch.Tensor:
    """(size, dim) centroids of `x` (N, dim) by Lloyd's algorithm, seeded with `size` random
    rows (drawn with replacement when N < size); an empty cluster keeps its centroid."""
    picks = torch.randint(len(x), (size,), device=x.device) if len(x) < size else torch.randperm(len(x), device=x.device)[:size]
    centroids = x[picks].clone()
    for _ in range(iterations):
        assign = _squared_distances(x, centroids).argmin(1)
        counts = torch.bincount(assign, minlength=size).to(x.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


class VectorQuantizer(nn.Module):
    """One codebook of `size` codes of `dim` values with EMA updates (decay `decay`), k-means
    initialisation on the first training batch, and replacement of codes whose EMA usage
    count falls below `dead_threshold` by random vectors of the batch."""

    def __init__(self, dim: int, size: int, decay: float = 0.99, eps: float = 1e-5, dead_threshold: float = 2.0,
                 kmeans_iterations: int = 10):
        super().__init__()
        self.dim, self.size, self.decay, self.eps = int(dim), int(size), float(decay), float(eps)
        self.dead_threshold, self.kmeans_iterations = float(dead_threshold), int(kmeans_iterations)
        self.register_buffer("codebook", torch.randn(size, dim) * 0.1)
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest code of each row of `x` (N, dim): (N,) int64."""
        return _squared_distances(x, self.codebook).argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """The code vectors of `codes` (any shape) -> (*shape, dim)."""
        return self.codebook[codes]

    @torch.no_grad()
    def update(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step of the codebook towards the mean of the rows assigned to each code,
        then dead codes replaced by random rows of `x` (training only)."""
        if not bool(self.initialised):
            centroids = kmeans(x, self.size, self.kmeans_iterations)
            self.codebook.copy_(centroids)
            self.embed_sum.copy_(centroids)
            self.cluster_size.fill_(1.0)
            self.initialised.fill_(True)
            codes = self.indices(x)
        onehot = nn.functional.one_hot(codes, self.size).to(x.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.t() @ x, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.size * self.eps) * total  # Laplace smoothing
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.dead_threshold
        if bool(dead.any()):
            fresh = x[torch.randint(len(x), (int(dead.sum()),), device=x.device)]
            self.codebook[dead] = fresh
            self.embed_sum[dead] = fresh
            self.cluster_size[dead] = self.dead_threshold

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows `x` (N, dim) -> (their codes' vectors (N, dim), no gradient; codes (N,)). In
        training mode the codebook is updated from `x` first (EMA, k-means on the first call)."""
        flat = x.detach()
        codes = self.indices(flat)
        if self.training:
            self.update(flat, codes)
            codes = self.indices(flat)
        return self.lookup(codes), codes


class ResidualVectorQuantizer(nn.Module):
    """``n_q`` quantisers of ``codebook_size`` codes in series, each coding the residual of the
    ones before it. ``dropout``: the probability that a training batch is quantised with a
    random number of codebooks (1..n_q, uniform) instead of all of them."""

    def __init__(self, dim: int, n_q: int, codebook_size: int, decay: float = 0.99, dropout: float = 0.0,
                 dead_threshold: float = 2.0):
        super().__init__()
        if n_q < 1 or codebook_size < 2:
            raise ValueError(f"need n_q >= 1 and codebook_size >= 2, not {n_q} and {codebook_size}")
        self.dim, self.n_q, self.codebook_size, self.dropout = int(dim), int(n_q), int(codebook_size), float(dropout)
        self.layers = nn.ModuleList(VectorQuantizer(dim, codebook_size, decay, dead_threshold=dead_threshold)
                                    for _ in range(n_q))

    def _count(self, n_q: int | None) -> int:
        n = self.n_q if n_q is None else int(n_q)
        if not 1 <= n <= self.n_q:
            raise ValueError(f"number of codebooks must be in 1..{self.n_q}, not {n_q}")
        return n

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Latent ``z`` (batch, dim, frames) -> (quantised latent with straight-through gradient
        (batch, dim, frames), codes (batch, n, frames), commitment loss (scalar)), with the first
        ``n_q`` codebooks (all when None; a random count under quantiser dropout in training)."""
        n = self._count(n_q)
        if self.training and n_q is None and self.dropout > 0 and float(torch.rand(())) < self.dropout:
            n = int(torch.randint(1, self.n_q + 1, ()))
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(-1, d)
        quantised = torch.zeros_like(residual)
        codes, commitment = [], z.new_zeros(())
        for layer in self.layers[:n]:
            q, c = layer(residual)
            commitment = commitment + torch.mean((residual - q.detach()) ** 2)
            quantised = quantised + q
            residual = residual - q
            codes.append(c.reshape(b, t))
        quantised = quantised.reshape(b, t, d).permute(0, 2, 1)
        return z + (quantised - z).detach(), torch.stack(codes, 1), commitment

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (batch, n, frames) of the latent (batch, dim, frames); no codebook update."""
        n = self._count(n_q)
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(-1, d)
        codes = []
        for layer in self.layers[:n]:
            c = layer.indices(residual)
            residual = residual - layer.lookup(c)
            codes.append(c.reshape(b, t))
        return torch.stack(codes, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Quantised latent (batch, dim, frames) of codes (batch, n, frames), n <= n_q: the sum
        of the first n codebooks' vectors."""
        if codes.ndim != 3 or not 1 <= codes.shape[1] <= self.n_q:
            raise ValueError(f"codes must be (batch, 1..{self.n_q}, frames), not {tuple(codes.shape)}")
        out = sum(layer.lookup(codes[:, i]) for i, layer in enumerate(self.layers[: codes.shape[1]]))
        return out.permute(0, 2, 1)


def token_accuracy(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per codebook, the fraction of frames whose code in `estimate` equals the one in
    `reference` (both (..., n_q, frames), the same shape): (n_q,) in 0..1, the seed's
    per-RVQ-layer token accuracy (section 1.8)."""
    estimate, reference = torch.as_tensor(estimate), torch.as_tensor(reference)
    if estimate.shape != reference.shape or estimate.ndim < 2:
        raise ValueError(f"token shapes differ or lack (n_q, frames): {tuple(estimate.shape)} vs {tuple(reference.shape)}")
    same = (estimate == reference).transpose(0, -2).reshape(estimate.shape[-2], -1)
    return same.double().mean(1)


def codebook_usage(codes: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """(n_q, codebook_size) counts of each code per codebook in `codes` (..., n_q, frames)."""
    codes = torch.as_tensor(codes)
    flat = codes.transpose(0, -2).reshape(codes.shape[-2], -1)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= codebook_size):
        raise ValueError(f"codes outside 0..{codebook_size - 1}")
    return torch.stack([torch.bincount(row, minlength=int(codebook_size)) for row in flat])
