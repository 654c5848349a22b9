"""The ensemble: weight presets and normalisation, learned weights, caching, end to end."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.signal
from omegaconf import OmegaConf

from baselines.ensemble import DEFAULT_MEMBERS, Ensemble, WeightMatrix, fit_weights
from harness import registry
from harness.systems import INSTRUMENTS, RunContext, register
from tests.synthetic_cad2 import SyntheticCAD2

# ----------------------------------------------------------------------------- weights


def test_paper_preset_is_the_papers_weights():
    matrix = WeightMatrix.from_spec("paper", DEFAULT_MEMBERS)
    for instrument in ("Violin", "Bassoon", "Sax"):
        np.testing.assert_allclose(matrix.column(instrument), [0.7, 0.2, 0.1])


def test_weights_are_normalised_per_instrument():
    matrix = WeightMatrix.from_spec({"Violin": [2, 2, 4], "*": {"convtasnet": 3}}, DEFAULT_MEMBERS)
    np.testing.assert_allclose(matrix.column("Violin"), [0.25, 0.25, 0.5])
    np.testing.assert_allclose(matrix.column("Cello"), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(matrix.values.sum(axis=0), 1.0)
    np.testing.assert_allclose(WeightMatrix.from_spec([1, 1, 1], DEFAULT_MEMBERS).column("Oboe"), [1 / 3] * 3)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"Violin": [0, 0, 0]}, "weight 0"),
        ([1, -1, 1], "non-negative"),
        ([1, 1], "3x1"),
        ({"Violin": {"demucs": 1}}, "unknown member"),
        ("median", "unknown weights preset"),
    ],
)
def test_bad_weights_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        WeightMatrix.from_spec(spec, DEFAULT_MEMBERS)


def test_missing_instrument_without_default_column():
    with pytest.raises(KeyError, match="Flute"):
        WeightMatrix.from_spec({"Violin": [1, 0, 0]}, DEFAULT_MEMBERS).column("Flute")


@pytest.mark.parametrize("criterion", ["nnls", "simplex"])
def test_fit_recovers_a_known_combination(criterion):
    rng = np.random.default_rng(0)
    truth = np.array([0.6, 0.3, 0.1])
    estimates = [rng.standard_normal((3, 5000, 2)) for _ in range(4)]
    targets = [np.tensordot(truth, e, axes=1) for e in estimates]
    np.testing.assert_allclose(fit_weights(estimates, targets, criterion), truth, atol=1e-6)


def test_nnls_is_scale_free_and_non_negative():
    rng = np.random.default_rng(1)
    estimates = [rng.standard_normal((3, 4000)) for _ in range(3)]
    # the target is twice a combination of members 0 and 2 minus a bit of member 1
    targets = [2 * (0.8 * e[0] + 0.2 * e[2]) - 0.3 * e[1] for e in estimates]
    weights = fit_weights(estimates, targets, "nnls")
    np.testing.assert_allclose(weights, [0.8, 0.0, 0.2], atol=1e-2)  # sample correlations blur it slightly
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- with fake members

CALLS: dict[str, int] = {}


def filter_a(x):
    return x


def filter_b(x):
    return scipy.signal.lfilter([0.5, 0.5], [1.0], x, axis=0)


def filter_c(x):  # impulse responses of a, b and c are linearly independent
    return scipy.signal.lfilter([0.0, 0.0, 1.0], [1.0], x, axis=0)


TRUE_WEIGHTS = {"Violin": [0.5, 0.3, 0.2], "Cello": [0.0, 0.9, 0.1]}


class FakeMember:
    sample_rate = 44100

    def __init__(self, name, transform):
        self.name, self.transform, self.identity = name, transform, name

    def prepare(self, ctx):
        pass

    def separate(self, mixture, sources):
        CALLS[self.name] = CALLS.get(self.name, 0) + 1
        return {s: self.transform(mixture).astype(np.float32) for s in sources}


for _name, _transform in (("fake_a", filter_a), ("fake_b", filter_b), ("fake_c", filter_c)):
    register(_name, kind="separator", produces=INSTRUMENTS)(lambda section, n=_name, t=_transform: FakeMember(n, t))


@dataclass
class Track:
    instrument: str
    path: str = ""
    start: float = 0.0
    duration: float = 1.0


@dataclass
class Song:
    name: str
    mixture: Track
    sources: dict = field(default_factory=dict)


class MemberDefinedDataset:
    """Songs whose instrument stems are exact combinations of the fake members' outputs."""

    sample_rate = 44100
    instruments = ["Cello", "Violin"]

    def __init__(self, songs=3):
        self.songs = {
            f"s{i}": Song(f"s{i}", Track("mixture"), {"source_1": Track("Violin"), "source_2": Track("Cello")}) for i in range(songs)
        }

    def mixture(self, song):
        rng = np.random.default_rng(int(song.name[1:]))
        return (0.1 * rng.standard_normal((4000, 2))).astype(np.float32)

    def load_track(self, track):
        return self.mixture(next(s for s in self.songs.values() if s.mixture is track))

    def load_song_sources(self, song):
        x = self.mixture(song)
        outs = [filter_a(x), filter_b(x), filter_c(x)]
        return {key: sum(w * o for w, o in zip(TRUE_WEIGHTS[t.instrument], outs)).astype(np.float32) for key, t in song.sources.items()}


