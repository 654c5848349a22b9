"""The member models: shapes, reconstruction, learning, checkpoints, resume, separators."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from baselines.models.arunet import ARUNet, ARUNetConfig
from baselines.models.convtasnet import ConvTasNet, ConvTasNetConfig
from baselines.models.hf_checkpoint import load_pretrained, save_pretrained
from baselines.separators import ARUNetSeparator, ConvTasNetSeparator, WaveUNetSeparator
from baselines.inference import separate_chunked
from baselines.models.waveunet import WaveUNet, WaveUNetConfig
from baselines.training import TrainConfig, init_model, train_model
from baselines.training_data import SegmentSampler, holdout_songs, training_songs
from harness.errors import HarnessError
from harness.registry import build, spec
from harness.systems import INSTRUMENTS, RunContext
from tests.synthetic_cad2 import SyntheticCAD2

TINY = {
    "convtasnet": ConvTasNetConfig(N=16, L=8, B=8, H=16, P=3, X=2, R=1, samplerate=22050),
    "convtasnet_causal": ConvTasNetConfig(N=16, L=8, B=8, H=16, P=3, X=2, R=1, causal=True, norm_type="cLN", samplerate=22050),
    "waveunet": WaveUNetConfig(levels=3, base_channels=4, samplerate=22050),
    "arunet": ARUNetConfig(frame_length=32, filters=[4, 6, 8], max_res_path=2, samplerate=22050),
}
MODELS = {"convtasnet": ConvTasNet, "convtasnet_causal": ConvTasNet, "waveunet": WaveUNet, "arunet": ARUNet}


def tiny(kind: str) -> torch.nn.Module:
    return init_model(lambda: MODELS[kind](TINY[kind]), seed=0)


@pytest.fixture(scope="module")
def dataset():
    return SyntheticCAD2(instruments=("Violin", "Cello", "Flute"), songs=4, seconds=1.5, split="train")


def make_ctx(tmp_path: Path, train, valid=None, **fields) -> RunContext:
    return RunContext(exp_dir=tmp_path / "exp" / "system", cfg={}, dataset=lambda split: train if split == "train" else (valid or train),
                      **{"is_demo": True, **fields})


@pytest.mark.parametrize("kind", list(TINY))
@pytest.mark.parametrize("length", [777, 2048])
def test_model_shapes(kind, length):
    out = tiny(kind)(torch.randn(2, 2, length))
    assert out.shape == (2, 2, 2, length)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", ["waveunet", "arunet"])
def test_target_and_accompaniment_sum_to_mixture(kind):
    mixture = torch.randn(1, 2, 3000)
    out = tiny(kind)(mixture)
    torch.testing.assert_close(out.sum(dim=1), mixture, atol=1e-5, rtol=0)


def test_arunet_full_mask_reconstructs_the_mixture():
    model = tiny("arunet")
    torch.nn.init.zeros_(model.mask.weight)
    torch.nn.init.constant_(model.mask.bias, 50.0)  # sigmoid -> 1: the STDCT round trip alone
    mixture = torch.randn(1, 2, 2500)
    torch.testing.assert_close(model(mixture)[:, 0], mixture, atol=1e-5, rtol=0)


def test_causal_convtasnet_ignores_the_future():
    model = tiny("convtasnet_causal").eval()
    x = torch.randn(1, 2, 2000)
    y = x.clone()
    y[..., 1200:] = torch.randn(1, 2, 800)
    with torch.no_grad():
        a, b = model(x), model(y)
    cut = 1200 - model.cfg.L  # the frame that straddles the change may differ
    torch.testing.assert_close(a[..., :cut], b[..., :cut])
    assert not torch.allclose(a[..., 1300:], b[..., 1300:])


def test_official_configuration_size():
    cfg = ConvTasNetConfig.official()
    assert (cfg.N, cfg.L, cfg.B, cfg.H, cfg.P, cfg.X, cfg.R, cfg.C, cfg.audio_channels, cfg.norm_type) == (256, 20, 256, 512, 3, 10, 4, 2, 2, "gLN")
    assert ConvTasNetConfig.official(causal=True).norm_type == "cLN"
    model = ConvTasNet(cfg)
    assert sum(p.numel() for p in model.parameters()) == 10_846_800


@pytest.mark.parametrize("kind", list(TINY))
def test_loss_decreases_on_a_tiny_batch(kind, dataset):
    model = tiny(kind)
    sampler = SegmentSampler(dataset, training_songs(dataset, "Violin", 0.0), "Violin", 22050, 0.25)
    mixture, references = sampler.batch(np.random.default_rng(0), 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = (model(mixture) - references).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.85 * losses[0]


@pytest.mark.parametrize("kind", list(TINY))
def test_hf_layout_round_trip(kind, tmp_path):
    model = tiny(kind).eval()
    save_pretrained(model, tmp_path / kind, extra={"note": "ours"})
    config = json.loads((tmp_path / kind / "config.json").read_text())
    assert config["note"] == "ours" and (tmp_path / kind / "model.safetensors").is_file()
    loaded = load_pretrained(tmp_path / kind)
    assert type(loaded) is type(model)
    x = torch.randn(1, 2, 1500)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_official_convtasnet_checkpoint_loads(tmp_path):
    """A folder as the official `ConvTasNetStereo.save_pretrained` writes it (no
    "architecture" key) loads into our ConvTasNet with the same outputs."""
    official = pytest.importorskip("recipes.cad2.task2.ConvTasNet.local.tasnet")
    torch.manual_seed(0)
    reference = official.ConvTasNetStereo(N=16, L=20, B=8, H=16, P=3, X=2, R=2, C=2, audio_channels=2).eval()
    reference.save_pretrained(tmp_path / "ConvTasNet_Violin_NonCausal")
    assert "architecture" not in json.loads((tmp_path / "ConvTasNet_Violin_NonCausal" / "config.json").read_text())
    ours = load_pretrained(tmp_path / "ConvTasNet_Violin_NonCausal")
    x = torch.randn(1, 2, 20 + 10 * 150)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-4)


def test_load_rejects_mismatched_weights(tmp_path):
    save_pretrained(tiny("waveunet"), tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["levels"] = 2
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match="does not match"):
        load_pretrained(tmp_path / "m")


class Passthrough(torch.nn.Module):
    def forward(self, x):
        return torch.stack([x, 0.5 * x], dim=1)


@pytest.mark.parametrize("length", [100, 22050, 50_000])
def test_chunked_separation_is_seamless(length):
    x = torch.randn(2, length)
    out = separate_chunked(Passthrough(), x, 10_000, segment=0.6, overlap=0.1)
    torch.testing.assert_close(out[0], x)
    torch.testing.assert_close(out[1], 0.5 * x)


def test_training_resumes_to_the_same_weights(dataset, tmp_path):
    cfg = TrainConfig(steps=6, batch_size=2, segment_seconds=0.2, checkpoint_every=3)
    sampler = SegmentSampler(dataset, training_songs(dataset, "Violin", 0.0), "Violin", 22050, cfg.segment_seconds)
    straight = train_model(tiny("convtasnet"), sampler, cfg, tmp_path / "a", seed=1)
    train_model(tiny("convtasnet"), sampler, cfg, tmp_path / "b", seed=1, stop_after=3)
    assert not (tmp_path / "b" / "model.safetensors").exists()  # unfinished: only the training state
    resumed = train_model(tiny("convtasnet"), sampler, cfg, tmp_path / "b", seed=1)
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["trained_steps"] == 6


def test_holdout_is_stable_and_excluded(dataset):
    names = [f"song_{i}" for i in range(20)]
    held = holdout_songs(names, 0.15)
    assert len(held) == 3 and held == holdout_songs(list(reversed(names)), 0.15)
    songs = training_songs(dataset, "Violin", 0.5)
    assert not set(songs) & holdout_songs(dataset.songs, 0.5)


TINY_OPTIONS = {
    "convtasnet": {"model": {"N": 16, "L": 8, "B": 8, "H": 16, "X": 2, "R": 1}},
    "waveunet": {"model": {"levels": 3, "base_channels": 4}},
    "arunet": {"model": {"frame_length": 64, "filters": [4, 6, 8]}},
}
TINY_TRAIN = {"steps": 3, "batch_size": 2, "segment_seconds": 0.25, "checkpoint_every": 2}


@pytest.mark.parametrize("cls", [ConvTasNetSeparator, WaveUNetSeparator, ARUNetSeparator])
def test_separator_trains_prepares_and_separates(cls, dataset, tmp_path):
    options = {**TINY_OPTIONS[cls.name], "train": TINY_TRAIN, "segment": 0.5, "instruments": ["Violin", "Cello"]}
    separator = cls(options)
    ctx = make_ctx(tmp_path, dataset)
    separator.train(ctx)
    for instrument in ("Violin", "Cello"):
        assert (ctx.checkpoint_dir / cls.name / "demo" / instrument / "model.safetensors").is_file()
    separator.prepare(ctx)
    mixture = np.random.default_rng(0).standard_normal((30_001, 2)).astype(np.float32) * 0.1
    stems = separator.separate(mixture, ["Violin", "Cello", "Violin"])
    assert sorted(stems) == ["Cello", "Violin"]
    assert all(s.shape == mixture.shape and s.dtype == np.float32 for s in stems.values())
    np.testing.assert_allclose(stems["Violin"] + stems["Cello"], mixture, atol=1e-5)  # soft masks of the mixture
    with pytest.raises(KeyError, match="Flute"):
        separator.separate(mixture, ["Flute"])


def test_prepare_without_checkpoint_names_it(dataset, tmp_path):
    separator = WaveUNetSeparator({**TINY_OPTIONS["waveunet"], "train_if_missing": False, "instruments": ["Violin"]})
    with pytest.raises(FileNotFoundError, match="waveunet/demo/Violin"):
        separator.prepare(make_ctx(tmp_path, dataset))


def test_convtasnet_pretrained_dir(dataset, tmp_path):
    model = init_model(lambda: ConvTasNet(ConvTasNetConfig(N=16, L=20, B=8, H=16, X=2, R=1)), seed=3)
    save_pretrained(model, tmp_path / "hub" / "ConvTasNet_Violin_NonCausal")
    separator = ConvTasNetSeparator({"pretrained_dir": str(tmp_path / "hub"), "instruments": ["Violin"], "train_if_missing": False,
                                     "add_residual": 0.0, "mixture_consistency": False, "wiener": False, "segment": 100.0})
    separator.prepare(make_ctx(tmp_path, dataset))
    mixture = np.random.default_rng(1).standard_normal((20 + 10 * 400, 2)).astype(np.float32)
    scale = np.sqrt(np.mean(mixture**2)) + 1e-5
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(mixture.T[None] / scale))[0, 0].numpy().T * scale
    np.testing.assert_allclose(separator.separate(mixture, ["Violin"])["Violin"], expected, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="ConvTasNet_Violin_Causal"):
        ConvTasNetSeparator({"pretrained_dir": str(tmp_path / "hub"), "causal": True, "instruments": ["Violin"]}).prepare(make_ctx(tmp_path, dataset))


def test_registered_with_options():
    for name in ("convtasnet", "waveunet", "arunet"):
        assert spec(name).kind == "separator" and spec(name).provides(INSTRUMENTS)
    (separator,) = build("convtasnet", OmegaConf.create({"systems": {"convtasnet": {"causal": True}}}))
    assert separator.member_id == "convtasnet_causal" and separator.options["add_residual"] == 0.1
    with pytest.raises(HarnessError, match="unknown option"):
        ConvTasNetSeparator({"causl": True})


def test_pretrained_models_need_no_training_split(tmp_path):
    model = init_model(lambda: ConvTasNet(ConvTasNetConfig(N=16, L=20, B=8, H=16, X=2, R=1)), seed=4)
    save_pretrained(model, tmp_path / "hub" / "Cello")

    def no_data(split):
        raise FileNotFoundError("no data")

    ctx = RunContext(exp_dir=tmp_path / "exp" / "s", cfg={}, dataset=no_data)
    separator = ConvTasNetSeparator({"pretrained_dir": str(tmp_path / "hub"), "train_if_missing": False})
    separator.prepare(ctx)
    assert sorted(separator.models) == ["Cello"] and separator.preset == "full"


def test_mixture_consistency_makes_stems_sum_to_the_mixture(dataset, tmp_path):
    separator = WaveUNetSeparator({**TINY_OPTIONS["waveunet"], "instruments": ["Violin", "Cello"]})
    separator.prepare(make_ctx(tmp_path, dataset))
    song = next(s for s in dataset.songs.values() if {"Violin", "Cello"} <= {t.instrument for t in s.sources.values()})
    mixture = dataset.load_track(song.mixture)
    stems = separator.separate(mixture, ["Violin", "Cello"])
    np.testing.assert_allclose(stems["Violin"] + stems["Cello"], mixture, atol=1e-5)
