"""MSG: the generator, the discriminators, the losses on known inputs, the GAN loop and the `msg` system."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.gan_training import GANTrainConfig, train_gan
from baselines.models.discriminators import MSGDiscriminator, MultiPeriodDiscriminator
from baselines.models.hf_checkpoint import load_pretrained
from baselines.models.losses import (MSG_RESOLUTIONS, feature_matching_loss, lsgan_discriminator_loss,
                                     lsgan_generator_loss, multi_resolution_stft_loss,
                                     spectral_convergence_log_magnitude)
from baselines.models.msg import MSGConfig, MSGGenerator
from baselines.msg import MSGBundle, MSGEnhancer, PairSampler
from harness.errors import HarnessError
from harness.systems import RunContext

RATE = 44100
TINY = MSGConfig(sample_rate=16000, channels=4, depth=2, stride=4)


def outputs(*logits):
    """Discriminator outputs [(logits, [feature map])] from constant logits."""
    return [(torch.full((2, 5), float(v)), [torch.full((2, 3), float(v))]) for v in logits]


def test_lsgan_losses_on_known_inputs():
    perfect_real, perfect_fake = outputs(1.0, 1.0), outputs(0.0, 0.0)
    assert float(lsgan_discriminator_loss(perfect_real, perfect_fake)) == 0.0
    # fooled: real judged 0, fake judged 1: (0 - 1)^2 + 1^2 per discriminator, summed over two
    assert float(lsgan_discriminator_loss(perfect_fake, perfect_real)) == pytest.approx(4.0)
    assert float(lsgan_generator_loss(outputs(1.0, 1.0))) == 0.0
    assert float(lsgan_generator_loss(outputs(0.0, 0.5))) == pytest.approx(1.0 + 0.25)
    assert float(feature_matching_loss(outputs(1.0, 2.0), outputs(0.5, 2.0))) == pytest.approx(0.5)
    real = outputs(1.0)
    real[0][1][0].requires_grad_(True)
    fake = outputs(0.0)
    fake[0][1][0].requires_grad_(True)
    feature_matching_loss(real, fake).backward()
    assert real[0][1][0].grad is None and fake[0][1][0].grad is not None  # real features are targets


def test_multi_resolution_stft_loss_on_known_inputs():
    x = torch.randn(2, 1, 4000, generator=torch.Generator().manual_seed(0))
    assert float(multi_resolution_stft_loss(x, x)) == 0.0
    # twice the reference: spectral convergence 1 and log-magnitude log 2 at each of the 3 resolutions
    assert float(multi_resolution_stft_loss(2 * x, x)) == pytest.approx(3 * (1 + math.log(2)), rel=1e-3)
    magnitude = torch.rand(3, 7) + 0.5
    assert float(spectral_convergence_log_magnitude(magnitude, magnitude)) == 0.0
    assert [r[:2] for r in MSG_RESOLUTIONS] == [(512, 50), (1024, 120), (2048, 240)]
    assert [r[2] for r in MSG_RESOLUTIONS] == [240, 600, 1200]
    with pytest.raises(ValueError, match="shapes"):
        multi_resolution_stft_loss(x, x[..., :100])


def test_the_untrained_generator_returns_its_input():
    torch.manual_seed(0)
    for channels in (1, 2):
        generator = MSGGenerator(MSGConfig(sample_rate=16000, in_channels=channels, channels=4, depth=3, stride=4))
        for length in (1, 63, 64, 1001):
            x = torch.randn(3, channels, length)
            y = generator(x)
            assert y.shape == (3, 1, length) and torch.equal(y, x[:, :1])
    with pytest.raises(ValueError, match="in_channels"):
        MSGGenerator(MSGConfig(in_channels=3))
    with pytest.raises(ValueError, match="expected"):
        MSGGenerator(TINY)(torch.randn(1, 2, 100))


def test_msg_has_eight_discriminators_with_features():
    torch.manual_seed(0)
    audio = torch.randn(2, 1, 3000)
    outs = MSGDiscriminator(channels=4, max_channels=8, spectrogram_stride=(2, 2))(audio)
    assert len(outs) == 8  # 5 periods + 3 resolutions
    for logits, features in outs:
        assert logits.shape[0] == 2 and logits.ndim == 2 and len(features) >= 4
    period = MultiPeriodDiscriminator(channels=4, max_channels=8)
    assert [d.period for d in period.discriminators] == [2, 3, 5, 7, 11]
    assert len(period(torch.randn(1, 1, 10))) == 5  # shorter than a period fold still works


def pairs(seed: int = 0, seconds: float = 1.0):
    """(estimate, mixture, clean) triples at 16 kHz: the estimate is the clean tone plus a bleed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    out = []
    for f in (220.0, 330.0, 440.0):
        clean = np.sin(2 * np.pi * f * t)[:, None] * np.array([1.0, 0.5])
        bleed = 0.3 * np.sin(2 * np.pi * 3.1 * f * t)[:, None] * np.ones(2)
        noise = 0.05 * rng.standard_normal(clean.shape)
        out.append(((clean + bleed + noise).astype(np.float32), (clean + 2 * bleed).astype(np.float32), clean.astype(np.float32)))
    return out


