"""bilstm_mask (seed 002's CNN-BiLSTM mask separator): shapes, STFT round trip, masks in [0, 1],
training lowers the loss, checkpoints round-trip and resume, separation contract, post-processing
options, bad input as one-line errors. Tiny models, signals of a second or two."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from baselines.bilstm_mask import BiLSTMMaskSeparator, check_mixture, median_filter_mask
from baselines.bilstm_mask_model import BiLSTMMask, BiLSTMMaskConfig, spectrogram_mse
from baselines.models.hf_checkpoint import load_pretrained, save_pretrained
from baselines.training import TrainConfig, init_model, train_model
from baselines.training_data import SegmentSampler
from harness.data import MusicDataset, Song, Track
from harness.errors import HarnessError, InputError
from harness.registry import spec
from harness.systems import VOCALS, RunContext

RATE = 44100
TINY_MODEL = {"n_fft": 512, "hop": 128, "conv_channels": 2, "bottleneck": 8, "hidden_size": 8, "num_layers": 2}
TINY_TRAIN = {"steps": 4, "batch_size": 2, "segment_seconds": 0.3, "checkpoint_every": 2}
OPTIONS = {"preset": "demo", "model": TINY_MODEL, "train": TINY_TRAIN, "segment": 0.5, "overlap": 0.1}


def write_songs(root: Path, count: int = 3, seconds: float = 1.0) -> MusicDataset:
    """`count` songs: a centred vibrato tone with its harmonics (vocals) over panned noise
    bursts and a low tone (accompaniment), one FLAC per stem and the mixture."""
    songs = {}
    t = np.arange(int(seconds * RATE)) / RATE
    for i in range(count):
        rng = np.random.default_rng(i)
        f0 = 220 * 2 ** (i / 5) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        voice = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2 * (np.sin(2 * np.pi * 2 * t) > -0.3)
        stems = {"vocals": np.stack([voice, 0.9 * voice + 1e-3 * rng.standard_normal(t.size)], 1),
                 "drums": rng.standard_normal((t.size, 2)) * 0.05 * ((t * 4) % 1 < 0.1)[:, None] * [1.0, 0.3],
                 "bass": np.stack([0.2 * np.sin(2 * np.pi * 55 * t)] * 2, 1) * [0.4, 1.0],
                 "other": rng.standard_normal((t.size, 2)) * 0.01}
        folder = root / f"song{i}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, x in {**stems, "mixture": sum(stems.values())}.items():
            sf.write(folder / f"{name}.flac", x.astype(np.float32), RATE, subtype="PCM_24")
        songs[f"song{i}"] = Song(f"song{i}", Track("mixture", f"song{i}/mixture.flac"),
                                 {s: Track(s, f"song{i}/{s}.flac") for s in stems})
    return MusicDataset(root, songs, RATE, "train")


@pytest.fixture(scope="module")
def train_set(tmp_path_factory) -> MusicDataset:
    return write_songs(tmp_path_factory.mktemp("bilstm_songs"))


def tiny_model(**overrides) -> BiLSTMMask:
    cfg = BiLSTMMaskConfig.demo().with_overrides({**TINY_MODEL, **overrides}, "test")
    return init_model(lambda: BiLSTMMask(cfg), seed=0)


def make_ctx(tmp_path: Path, train: MusicDataset) -> RunContext:
    return RunContext(exp_dir=tmp_path / "exp" / "bilstm_mask", cfg={}, dataset=lambda split: train, is_demo=True)


@pytest.mark.parametrize("length", [100, 1000, 4321])
def test_shapes_and_mask_range(length):
    model = tiny_model().eval()
    x = torch.randn(3, 2, length)
    with torch.no_grad():
        out = model(x)
        spec = model.spectrum(torch.nn.functional.pad(x, (0, model.padded_length(length) - length)))
        mask = model.mask(spec)
    assert out.shape == (3, 2, 2, length) and torch.isfinite(out).all()
    assert spec.shape == (3, 2, 257, model.padded_length(length) // 128 + 1)  # centred frames
    assert mask.shape == spec.shape and (mask >= 0).all() and (mask <= 1).all()
    torch.testing.assert_close(out.sum(1), x, atol=1e-5, rtol=1e-5)  # vocals + accompaniment = mixture


def test_paper_sizes_and_axes_are_not_scrambled():
    full = BiLSTMMask(BiLSTMMaskConfig.full())
    assert (full.cfg.n_fft, full.cfg.hop, full.cfg.samplerate, full.cfg.hidden_size, full.cfg.num_layers,
            full.cfg.dropout) == (2048, 512, 44100, 128, 2, 0.3)
    assert full.net.lstm.bidirectional and full.net.head.out_features == 2 * 1025
    # one LSTM step per STFT frame (the listing's reshape without a permute mixed bins into time)
    model = tiny_model().eval()
    seen = []
    model.net.lstm.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape)))
    with torch.no_grad():
        mask = model.net(torch.rand(3, 2, 257, 12))
    assert seen == [(3, 12, 8)] and mask.shape == (3, 2, 257, 12)
    # examples of a batch do not see each other (eval mode)
    magnitude = torch.rand(2, 2, 257, 12)
    with torch.no_grad():
        a = model.net(magnitude)
        magnitude[1] = 0.5
        b = model.net(magnitude)
    torch.testing.assert_close(a[0], b[0])


def test_stft_round_trip():
    model = tiny_model()
    x = torch.randn(2, 2, 3000)
    spec = model.spectrum(x)
    torch.testing.assert_close(model.waveform(spec, 3000), x, atol=1e-5, rtol=1e-4)
    ones = torch.ones_like(spec.real)
    torch.testing.assert_close(model.waveform(ones * spec, 3000), x, atol=1e-5, rtol=1e-4)


def test_normalisation_keeps_the_scale():
    model = tiny_model().eval()
    x = torch.randn(1, 2, 2000)
    with torch.no_grad():
        torch.testing.assert_close(model(100 * x), 100 * model(x), atol=1e-3, rtol=1e-4)
    normalised, scale = model.normalise(torch.zeros(1, 2, 3, 4))
    assert torch.equal(scale, torch.ones(1, 1, 1, 1)) and not normalised.any()  # silence: no 0/0


def test_loss_decreases_on_a_tiny_batch():
    torch.manual_seed(0)
    model = tiny_model(dropout=0.0)
    x = torch.randn(2, 2, 2000)
    refs = torch.stack([0.5 * x, 0.5 * x], 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = spectrogram_mse(model, x, refs)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_checkpoint_round_trip_and_resume(tmp_path, train_set):
    cfg = TrainConfig.from_dict({**TINY_TRAIN, "steps": 4})
    sampler = SegmentSampler(train_set, sorted(train_set.songs), "vocals", RATE, cfg.segment_seconds)
    full = train_model(tiny_model(), sampler, cfg, tmp_path / "full", seed=3, loss_fn=spectrogram_mse)
    train_model(tiny_model(), sampler, cfg, tmp_path / "cut", seed=3, loss_fn=spectrogram_mse, stop_after=2)
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = train_model(tiny_model(), sampler, cfg, tmp_path / "cut", seed=3, loss_fn=spectrogram_mse)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)  # a resumed run reproduces the uninterrupted one
    loaded = load_pretrained(tmp_path / "full")
    assert isinstance(loaded, BiLSTMMask) and loaded.cfg == full.cfg
    x = torch.randn(1, 2, 1500)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), full.eval()(x))
    save_pretrained(loaded, tmp_path / "again")
    assert load_pretrained(tmp_path / "again").cfg == loaded.cfg


def test_registered_for_vocals():
    for name in ("bilstm_mask", "bilstm_mask_onnx", "bilstm_mask_int8"):
        assert spec(name).kind == "separator" and spec(name).provides(VOCALS)


def test_separator_trains_and_separates(tmp_path, train_set):
    sep = BiLSTMMaskSeparator(OPTIONS)
    ctx = make_ctx(tmp_path, train_set)
    sep.prepare(ctx)  # trains the missing model
    folder = ctx.checkpoint_dir / "bilstm_mask" / "demo"
    assert (folder / "model.safetensors").is_file()
    mixture = train_set.load_track(train_set.songs["song0"].mixture)
    stems = sep.separate(mixture, ["vocals", "accompaniment"])
    assert set(stems) == {"vocals", "accompaniment"}
    assert all(s.shape == mixture.shape and s.dtype == np.float32 for s in stems.values())
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], mixture, atol=1e-4)
    again = BiLSTMMaskSeparator({**OPTIONS, "train_if_missing": False})
    again.prepare(ctx)  # loads, does not train
    np.testing.assert_array_equal(again.separate(mixture, ["vocals"])["vocals"], stems["vocals"])
    assert again.identity == sep.identity
    # post-processing options change the output and keep its shape
    post = BiLSTMMaskSeparator({**OPTIONS, "median_filter": {"freq": 3, "time": 3}, "wiener_iterations": 2,
                                "compressor": {"threshold": -30, "ratio": 4, "attack": 5, "release": 50,
                                               "makeup_gain": 0}})
    post.prepare(ctx)
    processed = post.separate(mixture, ["vocals", "accompaniment"])
    assert processed["vocals"].shape == mixture.shape and np.isfinite(processed["vocals"]).all()
    assert not np.allclose(processed["vocals"], stems["vocals"])
    assert post.identity != sep.identity  # another option, another cache entry


def test_median_filter_of_the_mask():
    mask = torch.zeros(1, 1, 5, 5)
    mask[0, 0, 2, 2] = 1.0  # an isolated bin is removed by a 3 x 3 median
    assert not median_filter_mask(mask, 3, 3).any()
    assert torch.equal(median_filter_mask(mask, 1, 1), mask)
    assert median_filter_mask(mask, 1, 3)[0, 0, 2, 2] == 0 and median_filter_mask(torch.ones(1, 1, 5, 5), 3, 1).all()


def test_missing_model_without_training_names_the_folder(tmp_path, train_set):
    sep = BiLSTMMaskSeparator({**OPTIONS, "train_if_missing": False})
    with pytest.raises(FileNotFoundError, match="bilstm_mask/demo"):
        sep.prepare(make_ctx(tmp_path, train_set))


def test_bad_input_is_one_line(tmp_path, train_set):
    mono = np.full((RATE, 1), 0.1, np.float32)
    with pytest.raises(InputError, match=r"^system 'bilstm_mask' mixture: expected a stereo \(n, 2\) mixture, got shape \(44100, 1\)$"):
        check_mixture(mono, "system 'bilstm_mask' mixture")
    with pytest.raises(InputError, match="signal is silent"):
        check_mixture(np.zeros((RATE, 2), np.float32), "x")
    with pytest.raises(InputError, match="contains NaN"):
        check_mixture(np.full((RATE, 2), np.nan, np.float32), "x")
    sep = BiLSTMMaskSeparator(OPTIONS)
    sep.prepare(make_ctx(tmp_path, train_set))
    with pytest.raises(InputError, match="expected a stereo"):
        sep.separate(mono, ["vocals"])
    for name, signal, rate, message in (
        ("low.wav", np.full((22050, 2), 0.1), 22050, "sample rate is 22050 Hz, expected 44100 Hz"),
        ("mono.wav", np.full((RATE, 1), 0.1), RATE, "has 1 channels, expected 2"),
        ("silent.wav", np.zeros((RATE, 2)), RATE, "signal is silent (all samples are zero)"),
    ):
        path = tmp_path / name
        sf.write(path, signal.astype(np.float32), rate)
        with pytest.raises(InputError) as err:
            sep.separate_file(path)
        assert str(err.value) == f"{path}: {message}"
    with pytest.raises(KeyError, match="not \\['drums'\\]"):
        sep.separate(np.full((RATE, 2), 0.1, np.float32), ["drums"])


def test_option_errors():
    with pytest.raises(HarnessError, match="unknown option"):
        BiLSTMMaskSeparator({"wienr": 1})
    with pytest.raises(HarnessError, match="model: unknown option"):
        BiLSTMMaskSeparator({"model": {"hidden": 3}})
    with pytest.raises(HarnessError, match="median_filter sizes"):
        BiLSTMMaskSeparator({"median_filter": {"freq": 0, "time": 1}})
    with pytest.raises(HarnessError, match="compressor: unknown option"):
        BiLSTMMaskSeparator({"compressor": {"knee": 1}})
