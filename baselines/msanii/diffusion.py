"""Msanii's diffusion utilities (seed 004, sections 2.2, 4.2.2, 5.2, 5.4): the cosine schedule,
``add_noise`` at any t, the DDIM sampler, SDEdit audio-to-audio and RePaint inpainting.

Conventions are those of the diffusers schedulers the seed used (``DDIMScheduler`` with
``beta_schedule="squaredcos_cap_v2"``, ``clip_sample=True``, ``set_alpha_to_one=True``):
timesteps 0..T-1, ``alpha_bar[t]`` the product of (1 - beta) up to and including t,
``x_t = sqrt(alpha_bar[t]) x_0 + sqrt(1 - alpha_bar[t]) eps`` (the seed's eqs. 6 and 17 print
alpha_t where alpha_bar_t is meant). A DDIM run of ``steps`` steps visits the timesteps
t, t - r, t - 2r, ... >= 0 with r = T // steps and ends at alpha_bar = 1.

Randomness: every draw takes a ``torch.Generator`` per sample (``per_sample_noise``), so a
sample's result depends on its own seed only, not on its batch-mates or the batch order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

T_TRAIN = 1000
Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # eps_theta(x_t, t)


def cosine_betas(steps: int = T_TRAIN, max_beta: float = 0.999, s: float = 0.008) -> torch.Tensor:
    """Betas of the cosine schedule (Nichol and Dhariwal 2021; diffusers ``squaredcos_cap_v2``):
    beta_t = min(1 - f(t + 1) / f(t), max_beta), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2)."""
    def f(t):
        return math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2

    return torch.tensor([min(1 - f(i + 1) / f(i), max_beta) for i in range(steps)], dtype=torch.float64)


class CosineSchedule:
    """alpha_bar over T timesteps (float64), with the forward process and the DDIM step."""

    def __init__(self, steps: int = T_TRAIN):
        self.T = int(steps)
        self.betas = cosine_betas(self.T)
        self.alpha_bar = torch.cumprod(1 - self.betas, dim=0)

    def alpha_bar_at(self, t) -> torch.Tensor:
        """alpha_bar at integer timesteps (tensor or int); -1 (before the first step) is 1."""
        t = torch.as_tensor(t, dtype=torch.long)
        return torch.where(t >= 0, self.alpha_bar[t.clamp_min(0)], torch.ones((), dtype=torch.float64))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        """x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise; `t` an int or one per sample."""
        a = _per_sample(self.alpha_bar_at(t), x0)
        return (a.sqrt() * x0 + (1 - a).sqrt() * noise).to(x0.dtype)

    def renoise(self, x_prev: torch.Tensor, t_prev: int, t: int, noise: torch.Tensor) -> torch.Tensor:
        """A draw of x_t given x_{t_prev} (t > t_prev): the forward process over those steps (RePaint's jump back)."""
        ratio = float(self.alpha_bar_at(t) / self.alpha_bar_at(t_prev))
        return (math.sqrt(ratio) * x_prev + math.sqrt(1 - ratio) * noise).to(x_prev.dtype)

    def ddim_timesteps(self, steps: int, start: int | None = None) -> list[int]:
        """t, t - r, ... >= 0 (r = T // steps) from `start` (None: the last multiple of r below T)."""
        if not 1 <= int(steps) <= self.T:
            raise ValueError(f"steps must be in 1..{self.T}, not {steps}")
        ratio = self.T // int(steps)
        start = (int(steps) - 1) * ratio if start is None else int(start)
        if not 0 <= start < self.T:
            raise ValueError(f"start timestep must be in 0..{self.T - 1}, not {start}")
        return list(range(start, -1, -ratio))

    def ddim_step(self, eps: torch.Tensor, x_t: torch.Tensor, t: int, t_prev: int, eta: float,
                  noise: torch.Tensor | None) -> torch.Tensor:
        """x_{t_prev} from x_t and the predicted noise (Song et al. 2021, eq. 12); x0 clipped to
        [-1, 1]. eta 0 is deterministic; eta 1 is DDPM's posterior variance."""
        a, a_prev = float(self.alpha_bar_at(t)), float(self.alpha_bar_at(t_prev))
        x0 = ((x_t - math.sqrt(1 - a) * eps) / math.sqrt(a)).clamp(-1, 1)
        eps = (x_t - math.sqrt(a) * x0) / math.sqrt(1 - a)  # consistent with the clipped x0, as diffusers
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        out = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            if noise is None:
                raise ValueError("eta > 0 needs noise")
            out = out + sigma * noise
        return out


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    values = values.to(like.device)
    if values.ndim == 0:
        return values
    return values.reshape(-1, *([1] * (like.ndim - 1)))


def per_sample_noise(shape: Sequence[int], generators: Sequence[torch.Generator]) -> torch.Tensor:
    """Standard normal noise (batch, *shape[1:]), sample i drawn from generators[i] (float32, CPU)."""
    if len(generators) != shape[0]:
        raise ValueError(f"{len(generators)} generators for a batch of {shape[0]}")
    return torch.stack([torch.randn(tuple(shape[1:]), generator=g) for g in generators])


def generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU torch.Generator per seed."""
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


@torch.no_grad()
def sdedit(model: Model, schedule: CosineSchedule, x0: torch.Tensor, strength: int, steps: int, eta: float,
           seeds: Sequence[int]) -> torch.Tensor:
    """Audio-to-audio (SDEdit, Meng et al. 2022; the seed's section 5.2): noise the scaled mel `x0`
    (batch, ch, mels, frames) to t = `strength` and run DDIM (`steps` over the full T, `eta`) back
    to 0, sample i's noise from seeds[i]."""
    gens = generators(seeds)
    ts = schedule.ddim_timesteps(steps, strength)
    x = schedule.add_noise(x0, per_sample_noise(x0.shape, gens).to(x0), ts[0])
    for t, t_prev in zip(ts, [*ts[1:], -1]):
        eps = model(x, torch.full((len(x),), t, dtype=torch.long, device=x.device))
        noise = per_sample_noise(x.shape, gens).to(x) if eta > 0 else None
        x = schedule.ddim_step(eps, x, t, t_prev, eta, noise)
    return x


def repaint_jumps(n_steps: int, jump_length: int, jump_n_sample: int) -> list[tuple[int, int]]:
    """RePaint's schedule (Lugmayr et al. 2022, ``get_schedule_jump``) over indices 0..n_steps-1 of a
    DDIM sub-schedule, as (from, to) index moves: to = from + 1 denoises one step, to < from
    re-noises (jumps back `jump_length` steps, `jump_n_sample` - 1 times per jump point)."""
    jumps = {j: jump_n_sample - 1 for j in range(0, n_steps - jump_length, jump_length)} if jump_length > 0 else {}
    moves, i = [], 0
    while i < n_steps:
        moves.append((i, i + 1))
        i += 1
        # index i is now reached (i steps done); a jump point sends us back
        back = n_steps - i
        if jumps.get(back, 0) > 0:
            jumps[back] -= 1
            moves.append((i, i - jump_length))
            i -= jump_length
    return moves


@torch.no_grad()
def repaint(model: Model, schedule: CosineSchedule, x0: torch.Tensor, known: torch.Tensor, strength: int, steps: int,
            eta: float, seeds: Sequence[int], jump_length: int = 10, jump_n_sample: int = 1) -> torch.Tensor:
    """Inpainting (RePaint, Lugmayr et al. 2022; the seed's section 5.4) on the DDIM sub-schedule
    from t = `strength`: after every step the `known` region (1 = keep, broadcastable to x0) is
    replaced by x0 noised to the new timestep, so the result equals x0 exactly there; the rest
    is generated. `jump_n_sample` > 1 resamples (jumps back `jump_length` steps and re-noises)."""
    gens = generators(seeds)
    ts = schedule.ddim_timesteps(steps, strength)
    levels = [*ts, -1]  # index k: timestep levels[k]; the last is x_0
    known = known.to(x0)
    x = schedule.add_noise(x0, per_sample_noise(x0.shape, gens).to(x0), ts[0])
    for k_from, k_to in repaint_jumps(len(ts), jump_length, max(1, int(jump_n_sample))):
        t, t_next = levels[k_from], levels[k_to]
        if k_to > k_from:
            eps = model(x, torch.full((len(x),), t, dtype=torch.long, device=x.device))
            noise = per_sample_noise(x.shape, gens).to(x) if eta > 0 else None
            unknown = schedule.ddim_step(eps, x, t, t_next, eta, noise)
            known_part = schedule.add_noise(x0, per_sample_noise(x0.shape, gens).to(x0), t_next) if t_next >= 0 else x0
            x = known * known_part + (1 - known) * unknown
        else:
            x = schedule.renoise(x, t, t_next, per_sample_noise(x.shape, gens).to(x))
    return x
