"""Msanii (seed 004) pieces at tiny sizes: scalers, schedule, DDIM, SDEdit, RePaint, Griffin-Lim,
the post-processor's edge cases and its checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.msanii.diffusion import CosineSchedule, repaint, repaint_jumps, sdedit
from baselines.msanii.system import MsaniiEnhancer
from baselines.msanii.train import MsaniiModel, MsaniiTrainConfig, load_bundle, train_msanii
from baselines.training_data import StemSampler
from baselines.msanii.transforms import HOP, RunningScaler, griffin_lim, padded_length, stft
from baselines.msanii.unet import UNetConfig
from harness.errors import HarnessError
from tests.synthetic_cad2 import SyntheticCAD2

RATE = 44100
TINY = UNetConfig(width=16, time_dim=16, mlp_factor=2, heads=2, multipliers=[1, 1], attention=[False, True],
                  blocks=1, vocoder_width=16)


def chord(seconds: float = 1.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t) * np.exp(-2 * t)
    return np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def tiny_bundle(seed: int = 0) -> MsaniiModel:
    torch.manual_seed(seed)
    model = MsaniiModel(TINY)
    model.train()
    model.transform(torch.from_numpy(chord().T.copy())[None])  # initialise the running scalers
    return model.eval()


def test_running_scalers_follow_algorithms_1_and_2():
    scaler = RunningScaler("standard", momentum=1e-3, decay=0.99).train()
    a, b = torch.randn(4, 100) * 2 + 3, torch.randn(4, 100) * 0.5 - 1
    out = scaler(a)  # first batch: initialises, then the update leaves the statistics as they are
    assert torch.allclose(scaler.stats, torch.tensor([a.double().mean(), a.double().var(unbiased=False)]))
    assert abs(float(out.mean())) < 1e-5 and abs(float(out.std(unbiased=False)) - 1) < 1e-3  # batch statistics
    scaler(b)
    m = 1e-3 * 0.99**2
    expected = (1 - m) * torch.tensor([a.double().mean(), a.double().var(unbiased=False)]) + m * torch.tensor(
        [b.double().mean(), b.double().var(unbiased=False)])
    assert torch.allclose(scaler.stats, expected) and math.isclose(float(scaler.momentum), m)
    scaler.eval()
    mean, var = (float(v) for v in scaler.stats)
    assert torch.allclose(scaler(b), (b - mean) / math.sqrt(var + 1e-5), atol=1e-5)  # running statistics in eval
    assert torch.allclose(scaler.inverse(scaler(b)), b, atol=1e-4)

    minmax = RunningScaler("minmax").train()
    y = minmax(a)
    assert math.isclose(float(y.min()), -1, abs_tol=1e-6) and math.isclose(float(y.max()), 1, abs_tol=1e-6)
    minmax.eval()
    assert float(minmax(a * 10).max()) == 1.0  # clamped to [y_min, y_max]
    with pytest.raises(RuntimeError, match="before any training batch"):
        RunningScaler("minmax").eval()(a)


def test_cosine_alpha_bar_at_known_timesteps():
    s = CosineSchedule()

    def f(t):
        return math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2

    for t in (0, 100, 500, 900):  # telescoping product: alpha_bar[t] = f(t + 1) / f(0) below the cap
        assert math.isclose(float(s.alpha_bar[t]), f(t + 1) / f(0), rel_tol=1e-9)
    assert math.isclose(float(s.alpha_bar[499]), 0.493844, abs_tol=1e-6)  # about half way: cos^2 of ~pi/4
    assert float(s.betas.max()) == pytest.approx(0.999) and 0 < float(s.alpha_bar[999]) < 1e-6
    assert float(s.alpha_bar_at(-1)) == 1.0
    x0, noise = torch.ones(2, 3), torch.zeros(2, 3)
    noised = s.add_noise(x0, noise, torch.tensor([0, 999]))
    assert torch.allclose(noised[0], torch.full((3,), math.sqrt(float(s.alpha_bar[0]))).float())
    assert float(noised[1, 0]) < 1e-3


def test_ddim_eta_zero_is_deterministic_per_seed_and_per_sample():
    model = tiny_bundle().ema
    s = CosineSchedule()
    x0 = torch.rand(2, 2, 128, 64) * 2 - 1
    a = sdedit(model, s, x0, 300, 50, 0.0, [1, 2])
    assert torch.equal(a, sdedit(model, s, x0, 300, 50, 0.0, [1, 2]))
    assert not torch.allclose(a, sdedit(model, s, x0, 300, 50, 0.0, [3, 2]))
    assert torch.allclose(a[1:], sdedit(model, s, x0[1:], 300, 50, 0.0, [2]), atol=1e-5)  # its own seed only
    stochastic = sdedit(model, s, x0, 300, 50, 1.0, [1, 2])
    assert torch.equal(stochastic, sdedit(model, s, x0, 300, 50, 1.0, [1, 2])) and not torch.allclose(stochastic, a)
    assert s.ddim_timesteps(200, 100) == list(range(100, -1, -5)) and s.ddim_timesteps(4) == [750, 500, 250, 0]


def test_sdedit_at_t0_returns_the_input_mel():
    model = tiny_bundle().ema
    x0 = torch.rand(1, 2, 128, 64) * 1.8 - 0.9
    out = sdedit(model, CosineSchedule(), x0, 0, 200, 0.0, [0])
    assert float((out - x0).abs().max()) < 0.05  # sqrt(1 - alpha_bar[0]) = 0.006 times the model's noise error
    far = sdedit(model, CosineSchedule(), x0, 900, 200, 0.0, [0])
    assert float((far - x0).abs().mean()) > 10 * float((out - x0).abs().mean())


def test_enhancer_at_t0_is_the_vocoder_round_trip():
    x = chord(1.0)
    bundle = tiny_bundle()
    enhancer = MsaniiEnhancer({"strength": 0, "vocoder": "pinv", "griffin_lim_iters": 0}).use(bundle)
    y = enhancer.enhance(x, RATE)
    assert y.shape == x.shape and y.dtype == np.float32
    # the round trip alone: scaled log-mel -> pseudo-inverse -> the input's phase, no diffusion
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    wave = torch.from_numpy(np.pad(x / np.float32(rms), ((0, padded_length(len(x)) - len(x)), (0, 0))).T.copy())[None]
    spec = stft(wave)
    with torch.no_grad():
        magnitude = bundle.transform.pinv_magnitude(bundle.transform.scale(bundle.transform.log_mel(spec.abs())))
    trip = griffin_lim(magnitude, wave.shape[-1], 0, phase=spec.angle())[0].numpy().T[: len(x)] * rms

    def snr(a, b):
        return 10 * np.log10(np.sum(b**2) / np.sum((a - b) ** 2))

    assert snr(y, trip) > 20.0  # t = 0 adds almost nothing to the round trip
    assert snr(y, trip) > snr(y, x) + 10  # which is what loses detail (128 bands for 1025 bins)
    resampled = enhancer.enhance(x[::2], RATE // 2)  # other rates go through 44.1 kHz and back
    assert resampled.shape == x[::2].shape and np.all(np.isfinite(resampled))


def test_repaint_keeps_the_unmasked_region():
    model = tiny_bundle().ema
    x0 = torch.rand(1, 2, 128, 64) * 2 - 1
    known = torch.ones(1, 1, 1, 64)
    known[..., 20:40] = 0
    out = repaint(model, CosineSchedule(), x0, known, 500, 50, 0.0, [4], jump_length=3, jump_n_sample=2)
    assert torch.equal(out[..., :20], x0[..., :20]) and torch.equal(out[..., 40:], x0[..., 40:])
    assert float((out[..., 20:40] - x0[..., 20:40]).abs().mean()) > 0.05  # the gap is regenerated

    x = chord(1.5)
    x[20000:30000] = 0  # a dropout, filled from 0.4 to 0.7 s
    enhancer = MsaniiEnhancer({"strength": 999, "steps": 10, "mask": [[0.4, 0.7]], "griffin_lim_iters": 4})
    y = enhancer.use(tiny_bundle()).enhance(x, RATE)
    t = np.arange(len(x)) / RATE
    outside = (t < 0.4 - HOP / RATE) | (t > 0.7 + HOP / RATE)
    np.testing.assert_allclose(y[outside], x[outside], atol=1e-6)
    assert np.any(y[(t > 0.45) & (t < 0.65)] != 0)


def test_repaint_jump_schedule():
    assert repaint_jumps(5, 2, 1) == [(i, i + 1) for i in range(5)]
    moves = repaint_jumps(10, 3, 2)
    assert moves[-1][1] == 10 and sum(1 for a, b in moves if b < a) == 3  # jump points 0, 3, 6 steps before the end
    assert sum(1 for a, b in moves if b > a) == 10 + 3 * 3
    assert moves[:4] == [(0, 1), (1, 2), (2, 3), (3, 4)] and moves[4] == (4, 1)  # 6 left after 4 steps: back 3


def test_griffin_lim_round_trip_on_a_known_signal():
    x = torch.from_numpy(chord(1.0).T.copy())
    magnitude = stft(x).abs()

    def convergence(y):
        return float(torch.linalg.vector_norm(stft(y).abs() - magnitude) / torch.linalg.vector_norm(magnitude))

    exact = griffin_lim(magnitude, x.shape[-1], 0, phase=stft(x).angle())
    assert torch.allclose(exact, x, atol=1e-5)  # the true phase: the inverse STFT is exact
    few = griffin_lim(magnitude, x.shape[-1], 2, generator=torch.Generator().manual_seed(0))
    many = griffin_lim(magnitude, x.shape[-1], 60, generator=torch.Generator().manual_seed(0))
    assert convergence(many) < 0.1 < convergence(few)


def test_padded_lengths_give_frames_in_multiples_of_64():
    for n in (0, 1, 1000, 64511, 64512, 64513, 8_387_584):
        length = padded_length(n)
        assert length >= n and (1 + length // HOP) % 64 == 0
    assert padded_length(8_387_584) == 8_387_584  # the seed's clip length: 8192 frames


def test_silence_and_very_short_inputs():
    enhancer = MsaniiEnhancer({"steps": 20, "griffin_lim_iters": 2}).use(tiny_bundle())
    silence = np.zeros((5000, 2), np.float32)
    assert np.array_equal(enhancer.enhance(silence, RATE), silence)
    assert enhancer.enhance(np.zeros((0, 2), np.float32), RATE).shape == (0, 2)
    short = chord(0.0005)  # 22 samples: less than one STFT frame
    out = enhancer.enhance(short, RATE)
    assert out.shape == short.shape and np.all(np.isfinite(out))
    with pytest.raises(HarnessError, match="msanii"):
        enhancer.enhance(np.full((100, 2), np.nan, np.float32), RATE)
    with pytest.raises(RuntimeError, match="prepare"):
        MsaniiEnhancer().enhance(short, RATE)


def test_bad_options_fail_naming_the_system():
    with pytest.raises(HarnessError, match="msanii"):
        MsaniiEnhancer({"strenght": 100})
    with pytest.raises(ValueError, match="strength"):
        MsaniiEnhancer({"strength": 1000})
    with pytest.raises(ValueError, match="mask"):
        MsaniiEnhancer({"mask": [[0.5, 0.2]]})
    with pytest.raises(HarnessError, match="train"):
        MsaniiEnhancer({"train": {"stepz": 3}})


def test_checkpoint_round_trip_and_resume(tmp_path):
    cfg = MsaniiTrainConfig(steps=4, batch_size=2, segment_frames=8, lr=1e-3, warmup_steps=2, ema_start=2,
                            ema_decay=0.9, ema_every=1, checkpoint_every=2)
    sampler = StemSampler(SyntheticCAD2(songs=3, seconds=1.0), cfg.segment_samples)
    batch = sampler.batch(np.random.default_rng(0), 2)
    assert batch.shape == (2, 2, cfg.segment_samples)
    assert torch.allclose(batch.pow(2).mean(dim=(1, 2)), torch.ones(2), atol=1e-4)  # unit RMS

    def fresh():
        torch.manual_seed(0)
        return MsaniiModel(TINY)

    whole = train_msanii(fresh(), sampler, cfg, tmp_path / "whole", seed=3)
    train_msanii(fresh(), sampler, cfg, tmp_path / "resumed", seed=3, stop_after=2)
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed = train_msanii(fresh(), sampler, cfg, tmp_path / "resumed", seed=3)
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    loaded = load_bundle(tmp_path / "whole")
    for (k, a), b in zip(whole.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert bool(loaded.transform.minmax.initialised) and float(loaded.transform.standard.momentum) < 1e-3
    assert not torch.equal(loaded.ema.out.weight, loaded.unet.out.weight)  # the EMA copy is its own
    with pytest.raises(RuntimeError, match="other training options"):
        train_msanii(fresh(), sampler, MsaniiTrainConfig(**{**cfg.to_dict(), "steps": 6}), tmp_path / "resumed", seed=3)


def test_spectrograms_for_figures_match_the_pass():
    x = chord(1.0)
    enhancer = MsaniiEnhancer({"strength": 500, "steps": 20}).use(tiny_bundle())
    mels = enhancer.spectrograms(x, RATE)
    assert set(mels) == {"input", "noised", "denoised"} and mels["input"].shape == (2, 128, 64)
    a = enhancer.schedule.alpha_bar_at(500)
    assert np.std(mels["noised"] - np.sqrt(float(a)) * mels["input"]) == pytest.approx(np.sqrt(1 - float(a)), rel=0.05)
    assert np.array_equal(mels["denoised"], enhancer.spectrograms(x, RATE)["denoised"])


def test_prepare_trains_once_then_loads(tmp_path):
    from harness.systems import RunContext

    section = {"model": TINY.to_dict(), "steps": 10, "griffin_lim_iters": 2, "preset": "demo",
               "train": {"steps": 3, "batch_size": 2, "segment_frames": 8, "warmup_steps": 1, "ema_start": 1,
                         "checkpoint_every": 2}}
    ctx = RunContext(exp_dir=tmp_path / "sys", cfg=None, dataset=lambda split: SyntheticCAD2(songs=3, seconds=1.0),
                     is_demo=True, seed=5)
    with pytest.raises(FileNotFoundError, match="msanii"):
        MsaniiEnhancer({**section, "train_if_missing": False}).prepare(ctx)
    enhancer = MsaniiEnhancer(section)
    enhancer.prepare(ctx)
    weights = tmp_path / "checkpoints" / "msanii" / "demo" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    again = MsaniiEnhancer({**section, "train_if_missing": False})
    again.prepare(ctx)  # finished: loads, does not train
    assert weights.stat().st_mtime_ns == stamp
    x = chord(0.5)
    assert np.array_equal(enhancer.enhance(x, RATE), again.enhance(x, RATE))  # same weights, same seed
    with pytest.raises(HarnessError, match="another configuration"):
        MsaniiEnhancer({**section, "model": {**TINY.to_dict(), "width": 8}}).prepare(ctx)


def test_sweep_table_pairs_each_strength_with_the_control():
    import importlib.util
    from pathlib import Path

    import pandas as pd

    spec = importlib.util.spec_from_file_location("msanii_sweep", Path(__file__).parents[1] / "scripts" / "msanii_sweep.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 0.8, 6)
    haaqi = pd.DataFrame([{"song": "s", "pair": i, "label": label, "haaqi": base[i] - shift}
                          for label, shift in (("control", 0.0), ("t0", 0.1)) for i in range(6)])
    stems = pd.DataFrame([{"song": "s", "stem": f"x{i}", "label": label, "sdr": 5.0 - shift + i, "si_sdr": 3.0 - shift + i}
                          for label, shift in (("control", 0.0), ("t0", 2.0)) for i in range(4)])
    text = sweep.table(haaqi, stems, [0])
    control, t0 = text.splitlines()[2:]
    assert control.startswith("| control | ") and "-0.100 [-0.100, -0.100]" in t0 and "-2.00 [-2.00, -2.00]" in t0
