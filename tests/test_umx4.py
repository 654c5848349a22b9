"""umx4, the Open-Unmix-style 4-stem separator: model shapes and reconstruction, separation
contract (stems, shapes, accompaniment, Wiener sums), training lowers the loss, checkpoints
round-trip, option errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.models.hf_checkpoint import load_pretrained, save_pretrained
from baselines.models.openunmix import OpenUnmix, OpenUnmixConfig, magnitude_loss
from baselines.training import TrainConfig, init_model, train_model
from baselines.training_data import SegmentSampler, target_stems
from baselines.umx4 import UMX4Separator
from harness.data import MusicDataset, Song, Track
from harness.errors import HarnessError
from harness.registry import spec
from harness.systems import VDBO, VOCALS, RunContext

STEMS = ("vocals", "drums", "bass", "other")
TINY_MODEL = {"n_fft": 256, "hop": 64, "hidden_size": 16, "nb_layers": 2}
TINY_TRAIN = {"steps": 4, "batch_size": 2, "segment_seconds": 0.5, "checkpoint_every": 2}
OPTIONS = {"model": TINY_MODEL, "train": TINY_TRAIN, "segment": 1.0, "overlap": 0.2, "stat_batches": 2}


def musdb_split(root: Path, split: str) -> MusicDataset:
    """A split of a MUSDB18-HQ-layout folder (``<root>/<split>/<song>/{mixture,vocals,drums,bass,other}.wav``)."""
    folder = Path(root) / split
    songs = {}
    for song in sorted(p for p in folder.iterdir() if p.is_dir()):
        rel = f"{split}/{song.name}"
        songs[song.name] = Song(song.name, Track("mixture", f"{rel}/mixture.wav"),
                                {s: Track(s, f"{rel}/{s}.wav") for s in STEMS})
    return MusicDataset(Path(root), songs, 44100, split)


@pytest.fixture(scope="session")
def musdb4(tmp_path_factory) -> Path:
    from harness.demo.musdb4 import make_musdb4_demo

    return make_musdb4_demo(tmp_path_factory.mktemp("umx4") / "musdb4", seed=5, n_train=2, n_test=1, seconds=4)


@pytest.fixture(scope="session")
def train_set(musdb4) -> MusicDataset:
    return musdb_split(musdb4, "train")


def tiny_model(**overrides) -> OpenUnmix:
    cfg = OpenUnmixConfig.demo().with_overrides({**TINY_MODEL, **overrides}, "test")
    return init_model(lambda: OpenUnmix(cfg), seed=0)


def make_ctx(tmp_path: Path, train: MusicDataset) -> RunContext:
    return RunContext(exp_dir=tmp_path / "exp" / "umx4", cfg={}, dataset=lambda split: train, is_demo=True)


@pytest.mark.parametrize("length", [100, 777, 4096])
def test_shapes_and_unit_masks_reconstruct(length):
    model = tiny_model().eval()
    x = torch.randn(2, 2, length)
    with torch.no_grad():
        out = model(x)
        spec, magnitude = model.spectra(x)
        masks = model.masks(spec.abs())
    assert out.shape == (2, 4, 2, length) and torch.isfinite(out).all()
    assert masks.shape == (2, 4, 2, 129, spec.shape[-1]) and (masks >= 0).all()
    torch.testing.assert_close(magnitude, masks * spec.abs().unsqueeze(1))
    # masks of one give back the mixture for every target; masks that sum to one give stems that sum to it
    model.masks = lambda mag: torch.ones(mag.shape[0], 4, *mag.shape[1:])
    torch.testing.assert_close(model(x), x.unsqueeze(1).expand(-1, 4, -1, -1), atol=1e-5, rtol=1e-5)
    shares = torch.softmax(torch.randn(2, 4, 2, 129, spec.shape[-1]), dim=1)
    model.masks = lambda mag: shares
    torch.testing.assert_close(model(x).sum(1), x, atol=1e-5, rtol=1e-5)


def test_full_preset_is_the_papers_size():
    cfg = OpenUnmixConfig.full()
    assert (cfg.n_fft, cfg.hop, cfg.hidden_size, cfg.nb_layers, cfg.max_bin) == (4096, 1024, 512, 3, 1487)
    with pytest.raises(ValueError, match="unknown option"):
        cfg.with_overrides({"hiden_size": 3}, "x")


def test_input_statistics_standardise():
    model = tiny_model()
    mean, std = torch.rand(129) + 0.5, torch.rand(129) + 0.1
    model.set_input_statistics(mean, std)
    torch.testing.assert_close((mean + model.input_mean) * model.input_scale, torch.zeros(129))
    torch.testing.assert_close(model.input_scale, 1 / std)


def test_multi_target_sampler_sums_and_order(train_set):
    song = train_set.songs[sorted(train_set.songs)[0]]
    stems = target_stems(train_set, song, STEMS)
    mixture = train_set.load_track(song.mixture)
    np.testing.assert_allclose(np.sum(stems, axis=0), mixture, atol=1e-4)  # 16-bit files: exact up to rounding
    with pytest.raises(ValueError, match="not among the targets"):
        target_stems(train_set, song, ["vocals", "drums"])
    folded = target_stems(train_set, song, ["vocals", "other"], rest="other")
    np.testing.assert_allclose(folded[1], stems[1] + stems[2] + stems[3], atol=1e-6)
    for mix_songs in (False, True):
        sampler = SegmentSampler(train_set, sorted(train_set.songs), list(STEMS), 22050, 0.5, mix_songs=mix_songs)
        x, refs = sampler.batch(np.random.default_rng(0), 3)
        assert x.shape == (3, 2, 11025) and refs.shape == (3, 4, 2, 11025)
        torch.testing.assert_close(refs.sum(1), x, atol=1e-5, rtol=1e-5)
        again = sampler.batch(np.random.default_rng(0), 3)[1]
        torch.testing.assert_close(again, refs)
    with pytest.raises(ValueError, match="multi-target"):
        SegmentSampler(train_set, sorted(train_set.songs), "vocals", 22050, 0.5, mix_songs=True)


def test_training_lowers_the_loss(train_set, tmp_path):
    torch.manual_seed(0)
    model = tiny_model(dropout=0.0)
    sampler = SegmentSampler(train_set, sorted(train_set.songs), list(STEMS), 22050, 0.5)
    batch = sampler.batch(np.random.default_rng(123), 4)
    model.eval()
    with torch.no_grad():
        before = magnitude_loss(model, *batch).item()
    cfg = TrainConfig(steps=25, batch_size=4, segment_seconds=0.5, lr=1e-2, checkpoint_every=25)
    train_model(model, sampler, cfg, tmp_path / "m", seed=3, loss_fn=magnitude_loss)
    with torch.no_grad():
        after = magnitude_loss(model, *batch).item()
    assert after < 0.8 * before, (before, after)


def test_save_load_round_trip(tmp_path):
    model = tiny_model().eval()
    model.set_input_statistics(torch.rand(129) + 0.5, torch.rand(129) + 0.5)
    save_pretrained(model, tmp_path / "m")
    loaded = load_pretrained(tmp_path / "m")
    assert isinstance(loaded, OpenUnmix) and loaded.cfg == model.cfg
    x = torch.randn(1, 2, 3000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


@pytest.fixture(scope="module")
def prepared(train_set, tmp_path_factory):
    """A tiny umx4 trained by prepare() (no checkpoint yet) on the tiny musdb4 train split."""
    tmp = tmp_path_factory.mktemp("umx4sys")
    separator = UMX4Separator(OPTIONS)
    ctx = make_ctx(tmp, train_set)
    separator.prepare(ctx)
    return separator, ctx


def test_separate_contract(prepared, musdb4):
    separator, ctx = prepared
    assert (ctx.checkpoint_dir / "umx4" / "demo" / "model.safetensors").is_file()
    test = musdb_split(musdb4, "test")
    song = next(iter(test.songs.values()))
    mixture = test.load_track(song.mixture)[: 3 * 44100 + 17]
    stems = separator.separate(mixture, ["bass", "vocals", "bass"])
    assert list(stems) == ["bass", "vocals"]
    assert all(s.shape == mixture.shape and s.dtype == np.float32 for s in stems.values())
    every = separator.separate(mixture, [*STEMS, "accompaniment"])
    np.testing.assert_allclose(sum(every[s] for s in STEMS), mixture, atol=1e-4)  # Wiener: soft masks of the mixture
    np.testing.assert_allclose(every["accompaniment"], mixture - every["vocals"], atol=1e-6)
    np.testing.assert_allclose(every["bass"], stems["bass"], atol=1e-6)  # the stems do not depend on what else is asked
    mono = separator.separate(mixture[:, :1], ["drums"])
    assert mono["drums"].shape == (len(mixture), 1)
    with pytest.raises(KeyError, match="piano"):
        separator.separate(mixture, ["piano"])


def test_without_wiener_and_reload(prepared, train_set):
    separator, ctx = prepared
    mixture = np.random.default_rng(1).standard_normal((30_001, 2)).astype(np.float32) * 0.1
    raw = UMX4Separator({**OPTIONS, "wiener": False, "mixture_consistency": False, "train_if_missing": False})
    raw.prepare(ctx)  # loads the checkpoint that `prepared` trained
    direct = raw.estimate(mixture)
    out = raw.separate(mixture, list(STEMS))
    for s in STEMS:
        np.testing.assert_array_equal(out[s], direct[s])
    again = UMX4Separator(OPTIONS)
    again.prepare(ctx)
    np.testing.assert_array_equal(again.separate(mixture, ["vocals"])["vocals"], separator.separate(mixture, ["vocals"])["vocals"])
    assert again.identity == separator.identity


def test_missing_checkpoint_and_bad_options(tmp_path, train_set):
    with pytest.raises(FileNotFoundError, match="no trained model"):
        UMX4Separator({"train_if_missing": False}).prepare(make_ctx(tmp_path, train_set))
    with pytest.raises(HarnessError, match="wienr"):
        UMX4Separator({"wienr": True})
    with pytest.raises(HarnessError, match="hiden"):
        UMX4Separator({"model": {"hiden": 3}})
    with pytest.raises(HarnessError, match="stepz"):
        UMX4Separator({"train": {"stepz": 3}})
    with pytest.raises(HarnessError, match="segment"):
        UMX4Separator({"segment": 0})
    with pytest.raises(RuntimeError, match="prepare"):
        UMX4Separator().separate(np.zeros((100, 2), np.float32), ["vocals"])
    assert spec("umx4").provides(VDBO) and spec("umx4").provides(VOCALS)


def test_training_resumes_to_the_same_weights(train_set, tmp_path):
    straight = UMX4Separator(OPTIONS)
    straight_dir = straight.train_model(make_ctx(tmp_path / "a", train_set), "demo")
    resumed = UMX4Separator(OPTIONS)
    ctx = make_ctx(tmp_path / "b", train_set)
    resumed_dir = resumed.train_model(ctx, "demo", stop_after=2)
    assert not (resumed_dir / "model.safetensors").exists()  # unfinished: only the training state
    resumed.train(ctx)
    a, b = load_pretrained(straight_dir).state_dict(), load_pretrained(resumed_dir).state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)