def test_pair_sampler_batches():
    sampler = PairSampler(pairs(), 800, use_mixture=True)
    inputs, target = sampler.batch(np.random.default_rng(0), 5)
    assert inputs.shape == (5, 2, 800) and target.shape == (5, 1, 800)
    assert torch.allclose(inputs[:, 0].pow(2).mean(1), torch.ones(5), atol=1e-3)  # unit-RMS estimates
    again = sampler.batch(np.random.default_rng(0), 5)
    assert torch.equal(again[0], inputs)  # a batch is fixed by its generator
    assert PairSampler(pairs(), 800, use_mixture=False).batch(np.random.default_rng(0), 2)[0].shape == (2, 1, 800)
    with pytest.raises(HarnessError, match="no"):
        PairSampler([], 800, False)


def test_gan_training_resumes_to_the_same_weights_and_learns(tmp_path):
    cfg = GANTrainConfig(steps=6, batch_size=2, segment_seconds=0.05, lr=1e-3, lr_discriminator=1e-3,
                         adversarial_start=2, checkpoint_every=2)
    sampler = PairSampler(pairs(), 800, use_mixture=False)

    def fresh():
        torch.manual_seed(0)
        return MSGBundle(TINY, 4, 8, (2, 2))

    whole = train_gan(fresh(), sampler, cfg, tmp_path / "whole", seed=3)
    train_gan(fresh(), sampler, cfg, tmp_path / "resumed", seed=3, stop_after=3)
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed = train_gan(fresh(), sampler, cfg, tmp_path / "resumed", seed=3)
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    untrained = fresh()
    changed = [k for k, v in untrained.discriminator.state_dict().items() if not torch.equal(v, whole.discriminator.state_dict()[k])]
    assert changed  # the discriminators trained after adversarial_start
    loaded = load_pretrained(tmp_path / "whole")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), whole.generator.state_dict().values()))
    with pytest.raises(RuntimeError, match="other training options"):
        train_gan(fresh(), sampler, GANTrainConfig(**{**cfg.to_dict(), "steps": 8}), tmp_path / "resumed", seed=3)


def tone(seconds: float, freqs, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) * 0.1
    return np.stack([x, 0.5 * x], axis=1).astype(np.float32)


def perturbed_generator(in_channels: int = 1) -> MSGGenerator:
    torch.manual_seed(0)
    generator = MSGGenerator(MSGConfig(sample_rate=16000, in_channels=in_channels, channels=4, depth=2, stride=4))
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(0.3 * torch.randn_like(p))  # a generator whose correction is not zero
    return generator.eval()


def test_post_processor_preserves_length_rate_and_the_band_above_its_nyquist():
    x = tone(0.5, (300.0, 12000.0))
    mixture = 2 * x
    enhancer = MSGEnhancer().use(perturbed_generator())
    out = enhancer.post_process(x, RATE, source="Violin", mixture=mixture)
    assert out.shape == x.shape and out.dtype == np.float32 and not np.allclose(out, x)
    assert np.array_equal(enhancer.enhance(x, RATE), out)  # without use_mixture the mixture is not used
    spectrum = lambda s: np.abs(np.fft.rfft(s[:, 0]))  # noqa: E731
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    high = freqs > 8500
    assert np.allclose(spectrum(out)[high], spectrum(x)[high], rtol=0.02, atol=0.02 * spectrum(x)[high].max())
    silent = np.zeros((1000, 2), np.float32)
    assert np.array_equal(enhancer.post_process(silent, RATE, source="Violin", mixture=mixture[:1000]), silent)


def test_with_the_mixture_the_generator_sees_it():
    x = tone(0.3, (300.0,))
    enhancer = MSGEnhancer({"use_mixture": True}).use(perturbed_generator(in_channels=2))
    a = enhancer.post_process(x, RATE, source="Cello", mixture=x)
    b = enhancer.post_process(x, RATE, source="Cello", mixture=3 * x)
    assert a.shape == x.shape and not np.allclose(a, b)
    with pytest.raises(HarnessError, match="mixture"):
        enhancer.enhance(x, RATE)
    with pytest.raises(HarnessError, match="shape"):
        enhancer.post_process(x, RATE, source="Cello", mixture=x[:, :1])


def test_msg_needs_a_separator_and_checks_its_options(tmp_path):
    ctx = RunContext(exp_dir=tmp_path / "exp" / "msg", cfg={}, dataset=lambda split: None, is_demo=True)
    with pytest.raises(HarnessError, match="chain it after"):
        MSGEnhancer().prepare(ctx)
    with pytest.raises(HarnessError, match="msg"):
        MSGEnhancer({"mixture": True})
    with pytest.raises(ValueError, match="train_songs"):
        MSGEnhancer({"train_songs": "some"})
    with pytest.raises(ValueError, match="use_mixture"):
        MSGEnhancer({"model": {"in_channels": 2}})