def fake_ctx(tmp_path, **fields):
    cfg = OmegaConf.create({"systems": {}})
    data = MemberDefinedDataset()
    return RunContext(exp_dir=tmp_path / "exp" / "ensemble", cfg=cfg, dataset=lambda split: data,
                      build=lambda name: registry.build_chain(name, cfg, fields.get("separation_cache_dir")), **fields)


def test_learned_weights_recover_the_members_mixture(tmp_path):
    # no pooling: each instrument's own fit must recover its true weights
    learn = {"split": "train", "pool_songs": 0}
    ensemble = Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": "learned", "learn": learn})
    ctx = fake_ctx(tmp_path)
    ensemble.prepare(ctx)
    for instrument, truth in TRUE_WEIGHTS.items():
        np.testing.assert_allclose(ensemble.weights.column(instrument), truth, atol=1e-3)
    stored = json.loads((ctx.checkpoint_dir / "ensemble" / "learned_weights.json").read_text())
    assert stored["instruments"]["Violin"]["source"].startswith("fitted on 3")
    # the stored weights are reused, not refitted
    before = dict(CALLS)
    again = Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": "learned", "learn": learn})
    again.prepare(ctx)
    assert CALLS == before
    np.testing.assert_allclose(again.weights.values, ensemble.weights.values)


def test_few_songs_shrink_towards_the_pooled_fit(tmp_path):
    """With a strong pool every instrument takes (nearly) the one pooled weight vector, which
    also serves instruments that have no fitting song."""
    ensemble = Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": "learned",
                         "learn": {"split": "train", "pool_songs": 1e6}})
    ensemble.prepare(fake_ctx(tmp_path))
    columns = [ensemble.weights.column(i) for i in TRUE_WEIGHTS]
    for column in columns:
        np.testing.assert_allclose(column, columns[0], atol=1e-4)
        assert column.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(ensemble.weights.column("Oboe"), columns[0], atol=1e-4)  # via the "*" column


class ScoringTask:
    """A task whose score of a separation is minus the error of its violin stem against
    `prefer(mixture)` (None: every separation scores 0); `calls` counts the scored separations."""

    def __init__(self, prefer):
        self.prefer, self.calls, self.data = prefer, 0, MemberDefinedDataset()

    def score_separations(self, split, song_name, separations, max_pairs=None):
        self.calls += len(separations)
        mixture = self.data.mixture(self.data.songs[song_name])
        scores = {}
        for label, stems in separations.items():
            error = 0.0 if self.prefer is None else float(np.mean((stems["Violin"] - self.prefer(mixture)) ** 2))
            scores[label] = [-error] * min(2, max_pairs or 2)
        return scores


def _selected(tmp_path, prefer, **learn):
    task = ScoringTask(prefer)
    ctx = fake_ctx(tmp_path, task=task)
    ensemble = Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": "learned",
                         "learn": {"split": "train", "pool_songs": 0, **learn}})
    ensemble.prepare(ctx)
    stored = json.loads((ctx.checkpoint_dir / "ensemble" / "learned_weights.json").read_text())
    return ensemble, stored["selection"], task


