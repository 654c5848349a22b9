"""The residual vector quantiser, the codec model, its token hooks, its training and the `codec` system."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.codec import CodecBundle, CodecEnhancer
from baselines.gan_training import GANTrainConfig, train_gan
from baselines.models.codec import Codec, CodecConfig
from baselines.models.hf_checkpoint import load_pretrained
from baselines.models.losses import multi_resolution_stft_loss
from baselines.models.rvq import ResidualVectorQuantizer, codebook_usage, kmeans, token_accuracy
from baselines.training_data import StemSampler
from evaluators.sdr import si_sdr
from harness.errors import HarnessError
from tests.synthetic_cad2 import SyntheticCAD2

RATE = 44100
TINY = CodecConfig(sample_rate=16000, channels=4, strides=[2, 4], dim=8, n_q=4, codebook_size=16, lstm_layers=0)


def latents(seed: int = 0, batch: int = 2, frames: int = 50, dim: int = 8) -> torch.Tensor:
    return torch.randn(batch, dim, frames, generator=torch.Generator().manual_seed(seed))


def test_rvq_encode_decode_shapes_and_consistency():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dim=8, n_q=4, codebook_size=16)
    z = latents()
    quantised, codes, commitment = rvq(z)  # training mode: k-means initialisation on this batch
    assert quantised.shape == z.shape and codes.shape == (2, 4, 50) and codes.dtype == torch.int64
    assert 0 <= int(codes.min()) and int(codes.max()) < 16 and float(commitment) >= 0
    rvq.eval()
    quantised, codes, _ = rvq(z)
    assert torch.equal(rvq.encode(z), codes)
    assert torch.allclose(rvq.decode(codes), quantised, atol=1e-6)  # the forward value is the decoded codes
    assert rvq.encode(z, 2).shape == (2, 2, 50)
    assert torch.equal(rvq.encode(z, 2), codes[:, :2])  # the first k codebooks do not depend on the later ones
    with pytest.raises(ValueError, match="codebooks"):
        rvq.encode(z, 5)


def test_rvq_more_codebooks_code_the_latent_better():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dim=8, n_q=4, codebook_size=16)
    z = latents(frames=200)
    rvq(z)  # initialise every codebook on z's residuals
    rvq.eval()
    errors = [float(torch.mean((rvq.decode(rvq.encode(z, k)) - z) ** 2)) for k in (1, 2, 3, 4)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.6 * errors[0]


def test_rvq_straight_through_gradient_is_the_identity():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dim=8, n_q=3, codebook_size=16)
    z = latents().requires_grad_(True)
    quantised, _, _ = rvq(z)
    weights = torch.randn_like(z)
    (quantised * weights).sum().backward()
    assert torch.allclose(z.grad, weights)
    z.grad = None
    _, _, commitment = rvq(z)
    commitment.backward()  # the commitment loss pulls z towards its codes
    assert float(z.grad.abs().sum()) > 0
    assert all(p.grad is None for p in rvq.parameters())  # codebooks are buffers, updated by EMA


def test_rvq_dropout_uses_fewer_codebooks_in_training_only():
    torch.manual_seed(1)
    rvq = ResidualVectorQuantizer(dim=8, n_q=4, codebook_size=16, dropout=1.0)
    counts = {rvq(latents(seed))[1].shape[1] for seed in range(12)}
    assert len(counts) > 1 and counts <= {1, 2, 3, 4}
    rvq.eval()
    assert rvq(latents())[1].shape[1] == 4


def test_kmeans_finds_separated_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    x = torch.cat([c + 0.1 * torch.randn(50, 2) for c in centres])
    found = kmeans(x, 3)
    distances = torch.cdist(centres, found).min(dim=1).values
    assert float(distances.max()) < 0.2


def test_token_accuracy_and_usage():
    codes = torch.randint(0, 16, (2, 4, 30), generator=torch.Generator().manual_seed(0))
    assert torch.equal(token_accuracy(codes, codes), torch.ones(4, dtype=torch.float64))
    other = codes.clone()
    other[:, 1, :15] = (other[:, 1, :15] + 1) % 16  # half of codebook 2's frames differ
    assert token_accuracy(other, codes).tolist() == [1.0, 0.5, 1.0, 1.0]
    usage = codebook_usage(codes, 16)
    assert usage.shape == (4, 16) and usage.sum(1).tolist() == [60] * 4
    assert int(usage[0, int(codes[0, 0, 0])]) >= 1
    with pytest.raises(ValueError):
        token_accuracy(codes, codes[:, :2])
    with pytest.raises(ValueError):
        codebook_usage(codes, 8)


@pytest.mark.parametrize("length", [1, 799, 800, 1234])
def test_codec_keeps_the_length_and_codes_frames(length):
    torch.manual_seed(0)
    codec = Codec(TINY).eval()
    audio = torch.randn(3, 1, length)
    out, codes, _ = codec(audio)
    assert out.shape == audio.shape
    assert codes.shape == (3, TINY.n_q, -(-length // TINY.hop))
    assert torch.equal(codec.encode(audio, 2), codes[:, :2])
    assert codec.decode(codec.encode(audio), length).shape == audio.shape
    assert TINY.bitrate() == 4 * 4 * 2000 and TINY.bitrate(1) == 4 * 2000
    with pytest.raises(ValueError, match="mono"):
        codec(torch.randn(1, 2, 100))


def tiny_training(steps: int) -> GANTrainConfig:
    return GANTrainConfig(steps=steps, batch_size=4, segment_seconds=0.25, lr=3e-3, adversarial=False,
                          waveform_weight=10.0, checkpoint_every=max(1, steps // 2))


def test_a_trained_codec_beats_a_random_one(tmp_path):
    train = SyntheticCAD2(songs=4, seconds=1.5, seed=0)
    test = SyntheticCAD2(songs=2, seconds=1.5, split="valid", seed=1)
    cfg = tiny_training(60)
    sampler = StemSampler(train, int(cfg.segment_seconds * TINY.sample_rate), rate=TINY.sample_rate)
    torch.manual_seed(0)
    random = CodecBundle(TINY, False, 8)
    torch.manual_seed(0)
    trained = train_gan(CodecBundle(TINY, False, 8), sampler, cfg, tmp_path, seed=0).generator
    clean = StemSampler(test, int(0.5 * TINY.sample_rate), rate=TINY.sample_rate).batch(np.random.default_rng(5), 8)
    clean = clean.reshape(-1, 1, clean.shape[-1])

    def scores(codec) -> tuple[float, float]:
        """(MR-STFT loss, mean SI-SDR in dB) of the round trip of the held-out clean stems."""
        codec.eval()
        with torch.no_grad():
            out = codec.decode(codec.encode(clean), clean.shape[-1])
        sdr = np.mean([si_sdr(o[0].numpy(), c[0].numpy()) for o, c in zip(out, clean)])
        return float(multi_resolution_stft_loss(out, clean)), float(sdr)

    random.generator(clean[:4])  # the untrained codec's codebooks initialised on real latents, for fairness
    (trained_loss, trained_sdr), (random_loss, random_sdr) = scores(trained), scores(random.generator)
    assert trained_loss < 0.9 * random_loss and trained_sdr > random_sdr + 10
    loaded = load_pretrained(tmp_path)
    assert scores(loaded) == pytest.approx((trained_loss, trained_sdr))


def test_codec_enhancer_preserves_length_rate_and_silence():
    torch.manual_seed(0)
    enhancer = CodecEnhancer({"codebooks": 2}).use(Codec(TINY).eval())
    x = np.random.default_rng(0).standard_normal((RATE // 3 + 7, 2)).astype(np.float32) * 0.1
    out = enhancer.enhance(x, RATE)
    assert out.shape == x.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert np.array_equal(enhancer.enhance(np.zeros((500, 2), np.float32), RATE), np.zeros((500, 2)))
    codes = enhancer.tokens(x, RATE)
    assert codes.shape == (2, 2, -(-(len(x) * 16000 // RATE) // TINY.hop))  # 2 channels x the first 2 codebooks
    assert enhancer.from_tokens(codes, len(x), RATE).shape == x.shape
    with pytest.raises(HarnessError, match="codec"):
        enhancer.enhance(np.full((100, 2), np.nan, np.float32), RATE)


def test_codec_options_are_checked():
    with pytest.raises(HarnessError, match="codec"):
        CodecEnhancer({"codebook": 2})
    with pytest.raises(ValueError, match="codebooks"):
        CodecEnhancer({"codebooks": 0})
    with pytest.raises(ValueError, match="codebooks=9"):
        CodecEnhancer({"codebooks": 9}).configs("demo")  # the demo codec has 8
    with pytest.raises(HarnessError, match="train"):
        CodecEnhancer({"train": {"stepz": 1}})
