"""The attention U-Net masker of seed 000 (baselines.models.mask_unet): shapes, the loss terms
on known inputs, silence, and that training lowers the loss on a tiny batch."""

import numpy as np
import torch

from baselines.models.mask_unet import MaskLossWeights, MaskUNet, MaskUNetConfig, mask_loss_terms

TINY = MaskUNetConfig(n_fft=256, channels=[4, 4, 8, 8], heads=4, samplerate=16000)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return MaskUNet(TINY)


def test_shapes_and_attention():
    model = tiny_model()
    x = torch.randn(3, 5000)
    y = model(x)
    assert y.shape == x.shape
    spec, mask, est = model.spectra(x)
    assert mask.shape == spec.shape == est.shape == (3, 129, spec.shape[-1])
    assert float(mask.min()) >= 0 and float(mask.max()) <= 1
    positions = model.attention.shape[-1]
    assert model.attention.shape == (3, positions, positions)
    assert torch.allclose(model.attention.sum(-1), torch.ones(3, positions), atol=1e-5)


def test_loss_terms_known_inputs():
    ref = torch.rand(2, 129, 10) + 0.1
    terms = mask_loss_terms(ref, ref, 16000)
    for name in ("magnitude", "log_magnitude", "spectral_convergence", "total"):
        assert float(terms[name]) == 0.0
    zero = mask_loss_terms(torch.zeros_like(ref), ref, 16000, MaskLossWeights(speech_weight=1.0))
    assert abs(float(zero["spectral_convergence"]) - 1.0) < 1e-6  # ||ref|| / ||ref||
    assert abs(float(zero["magnitude"]) - float(ref.mean())) < 1e-6  # unweighted L1
    half = mask_loss_terms(ref / np.e, ref, 16000)
    assert abs(float(half["log_magnitude"]) - 1.0) < 1e-3  # |log(r/e) - log r| = 1 (up to the floor)
    w = MaskLossWeights()
    expected = w.magnitude * half["magnitude"] + w.log_magnitude * half["log_magnitude"] + w.spectral_convergence * half["spectral_convergence"]
    assert torch.allclose(half["total"], expected)


def test_silence_in_silence_out():
    model = tiny_model()
    y = model(torch.zeros(1, 4000))
    assert torch.isfinite(y).all() and float(y.abs().max()) == 0.0


def test_loss_decreases_on_tiny_batch():
    model = tiny_model()
    rng = np.random.default_rng(0)
    clean = torch.from_numpy(rng.standard_normal((2, 4000)).astype(np.float32)) * torch.sin(torch.linspace(0, 30, 4000)) ** 2
    noisy = clean + 0.5 * torch.from_numpy(rng.standard_normal((2, 4000)).astype(np.float32))
    target = model.stft(clean).abs()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        _, _, est = model.spectra(noisy)
        loss = mask_loss_terms(est, target, 16000)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0]