def test_selection_keeps_the_fit_when_the_task_score_agrees(tmp_path):
    truth = lambda x: sum(w * f(x) for w, f in zip(TRUE_WEIGHTS["Violin"], (filter_a, filter_b, filter_c)))  # noqa: E731
    ensemble, selection, task = _selected(tmp_path, truth)
    assert selection["chosen"] == "fitted" and selection["pairs"] == 6  # 3 songs x 2 pairs
    assert set(selection["mean_haaqi"]) == {"fitted", "uniform", "fake_a alone", "fake_b alone", "fake_c alone"}
    assert task.calls == 3 * 5  # every candidate on every song
    np.testing.assert_allclose(ensemble.weights.column("Cello"), TRUE_WEIGHTS["Cello"], atol=1e-3)


def test_selection_takes_a_member_alone_when_it_scores_better(tmp_path):
    ensemble, selection, _ = _selected(tmp_path, filter_c)
    assert selection["chosen"] == "fake_c alone"
    assert max(selection["mean_haaqi"], key=selection["mean_haaqi"].get) == "fake_c alone"
    for instrument in ("Violin", "Cello", "Oboe"):
        np.testing.assert_allclose(ensemble.weights.column(instrument), [0, 0, 1])


def test_selection_on_two_workers_is_the_selection_on_one(tmp_path):
    """The candidates' scores are computed on the run's workers (RunContext.map) and summed in
    song order: the choice and every mean are those of the in-process run, bit for bit."""
    selections = []
    for jobs in (1, 2):
        ctx = fake_ctx(tmp_path / str(jobs), task=ScoringTask(filter_b), jobs=jobs)
        Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": "learned",
                  "learn": {"split": "train", "pool_songs": 0}}).prepare(ctx)
        selections.append(json.loads((ctx.checkpoint_dir / "ensemble" / "learned_weights.json").read_text())["selection"])
    assert selections[0]["chosen"] == "fake_b alone"
    assert selections[1] == selections[0]


def test_selection_ties_keep_the_fit_and_none_skips_it(tmp_path):
    _, selection, _ = _selected(tmp_path / "tie", None)
    assert selection["chosen"] == "fitted" and len(set(selection["mean_haaqi"].values())) == 1
    _, skipped, task = _selected(tmp_path / "none", filter_c, select="none")
    assert skipped == {"chosen": "fitted", "reason": "learn.select is none"} and task.calls == 0
    # without a task that can score separations the fit is kept, with the reason
    ensemble = Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": "learned", "learn": {"split": "train"}})
    ctx = fake_ctx(tmp_path / "no_task")
    ensemble.prepare(ctx)
    stored = json.loads((ctx.checkpoint_dir / "ensemble" / "learned_weights.json").read_text())
    assert stored["selection"]["chosen"] == "fitted" and "score_separations" in stored["selection"]["reason"]


