"""Running a trained separation network: chunked, cross-faded inference over a long signal,
with a bounded number of torch CPU threads."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run a block with `count` torch CPU threads (None: leave the setting alone).

    When several processes share few cores (joblib workers, other jobs), OpenMP threads of
    different processes spin and wait on each other; one thread per process is the robust
    default (benchmarks/README.md has the measurement)."""
    if not count:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def separate_chunked(
    model: torch.nn.Module,
    mixture: torch.Tensor,
    sample_rate: int,
    segment: float = 6.0,
    overlap: float = 0.1,
    device: str = "cpu",
) -> torch.Tensor:
    """Apply `model` to a long (channels, time) mixture in segments of `segment` seconds that
    overlap by `overlap` seconds, cross-faded linearly (the weights of overlapping segments sum
    to one). `model` maps (1, channels, t) to (1, ..., t); returns its output without the
    batch dimension over the whole length, (sources, channels, time) for a separator, on the CPU."""
    torch.set_flush_denormal(True)
    channels, length = mixture.shape
    size = max(1, int(round(segment * sample_rate)))
    fade = min(int(round(overlap * sample_rate)), size // 2)
    out = None
    total = torch.zeros(length)
    start = 0
    with torch.no_grad():
        while True:
            end = min(start + size, length)
            chunk = mixture[:, start:end].unsqueeze(0).to(device)
            estimate = model(chunk)[0].float().cpu()  # (sources, channels, t)
            if out is None:
                out = torch.zeros(*estimate.shape[:-1], length)
            weight = torch.ones(end - start)
            if start > 0 and fade:
                ramp = torch.arange(1, fade + 1, dtype=torch.float32) / (fade + 1)
                weight[:fade] = ramp[: end - start]
            last = end >= length
            if not last and fade:
                weight[-fade:] = torch.minimum(weight[-fade:], torch.flip(torch.arange(1, fade + 1, dtype=torch.float32) / (fade + 1), [0]))
            out[..., start:end] += estimate * weight
            total[start:end] += weight
            if last:
                break
            start = end - fade
    return out / total.clamp_min(1e-8)
