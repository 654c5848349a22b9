"""CLIP2 head: the better-ear loss, the 80/20 split by prompt, training and checkpoints."""

from __future__ import annotations

import importlib.util
import random
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from baselines.clip2_model import (
    IntelligibilityHead,
    TrainSettings,
    fit_standardiser,
    better_ear_loss,
    load_checkpoint,
    predict,
    save_checkpoint,
    split_by_prompt,
    train_head,
)
from baselines.training import init_model


def test_better_ear_loss_is_mse_of_the_better_ear():
    left = torch.tensor([0.2, 0.9, 0.5], requires_grad=True)
    right = torch.tensor([0.6, 0.1, 0.4], requires_grad=True)
    target = torch.tensor([0.5, 0.5, 1.0])
    loss = better_ear_loss(left, right, target)
    better = torch.tensor([0.6, 0.9, 0.5])
    assert loss.item() == pytest.approx(((better - target) ** 2).mean().item())
    loss.backward()
    # only the better ear of each item gets a gradient
    assert left.grad.tolist()[0] == 0 and right.grad.tolist()[1] == 0 and right.grad.tolist()[2] == 0
    assert left.grad.tolist()[1] != 0 and right.grad.tolist()[0] != 0


def _records(n_prompts=15, seed=0):
    rng = random.Random(seed)
    signals, prompts = [], []
    for p in range(n_prompts):
        for k in range(rng.randint(1, 6)):
            signals.append(f"s{p:02d}-{k}")
            prompts.append(f"prompt {p}")
    return signals, prompts


def _upstream_prompt_split():
    """pyclarity's LyricIntelligibilityDataset._prompt_split, loaded from its file."""
    path = Path(sysconfig.get_paths()["purelib"]) / "recipes/clip2/baseline/clip_dataset.py"
    if not path.is_file():
        pytest.skip("pyclarity's recipes/clip2 is not installed")
    spec = importlib.util.spec_from_file_location("clip2_upstream_dataset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LyricIntelligibilityDataset._prompt_split


def test_split_by_prompt_is_deterministic_disjoint_and_upstreams():
    signals, prompts = _records()
    train, dev = split_by_prompt(signals, prompts, 0.8, 42)
    assert (train, dev) == split_by_prompt(signals, prompts, 0.8, 42)
    assert sorted(train + dev) == sorted(signals) and not set(train) & set(dev)
    prompt_of = dict(zip(signals, prompts))
    assert not {prompt_of[s] for s in train} & {prompt_of[s] for s in dev}
    assert len(train) >= int(0.8 * len(signals)) and dev
    assert split_by_prompt(signals, prompts, 0.8, 7) != (train, dev)
    # the same draws as upstream's by_prompt strategy
    upstream = _upstream_prompt_split()
    records = [{"signal": s, "prompt": p} for s, p in zip(signals, prompts)]
    for split, ours in (("train", train), ("dev", dev)):
        fake = SimpleNamespace(train_ratio=0.8, split=split)
        assert [r["signal"] for r in upstream(fake, records, random.Random(42))] == ours


def _data(n, d=16, ears=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 2, d) if ears else (n, d), generator=g)
    y = torch.sigmoid((x if not ears else x.max(dim=1).values)[:, 0])
    return x, y


def test_training_is_deterministic_and_checkpoints_round_trip(tmp_path):
    settings = TrainSettings(epochs=6, batch_size=8, patience=3, lr=1e-3)

    def run():
        head = init_model(lambda: IntelligibilityHead(16, 32, 0.1), 5)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(5)
            state, history = train_head(head, _data(40), _data(10, seed=1), settings, 5)
        return head, state, history

    head, state, history = run()
    _, state2, history2 = run()
    assert history == history2 and all(torch.equal(state[k], state2[k]) for k in state)
    assert history["best_dev_loss"] == min(history["dev_loss"]) and 1 <= history["epochs_run"] <= 6
    # stage 2 on both ears from the stage-1 weights
    _, h2 = train_head(head, _data(40, ears=True), _data(10, ears=True, seed=1), settings, 6)
    assert h2["epochs_run"] >= 1
    path = tmp_path / "stage2.safetensors"
    save_checkpoint(path, head, {"stage": "stage2", "history": h2})
    loaded, meta = load_checkpoint(path)
    assert meta["stage"] == "stage2" and meta["history"]["best_epoch"] == h2["best_epoch"]
    x = _data(5, ears=True, seed=3)[0]
    assert torch.equal(predict(loaded, x), predict(head, x))
    assert predict(loaded, x).shape == (5,) and ((predict(loaded, x) > 0) & (predict(loaded, x) < 1)).all()
    assert not list(tmp_path.glob("*.part*"))  # written atomically