def test_members_are_cached_and_zero_weights_skipped(tmp_path):
    CALLS.clear()
    ctx = fake_ctx(tmp_path, separation_cache_dir=str(tmp_path / "cache"))
    ensemble = Ensemble({"members": ["fake_a", "fake_b", "fake_c"], "weights": {"*": [1, 1, 0]}})
    ensemble.prepare(ctx)
    mixture = np.random.default_rng(5).standard_normal((3000, 2)).astype(np.float32)
    first = ensemble.separate(mixture, ["Violin", "Cello"])
    second = ensemble.separate(mixture, ["Violin", "Cello"])
    assert CALLS == {"fake_a": 1, "fake_b": 1}
    expected = 0.5 * filter_a(mixture) + 0.5 * filter_b(mixture)
    np.testing.assert_allclose(first["Violin"], expected, atol=1e-6)
    np.testing.assert_allclose(second["Cello"], expected, atol=1e-6)
    assert first["Violin"].shape == mixture.shape and first["Violin"].dtype == np.float32
    # a member scored alone with the same cache reuses the ensemble's separation
    from harness.cache import CachedSeparator

    alone = CachedSeparator(FakeMember("fake_a", filter_a), tmp_path / "cache", identity="fake_a")
    alone.separate(mixture, ["Violin", "Cello"])
    assert CALLS["fake_a"] == 1


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_ensemble_trains_members_and_learns_weights_end_to_end(tmp_path):
    train = SyntheticCAD2(instruments=("Violin", "Cello"), songs=4, seconds=1.0, split="train")
    valid = SyntheticCAD2(instruments=("Violin", "Cello"), songs=1, seconds=1.0, split="valid")
    train_opts = {"steps": 2, "batch_size": 2, "segment_seconds": 0.25, "holdout_fraction": 0.25}
    cfg = OmegaConf.create({
        "systems": {
            "convtasnet": {"model": {"N": 16, "L": 8, "B": 8, "H": 16, "X": 2, "R": 1}, "train": train_opts, "segment": 0.5},
            "waveunet": {"model": {"levels": 3, "base_channels": 4}, "train": train_opts, "segment": 0.5},
            "arunet": {"model": {"frame_length": 64, "filters": [4, 6, 8]}, "train": train_opts, "segment": 0.5},
            "ensemble_learned": {},
        }
    })
    ctx = RunContext(exp_dir=tmp_path / "exp" / "ensemble", cfg=cfg, dataset=lambda s: train if s == "train" else valid,
                     is_demo=True, separation_cache_dir=tmp_path / "cache",
                     build=lambda name: registry.build_chain(name, cfg, tmp_path / "cache"))
    from harness.registry import build

    (ensemble,) = build("ensemble_learned", cfg)
    ensemble.train(ctx)
    for member in ("convtasnet", "waveunet", "arunet"):
        for instrument in ("Cello", "Violin"):
            assert (ctx.checkpoint_dir / member / "demo" / instrument / "model.safetensors").is_file()
    stored = json.loads((ctx.checkpoint_dir / "ensemble_learned" / "learned_weights.json").read_text())
    assert stored["songs"] and set(stored["instruments"]) >= {"Cello", "Violin", "*"}
    (seeded,) = build("ensemble", cfg)
    seeded.prepare(ctx)
    ensemble.prepare(ctx)
    song = next(iter(valid.songs.values()))
    mixture = valid.load_track(song.mixture)
    instruments = sorted({t.instrument for t in song.sources.values()})
    for system in (ensemble, seeded):
        stems = system.separate(mixture, instruments)
        assert sorted(stems) == instruments
        assert all(s.shape == mixture.shape and np.isfinite(s).all() for s in stems.values())
    cached = list((tmp_path / "cache").rglob("*.npz"))
    assert {p.parent.name for p in cached} == {"convtasnet", "waveunet", "arunet"}


@pytest.mark.slow
def test_demo_members_learn_to_beat_the_mixture(tmp_path):
    """The demo-size members, briefly trained, separate the violin better than the mixture
    itself does (SDR of the target), on songs they have not seen."""
    from baselines.separators import ARUNetSeparator, ConvTasNetSeparator, WaveUNetSeparator
    from baselines.training_data import target_and_accompaniment

    train = SyntheticCAD2(instruments=("Violin", "Cello", "Flute"), songs=6, seconds=3.0, split="train")
    valid = SyntheticCAD2(instruments=("Violin", "Cello", "Flute"), songs=3, seconds=3.0, split="valid")
    ctx = RunContext(exp_dir=tmp_path / "exp" / "s", cfg={}, dataset=lambda s: train if s == "train" else valid, is_demo=True)

    def sdr(reference, estimate):
        return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))

    songs = [s for s in valid.songs.values() if "Violin" in {t.instrument for t in s.sources.values()}]
    assert songs
    for cls, steps in ((ConvTasNetSeparator, 60), (WaveUNetSeparator, 60), (ARUNetSeparator, 40)):
        # the raw estimate: with one requested stem, mixture consistency would return the mixture
        separator = cls({"instruments": ["Violin"], "add_residual": 0.0, "mixture_consistency": False,
                         "wiener": False, "train": {"steps": steps}})
        separator.prepare(ctx)
        gains = []
        for song in songs:
            mixture = valid.load_track(song.mixture)
            target, _ = target_and_accompaniment(valid, song, "Violin")
            gains.append(sdr(target, separator.separate(mixture, ["Violin"])["Violin"]) - sdr(target, mixture))
        assert np.mean(gains) > 3.0, (cls.name, gains)
