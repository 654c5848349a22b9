"""`unet_mask`, seed 000's attention U-Net masker as an enhancer (baselines/unet_mask.py): the
seed's loss on training batches (known inputs), training lowers it, checkpoints round-trip and
resume, the enhancer keeps length, rate and shape, silence, bad input, and the chains it
joins (``<separator>+unet_mask`` masks the vocals only). The network itself is tested in
tests/test_mask_unet.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.models.hf_checkpoint import load_pretrained, save_pretrained
from baselines.models.mask_unet import MaskLossWeights, MaskUNet
from baselines.training import STATE_NAME
from baselines.training_data import SegmentSampler
from baselines.unet_mask import UNetMaskEnhancer, mask_loss
from harness.data import MusicDataset, Song, Track
from harness.errors import HarnessError, InputError
from harness.registry import build_chain, chain_kind, runs_on, spec
from harness.recipe import load_task_module
from harness.systems import RunContext

RATE = 16000
TINY = {"model": {"n_fft": 256, "channels": [4, 4, 8, 8]}, "model_sample_rate": 8000, "epochs": 2,
        "batches_per_epoch": 3, "warmup_epochs": 1, "patience": 0, "train": {"segment_seconds": 0.5}, "segment": 0.6,
        "overlap": 0.1}


def write_song(folder: Path, name: str, rng: np.random.Generator, seconds: float = 1.5) -> Song:
    import soundfile as sf

    t = np.arange(int(seconds * RATE)) / RATE
    f0 = rng.uniform(150, 300)
    voice = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * np.sin(2 * np.pi * 3 * t) ** 2
    vocals = 0.2 * np.stack([voice, voice], 1)
    accompaniment = 0.05 * rng.standard_normal((len(t), 2))
    for stem, audio in (("vocals", vocals), ("accompaniment", accompaniment), ("mixture", vocals + accompaniment)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        sf.write(folder / name / f"{stem}.wav", audio, RATE, subtype="FLOAT")
    track = lambda stem: Track(stem, f"{name}/{stem}.wav")  # noqa: E731
    return Song(name, track("mixture"), {s: track(s) for s in ("vocals", "accompaniment")})


@pytest.fixture(scope="module")
def train_set(tmp_path_factory) -> MusicDataset:
    folder = tmp_path_factory.mktemp("unet_mask") / "train"
    rng = np.random.default_rng(0)
    songs = {n: write_song(folder, n, rng) for n in ("a", "b")}
    return MusicDataset(folder, songs, RATE, "train")


def make_ctx(root: Path, train: MusicDataset) -> RunContext:
    return RunContext(exp_dir=root / "exp" / "unet_mask", cfg={}, dataset=lambda split: train, is_demo=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_set) -> tuple[UNetMaskEnhancer, RunContext]:
    ctx = make_ctx(tmp_path_factory.mktemp("trained"), train_set)
    enhancer = UNetMaskEnhancer(TINY)
    enhancer.prepare(ctx)  # trains the missing model
    return enhancer, ctx


def test_presets_follow_the_seed():
    enhancer = UNetMaskEnhancer()
    for preset in ("demo", "full"):
        cfg = enhancer.train_config(preset)
        assert (cfg.batch_size, cfg.steps_per_epoch, cfg.steps, cfg.warmup_steps) == (2, 32, 960, 160)
        assert cfg.optimizer == "adamw" and cfg.patience > 0
    assert enhancer.build_model("full").cfg.samplerate == 44100 and enhancer.build_model("full").cfg.heads == 4
    assert len(enhancer.build_model("demo").encoder) == 4 and len(enhancer.build_model("demo").decoder) == 4


def test_mask_loss_on_known_inputs(train_set):
    model = MaskUNet(UNetMaskEnhancer(TINY).build_model("demo").cfg)
    mixture = torch.randn(2, 2, 4000)
    references = torch.stack([mixture, torch.zeros_like(mixture)], 1)  # the vocals are the whole mixture
    model.mask = lambda magnitude: torch.ones_like(magnitude)
    assert float(mask_loss(model, mixture, references, MaskLossWeights())) == pytest.approx(0.0, abs=1e-6)
    model.mask = lambda magnitude: torch.full_like(magnitude, 0.5)
    flat = MaskLossWeights(magnitude=0.0, log_magnitude=0.0, spectral_convergence=1.0)
    assert float(mask_loss(model, mixture, references, flat)) == pytest.approx(0.5, abs=1e-5)  # ||S/2 - S|| / ||S||
    log_only = MaskLossWeights(magnitude=0.0, log_magnitude=1.0, spectral_convergence=0.0)
    assert float(mask_loss(model, mixture, references, log_only)) == pytest.approx(np.log(2), abs=2e-3)
    unweighted = MaskLossWeights(magnitude=1.0, log_magnitude=0.0, spectral_convergence=0.0, speech_weight=1.0)
    expected = 0.5 * float(model.stft(mixture.reshape(4, -1)).abs().mean())
    assert float(mask_loss(model, mixture, references, unweighted)) == pytest.approx(expected, rel=1e-5)


def test_loss_decreases_on_a_tiny_batch(train_set):
    enhancer = UNetMaskEnhancer(TINY)
    torch.manual_seed(0)
    model = enhancer.build_model("demo")
    sampler = SegmentSampler(train_set, ["a", "b"], "vocals", 8000, 0.5)
    mixture, references = sampler.batch(np.random.default_rng(1), 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = mask_loss(model, mixture, references, enhancer.loss_weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_training_writes_a_loadable_checkpoint(trained):
    enhancer, ctx = trained
    directory = enhancer.checkpoint_dir(ctx, "demo")
    assert (directory / "model.safetensors").is_file() and (directory / STATE_NAME).is_file()
    again = UNetMaskEnhancer(TINY)
    again.prepare(ctx)  # finished: loads, does not retrain
    for (name, a), (_, b) in zip(enhancer.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_checkpoint_round_trip(tmp_path, trained):
    enhancer, _ = trained
    save_pretrained(enhancer.model, tmp_path / "copy", extra={"trained_steps": 1})
    loaded = load_pretrained(tmp_path / "copy")
    assert isinstance(loaded, MaskUNet) and loaded.cfg == enhancer.model.cfg
    x = torch.randn(2, 3000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), enhancer.model(x))


def test_resumed_training_equals_uninterrupted(tmp_path, train_set):
    whole, parts = UNetMaskEnhancer(TINY), UNetMaskEnhancer(TINY)
    whole.train_model(make_ctx(tmp_path / "whole", train_set), "demo")
    ctx = make_ctx(tmp_path / "parts", train_set)
    parts.train_model(ctx, "demo", stop_after=3)
    assert not (parts.checkpoint_dir(ctx, "demo") / "model.safetensors").exists()
    parts.train_model(ctx, "demo")
    a = load_pretrained(whole.checkpoint_dir(make_ctx(tmp_path / "whole", train_set), "demo")).state_dict()
    b = load_pretrained(parts.checkpoint_dir(ctx, "demo")).state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)


@pytest.mark.parametrize("shape,rate", [((44100, 2), 44100), ((7001,), 22050), ((100, 1), 16000), ((12000, 2), 8000)])
def test_enhancer_keeps_length_rate_and_shape(trained, shape, rate):
    enhancer, _ = trained
    x = (0.1 * np.random.default_rng(2).standard_normal(shape)).astype(np.float32)
    y = enhancer.enhance(x, rate)
    assert y.shape == x.shape and y.dtype == x.dtype and np.isfinite(y).all()
    assert 0 < np.sqrt(np.mean(y**2)) <= 1.5 * np.sqrt(np.mean(x**2))  # a mask in 0..1 only removes energy


def test_silence_in_silence_out(trained):
    enhancer, _ = trained
    y = enhancer.enhance(np.zeros((20000, 2), np.float32), 44100)
    assert np.isfinite(y).all() and not np.any(y)


@pytest.mark.parametrize("signal,rate,problem", [
    (np.full((1000, 2), np.nan, np.float32), 44100, "NaN"),
    (np.zeros((0, 2), np.float32), 44100, "empty"),
    (np.zeros((2, 100, 2), np.float32), 44100, "shape"),
    (np.zeros((1000, 2), np.float32), 0, "sample rate"),
])
def test_bad_input_is_one_line(trained, signal, rate, problem):
    enhancer, _ = trained
    with pytest.raises(InputError, match=problem) as err:
        enhancer.enhance(signal, rate)
    assert "\n" not in str(err.value) and "unet_mask" in str(err.value)


def test_bad_options_are_one_line():
    with pytest.raises(HarnessError, match="unet_mask"):
        UNetMaskEnhancer({"chanels": [1]})
    with pytest.raises(ValueError, match="loss"):
        UNetMaskEnhancer({"loss": {"spectral": 1.0}})


def test_missing_model_without_training_names_the_folder(tmp_path, train_set):
    enhancer = UNetMaskEnhancer({**TINY, "train_if_missing": False})
    with pytest.raises(FileNotFoundError, match="unet_mask"):
        enhancer.prepare(make_ctx(tmp_path, train_set))


def test_chains_and_vocals_only(trained):
    assert spec("unet_mask").kind == "enhancer"
    assert chain_kind("unet_mask+transient_boost+whisper") == "predictor"
    assert chain_kind("centre+unet_mask") == "separator"
    recipes = Path(__file__).resolve().parents[1] / "recipes"
    clip1 = load_task_module(recipes / "cad_icassp_2026").TASK  # runs_on reads the class's accepts and needs
    cad2_task1 = load_task_module(recipes / "cad2" / "task1").TASK
    for name in ("unet_mask+whisper", "transient_boost+whisper", "unet_mask+transient_boost+whisper"):
        assert runs_on(name, clip1) and not runs_on(name, cad2_task1)
    assert runs_on("centre+unet_mask", cad2_task1) and not runs_on("unet_mask", cad2_task1)
    enhancer, ctx = trained
    chain = build_chain("centre+unet_mask", None, None)
    chain.parts[1] = enhancer
    mixture = (0.1 * np.random.default_rng(3).standard_normal((8000, 2))).astype(np.float32)
    stems = chain.separate(mixture, ["vocals", "accompaniment"])
    alone = chain.parts[0].separate(mixture, ["vocals", "accompaniment"])
    np.testing.assert_array_equal(stems["accompaniment"], alone["accompaniment"])
    np.testing.assert_array_equal(stems["vocals"], enhancer.enhance(alone["vocals"], 44100))


def test_clip1_leaderboard_words_the_difference_as_the_seed():
    import pandas as pd

    markdown = load_task_module(Path(__file__).resolve().parents[1] / "recipes" / "cad_icassp_2026")._markdown

    def row(rank, system, rmse, ncc):
        values = {"rank": rank, "system": system, "baseline": "whisper", "n": 40, "SCC": ncc, "wilcoxon_p": 0.5,
                  "n_paired": 40, "diff": 1.0, "diff_lo": -1.0, "diff_hi": 2.0}
        for metric, value in (("RMSE", rmse), ("NCC", ncc), ("KT", ncc)):
            values.update({metric: value, f"{metric}_lo": value - 1, f"{metric}_hi": value + 1})
        return values

    board = pd.DataFrame([row(1, "whisper", 29.08, 0.58), row(2, "seed", 36.08, 0.45), row(3, "better", 27.0, 0.60)])
    lines = markdown(board, "whisper").splitlines()
    assert "| baseline |" in lines[2]
    assert "error is higher (+7.00), correlation is lower (-0.13)" in lines[3]  # the seed's own table
    assert "error is lower (-2.08), correlation is higher (+0.02)" in lines[4]
