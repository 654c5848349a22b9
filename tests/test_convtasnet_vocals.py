"""convtasnet_vocals(_causal), the official CAD2 task 1 baseline separator: sizes and shapes,
no look-ahead in the causal model, the separation contract (stems, mixture consistency), bad
input, training lowers the loss, checkpoints round-trip and resume, official-layout
checkpoints load from pretrained_dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from baselines.convtasnet_vocals import ConvTasNetVocals, ConvTasNetVocalsCausal
from baselines.models.convtasnet import ConvTasNet, ConvTasNetConfig
from baselines.models.hf_checkpoint import load_pretrained
from baselines.training import init_model, read_train_meta
from baselines.training_data import SegmentSampler
from harness.errors import HarnessError
from harness.registry import spec
from harness.systems import VOCALS, RunContext

TINY_MODEL = {"N": 16, "L": 16, "B": 8, "H": 16, "X": 3, "R": 1}
TINY_TRAIN = {"steps": 4, "batch_size": 2, "segment_seconds": 0.25, "checkpoint_every": 2}
OPTIONS = {"model": TINY_MODEL, "train": TINY_TRAIN, "segment": 0.5, "overlap": 0.05, "device": "cpu"}


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    from harness.demo.cad2_task1 import make_cad2_task1_demo
    from harness.recipe import load_config, make_task, select

    root = tmp_path_factory.mktemp("tasnetv") / "data"
    make_cad2_task1_demo(root, seed=4, n_songs={"train": 2, "valid": 1}, listeners_per_scene=1)
    recipe = select("cad2", "task1")[0]
    return make_task(recipe, load_config(recipe, [], data_root=str(root))).dataset("train")


def make_ctx(tmp_path: Path, train_set, cfg=None) -> RunContext:
    return RunContext(exp_dir=tmp_path / "exp" / "convtasnet_vocals", cfg=cfg or {}, dataset=lambda split: train_set,
                      is_demo=True, seed=7)


def tiny(causal: bool, **overrides) -> ConvTasNet:
    cfg = ConvTasNetConfig.demo(causal).with_overrides({**TINY_MODEL, **overrides}, "test")
    return init_model(lambda: ConvTasNet(cfg), seed=0).eval()


def test_registered_for_vocal_tasks():
    for name in ("convtasnet_vocals", "convtasnet_vocals_causal"):
        assert spec(name).provides(VOCALS) and spec(name).kind == "separator"


def test_official_size_and_norms():
    full = ConvTasNetVocals({"preset": "full"}).build_model("full", 44100)
    causal = ConvTasNetVocalsCausal({"preset": "full"}).build_model("full", 44100)
    assert sum(p.numel() for p in full.parameters()) == 10_846_800  # the official conf.yml's 10.8M
    assert (full.cfg.norm_type, full.cfg.causal, causal.cfg.norm_type, causal.cfg.causal) == ("gLN", False, "cLN", True)
    assert (full.cfg.N, full.cfg.L, full.cfg.B, full.cfg.H, full.cfg.P, full.cfg.X, full.cfg.R, full.cfg.C) == \
        (256, 20, 256, 512, 3, 10, 4, 2)
    assert ConvTasNetVocals({}).train_config("full").lr == 5e-4


@pytest.mark.parametrize("length", [100, 2049])
def test_shapes(length):
    for causal in (False, True):
        with torch.no_grad():
            out = tiny(causal)(torch.randn(3, 2, length))
        assert out.shape == (3, 2, 2, length) and torch.isfinite(out).all()


def test_causal_model_has_no_look_ahead():
    x = torch.randn(1, 2, 4000)
    later = x.clone()
    cut = 2500
    later[..., cut:] += torch.randn(1, 2, 4000 - cut)
    L = TINY_MODEL["L"]
    with torch.no_grad():
        a, b = tiny(True)(x), tiny(True)(later)
        c, d = tiny(False)(x), tiny(False)(later)
    torch.testing.assert_close(a[..., : cut - L], b[..., : cut - L], atol=1e-6, rtol=0)
    assert not torch.allclose(a[..., cut:], b[..., cut:])
    assert not torch.allclose(c[..., : cut - L], d[..., : cut - L], atol=1e-4)  # the non-causal one looks ahead


def trained(tmp_path, train_set, cls=ConvTasNetVocals, **options):
    separator = cls({**OPTIONS, **options})
    ctx = make_ctx(tmp_path, train_set)
    separator.prepare(ctx)  # trains the missing model, then loads it
    return separator, ctx


def test_separation_contract_and_consistency(tmp_path, train_set):
    separator, _ = trained(tmp_path, train_set)
    rng = np.random.default_rng(0)
    mixture = (0.1 * rng.standard_normal((9000, 2))).astype(np.float32)
    stems = separator.separate(mixture, ["vocals", "accompaniment"])
    assert set(stems) == {"vocals", "accompaniment"}
    assert all(v.shape == mixture.shape and v.dtype == np.float32 for v in stems.values())
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], mixture, atol=1e-5)
    assert list(separator.separate(mixture, ["vocals"])) == ["vocals"]
    raw = ConvTasNetVocals({**OPTIONS, "mixture_consistency": False})
    raw.prepare(make_ctx(tmp_path, train_set))
    raw_stems = raw.separate(mixture, ["vocals", "accompaniment"])
    residual = (mixture - raw_stems["vocals"] - raw_stems["accompaniment"]) / 2
    np.testing.assert_allclose(stems["vocals"], raw_stems["vocals"] + residual, atol=1e-5)


def test_bad_input_is_one_line(tmp_path, train_set):
    separator, ctx = trained(tmp_path, train_set)
    for bad, match in ((np.zeros((100, 1), np.float32), r"stereo \(n, 2\), not \(100, 1\)"),
                       (np.zeros(100, np.float32), "stereo"),
                       (np.full((100, 2), np.nan, np.float32), "NaN or infinite")):
        with pytest.raises(HarnessError, match=match) as err:
            separator.separate(bad, ["vocals"])
        assert "\n" not in str(err.value) and "convtasnet_vocals" in str(err.value)
    with pytest.raises(HarnessError, match="not \\['drums'\\]"):
        separator.separate(np.zeros((100, 2), np.float32), ["drums"])
    wrong_rate = OmegaConf.create({"input_sample_rate": 16000})
    with pytest.raises(HarnessError, match="input_sample_rate is 16000") as err:
        ConvTasNetVocals(OPTIONS).prepare(make_ctx(tmp_path, train_set, wrong_rate))
    assert "\n" not in str(err.value)
    with pytest.raises(HarnessError, match="separates vocals only"):
        ConvTasNetVocals({"instruments": ["drums"]})
    with pytest.raises(HarnessError, match="unknown option"):
        ConvTasNetVocals({"mixture_consistancy": True})


def test_training_lowers_the_loss(train_set):
    model = tiny(False).train()
    sampler = SegmentSampler(train_set, sorted(train_set.songs), ["vocals", "accompaniment"], 22050, 0.25,
                             rest="accompaniment", mix_songs=True)
    mixture, references = sampler.batch(np.random.default_rng(3), 4)
    torch.testing.assert_close(references.sum(1), mixture, atol=1e-5, rtol=1e-5)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = (model(mixture) - references).abs().mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_checkpoint_round_trip_and_resume(tmp_path, train_set):
    separator, ctx = trained(tmp_path, train_set, ConvTasNetVocalsCausal)
    directory = separator.model_dirs["vocals"]
    assert directory == ctx.checkpoint_dir / "convtasnet_vocals_causal" / "demo" / "vocals"
    config = json.loads((directory / "config.json").read_text())
    assert config["trained_steps"] == 4 and config["causal"] and config["random_mix"]
    reloaded = load_pretrained(directory)
    for (k, v), (k2, v2) in zip(separator.models["vocals"].state_dict().items(), reloaded.state_dict().items()):
        assert k == k2 and torch.equal(v.cpu(), v2)
    # an interrupted run resumed from its checkpoint gives the uninterrupted run's weights
    other = ConvTasNetVocalsCausal(OPTIONS)
    ctx2 = make_ctx(tmp_path / "resumed", train_set)
    half = other.train_instrument(ctx2, "vocals", "demo", stop_after=2)
    assert read_train_meta(half / "train_state.safetensors")["member"] == "convtasnet_vocals_causal"
    assert not (half / "model.safetensors").exists()
    other.train(ctx2)
    resumed = load_pretrained(half)
    for v, v2 in zip(reloaded.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(v, v2)


def official_layout(folder: Path, causal: bool) -> ConvTasNet:
    """A model saved as PyTorchModelHubMixin saves the official ones: config.json with only the
    constructor arguments (no architecture key), model.safetensors with the state dict."""
    model = tiny(causal, samplerate=44100)
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(model.cfg.to_dict()))
    return model


@pytest.mark.parametrize("layout", ["named", "hub_cache", "the folder itself"])
def test_pretrained_dir_loads_official_layout(tmp_path, train_set, layout):
    root = tmp_path / "hf"
    if layout == "the folder itself":
        folder = root
    elif layout == "named":
        folder = root / "ConvTasNet_LyricsSeparation_Causal"
    else:
        cache = root / "models--cadenzachallenge--ConvTasNet_LyricsSeparation_Causal"
        (cache / "refs").mkdir(parents=True)
        (cache / "refs" / "main").write_text("abc123\n")
        folder = cache / "snapshots" / "abc123"
    model = official_layout(folder, causal=True)
    separator = ConvTasNetVocalsCausal({"pretrained_dir": str(root), "segment": 0.5, "overlap": 0.05,
                                        "mixture_consistency": False, "device": "cpu"})
    separator.prepare(make_ctx(tmp_path, train_set))
    assert separator.model_dirs["vocals"] == folder
    assert not (tmp_path / "exp" / "checkpoints" / "convtasnet_vocals_causal").exists()  # nothing trained
    mixture = (0.05 * np.random.default_rng(1).standard_normal((4410, 2))).astype(np.float32)
    stems = separator.separate(mixture, ["vocals", "accompaniment"])
    scale = float(np.sqrt(np.mean(mixture**2)) + 1e-5)
    with torch.no_grad():
        direct = model(torch.from_numpy(mixture.T.copy() / scale)[None])[0].numpy() * scale
    np.testing.assert_allclose(stems["vocals"], direct[0].T, atol=1e-5)
    np.testing.assert_allclose(stems["accompaniment"], direct[1].T, atol=1e-5)


def test_pretrained_dir_errors(tmp_path, train_set):
    with pytest.raises(HarnessError, match="has no config.json"):
        ConvTasNetVocals({"pretrained_dir": str(tmp_path)}).prepare(make_ctx(tmp_path, train_set))
    official_layout(tmp_path / "hf" / "ConvTasNet_LyricsSeparation_NonCausal", causal=True)  # wrong causality
    with pytest.raises(HarnessError, match="holds a causal model"):
        ConvTasNetVocals({"pretrained_dir": str(tmp_path / "hf")}).prepare(make_ctx(tmp_path, train_set))
