"""Training losses of the generative models (Msanii's vocoder, the codec, MSG), in one place.

* :func:`spectral_convergence_log_magnitude`: ``||S - S^||_F / ||S||_F`` plus the mean L1 of
  the log magnitudes (Arik et al. 2019; Yamamoto et al., Parallel WaveGAN, ICASSP 2020, eqs.
  5-6), on magnitudes that are already computed (Msanii's vocoder).
* :func:`multi_resolution_stft_loss`: the same on the waveforms' |STFT| at several
  resolutions, summed over them, as seed 001 writes MSG's reconstruction loss
  (``L = sum_i L_sc^(i) + L_mag^(i)``; FFT 512/1024/2048, hop 50/120/240, window 240/600/1200,
  :data:`MSG_RESOLUTIONS`).
* Least-squares GAN (Mao et al. 2017) as MSG trains it (seed 001 eqs. 2 and 4):
  :func:`lsgan_discriminator_loss` ``sum_k E[(D_k(s) - 1)^2] + E[D_k(G(s^))^2]``,
  :func:`lsgan_generator_loss` ``sum_k E[(D_k(G(s^)) - 1)^2]`` (summed over the K
  discriminators, as HiFi-GAN sums them; the seed's 1/K is a constant factor).
* :func:`feature_matching_loss`: mean L1 between the discriminators' intermediate
  activations on real and generated audio (Kumar et al., MelGAN 2019), summed over layers and
  discriminators.

Shapes: waveforms ``(batch, channels, samples)``; a discriminator's output is a list of
``(logits, [feature maps])``, one per sub-discriminator.
"""

from __future__ import annotations

import torch

from baselines.models.spectral import stft

# (n_fft, hop, window length) of MSG's multi-resolution STFT loss (seed 001, section 3.2.2)
MSG_RESOLUTIONS = ((512, 50, 240), (1024, 120, 600), (2048, 240, 1200))


def spectral_convergence_log_magnitude(predicted: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spectral convergence ``||S - S^||_F / ||S||_F`` (over the whole batch) plus the mean L1
    of ``log(|.| + eps)``, weights 1 and 1, on magnitudes ``predicted`` and ``target`` (any
    equal shapes, linear, >= 0). 0 for identical magnitudes."""
    sc = torch.linalg.vector_norm(target - predicted) / torch.linalg.vector_norm(target).clamp_min(eps)
    lm = (torch.log(target + eps) - torch.log(predicted + eps)).abs().mean()
    return sc + lm


def padded_window(n_fft: int, length: int, device=None) -> torch.Tensor:
    """A periodic Hann window of `length` samples centred in `n_fft` zeros (``torch.stft``'s
    ``win_length`` convention)."""
    if not 0 < length <= n_fft:
        raise ValueError(f"window length must be in 1..n_fft ({n_fft}), not {length}")
    left = (n_fft - length) // 2
    return torch.nn.functional.pad(torch.hann_window(length, device=device), (left, n_fft - length - left))


def multi_resolution_stft_loss(estimate: torch.Tensor, reference: torch.Tensor,
                               resolutions=MSG_RESOLUTIONS, eps: float = 1e-6) -> torch.Tensor:
    """``sum_i`` :func:`spectral_convergence_log_magnitude` of the |STFT| of `estimate` and
    `reference` (``(..., samples)``) at each ``(n_fft, hop, window)`` of `resolutions`."""
    if estimate.shape != reference.shape:
        raise ValueError(f"shapes differ: estimate {tuple(estimate.shape)}, reference {tuple(reference.shape)}")
    total = estimate.new_zeros(())
    for n_fft, hop, length in resolutions:
        window = padded_window(int(n_fft), int(length), estimate.device)
        est = stft(estimate, int(n_fft), int(hop), window).abs()
        ref = stft(reference, int(n_fft), int(hop), window).abs()
        total = total + spectral_convergence_log_magnitude(est, ref, eps)
    return total


def lsgan_discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """``sum_k mean((D_k(real) - 1)^2) + mean(D_k(fake)^2)``; `real`/`fake` are the
    discriminators' outputs, lists of ``(logits, features)``."""
    return sum(torch.mean((r - 1) ** 2) + torch.mean(f ** 2) for (r, _), (f, _) in zip(real, fake))


def lsgan_generator_loss(fake: list) -> torch.Tensor:
    """``sum_k mean((D_k(fake) - 1)^2)``."""
    return sum(torch.mean((f - 1) ** 2) for f, _ in fake)


def feature_matching_loss(real: list, fake: list) -> torch.Tensor:
    """``sum_k sum_l mean|F_kl(real) - F_kl(fake)|``, real features detached."""
    return sum(torch.mean(torch.abs(r.detach() - f))
               for (_, real_maps), (_, fake_maps) in zip(real, fake) for r, f in zip(real_maps, fake_maps))