def test_head_mirrors_upstream_parameter_names():
    names = set(IntelligibilityHead(384).state_dict())
    assert {"layer_weights", "layer_projections.0.0.weight", "layer_projections.0.2.weight",
            "regressor.0.weight", "regressor.3.weight"} <= names


def test_options_are_checked():
    from baselines.clip2 import Clip2BetterEar, Clip2Mono
    from harness.errors import HarnessError

    assert Clip2BetterEar({"stage2": {"lr": 1e-4}}).stage2.lr == 1e-4
    assert Clip2Mono(None).stage1 == TrainSettings()
    for bad, match in (({"whisper_encoder": {"modle": "x"}}, "modle"), ({"stage1": {"epoch": 3}}, "epoch"),
                       ({"stage2": {}}, "stage2"), ({"train_ratio": 1.0}, "train_ratio"),
                       ({"standardise": "yes"}, "standardise")):
        with pytest.raises(HarnessError, match=match):
            Clip2Mono(bad)


def test_standardiser_is_fitted_kept_in_the_checkpoint_and_off_is_upstreams_head(tmp_path):
    x = 3.0 + 0.1 * _data(50)[0]  # a common offset much larger than the spread, as pooled embeddings
    head = init_model(lambda: IntelligibilityHead(16, 32, 0.1, standardise=True), 2)
    fit_standardiser(head, x)
    z = (x - head.input_mean) / head.input_std
    assert torch.allclose(z.mean(0), torch.zeros(16), atol=1e-5) and torch.allclose(z.std(0, unbiased=False),
                                                                                     torch.ones(16), atol=1e-4)
    ears = torch.stack([x, x + 1.0], dim=1)  # [N, 2, d]: both ears pooled
    fit_standardiser(head, ears)
    assert torch.allclose(head.input_mean, x.mean(0) + 0.5, atol=1e-5)
    path = tmp_path / "head.safetensors"
    save_checkpoint(path, head, {})
    loaded, _ = load_checkpoint(path)
    assert loaded.standardise and torch.equal(loaded.input_mean, head.input_mean)
    assert torch.equal(predict(loaded, x), predict(head, x))
    # standardise=False: upstream's parameters only, and the same function as a standardised head at mean 0, std 1
    plain_head = init_model(lambda: IntelligibilityHead(16, 32, 0.1), 2)
    assert set(plain_head.state_dict()) == set(head.state_dict()) - {"input_mean", "input_std"}
    unit = init_model(lambda: IntelligibilityHead(16, 32, 0.1, standardise=True), 2)
    assert torch.equal(predict(unit, x), predict(plain_head, x))
    with pytest.raises(ValueError, match="standardise=False"):
        fit_standardiser(plain_head, x)
    with pytest.raises(ValueError, match=r"\[N >= 2, 16\]"):
        fit_standardiser(head, x[:1])


def test_standardised_inputs_let_the_head_leave_the_constant():
    # targets depend on a small variation around a large common offset: the raw head stays near a
    # constant (its error near the targets' variance, 0.085), the standardised one fits the variation
    g = torch.Generator().manual_seed(0)
    base = torch.randn(16, generator=g)
    x = base + 0.05 * torch.randn(120, 16, generator=g)
    y = torch.sigmoid(40 * (x[:, 0] - base[0]))
    settings = TrainSettings(epochs=30, batch_size=16, patience=30, lr=1e-3)
    errors = {}
    for standardise in (False, True):
        head = init_model(lambda: IntelligibilityHead(16, 32, 0.1, standardise=standardise), 1)
        if standardise:
            fit_standardiser(head, x[:100])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            train_head(head, (x[:100], y[:100]), (x[100:], y[100:]), settings, 1)
        errors[standardise] = float(((predict(head, x[100:]) - y[100:]) ** 2).mean())
    assert errors[False] > 0.07 and errors[True] < 0.25 * errors[False]
