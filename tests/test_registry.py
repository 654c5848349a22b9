"""The system registry: chains, kinds, capabilities against task needs, comparisons, outside factories."""

from __future__ import annotations

import pytest

from harness import registry, systems
from harness.errors import HarnessError
from harness.systems import RunContext


@pytest.fixture
def scratch_registry(monkeypatch):
    registry.available()  # built-ins first, then the test's systems on a copy
    monkeypatch.setattr(systems, "REGISTERED", dict(systems.REGISTERED))
    monkeypatch.setattr(registry, "REGISTERED", systems.REGISTERED)

    @systems.register("sep_a", kind="separator", produces=systems.VOCALS, compare_with=("oracle", "mixture"))
    class SepA:
        def __init__(self, cfg):
            self.cfg = cfg

    @systems.register("enh_b", kind="enhancer")
    class EnhB:
        def __init__(self, cfg):
            self.cfg = cfg

    @systems.register("pred_c", kind="predictor", produces=systems.INTELLIGIBILITY)
    class PredC:
        def __init__(self, cfg):
            self.cfg = cfg


class FakeTask:
    def __init__(self, accepts, needs):
        self.accepts, self.needs = accepts, needs


def test_chain_kinds_and_order(scratch_registry):
    assert registry.chain_kind("sep_a+enh_b") == "separator"
    assert registry.chain_kind("enh_b+pred_c") == "predictor"
    assert registry.chain_kind("enh_b") == "enhancer"
    with pytest.raises(HarnessError, match="separator can only come first"):
        registry.chain_specs("enh_b+sep_a")
    with pytest.raises(HarnessError, match="predictor can only come last"):
        registry.chain_specs("pred_c+enh_b")


def test_the_task_need_is_matched_by_the_part_facing_the_task(scratch_registry):
    vocals_task = FakeTask(("separator",), systems.VOCALS)
    instruments_task = FakeTask(("separator",), systems.INSTRUMENTS)
    prediction_task = FakeTask(("predictor",), systems.INTELLIGIBILITY)
    assert registry.runs_on("sep_a", vocals_task) and registry.runs_on("sep_a+enh_b", vocals_task)
    assert not registry.runs_on("sep_a", instruments_task)
    assert registry.runs_on("oracle", instruments_task) and registry.runs_on("oracle", vocals_task)  # produces anything
    assert registry.runs_on("enh_b+pred_c", prediction_task) and registry.runs_on("pred_c", prediction_task)
    assert not registry.runs_on("sep_a", prediction_task)  # a separator chain on a prediction task
    assert not registry.runs_on("pred_c", vocals_task)


def test_an_unknown_capability_is_refused():
    with pytest.raises(ValueError, match="unknown capability"):
        systems.register("bad", kind="separator", produces="stems of some kind")(lambda cfg: None)


def test_comparisons_come_first_once(scratch_registry):
    assert registry.with_comparisons(["sep_a", "mixture"]) == ["oracle", "mixture", "sep_a"]
    # a chain is compared with its control (the chain without its enhancers) and the control's comparisons
    assert registry.with_comparisons(["sep_a+enh_b"]) == [*registry.with_comparisons(["sep_a"]), "sep_a+enh_b"]
    assert registry.with_comparisons(["enh_b+pred_c"]) == [*registry.with_comparisons(["pred_c"]), "enh_b+pred_c"]
    assert registry.control("enh_b+pred_c") == "pred_c" and registry.control("sep_a+enh_b") == "sep_a"
    assert registry.control("sep_a") is None and registry.control("enh_b+enh_b") is None


def test_build_passes_each_part_its_section(scratch_registry):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"systems": {"enh_b": {"strength": 0.5}}})
    sep, enh = registry.build("sep_a+enh_b", cfg)
    assert sep.cfg == {} and enh.cfg.strength == 0.5


def test_build_chain_wraps_separators_in_the_cache(scratch_registry, tmp_path):
    from omegaconf import OmegaConf

    from harness.cache import CachedSeparator

    cfg = OmegaConf.create({"systems": {}})
    assert isinstance(registry.build_chain("mixture", cfg, tmp_path), CachedSeparator)
    assert not isinstance(registry.build_chain("mixture", cfg, None), CachedSeparator)
    chain = registry.build_chain("mixture+enh_b", cfg, tmp_path)
    assert isinstance(chain, registry.Chain) and isinstance(chain.parts[0], CachedSeparator)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(HarnessError, match="unknown system 'nope'; known systems: .*oracle"):
        registry.spec("nope")


@pytest.mark.parametrize("is_demo, expected", [(True, True), (False, None)])
def test_context_says_demo_only_when_it_knows(is_demo, expected, tmp_path):
    """On other data the harness cannot tell; systems then judge from the data (a tiny set
    passed with --data-root still gets the small presets)."""
    from omegaconf import OmegaConf

    class FakeTask:
        cfg = OmegaConf.create({"path": {"is_demo": is_demo}})
        dataset = None

    ctx = registry.context(FakeTask(), tmp_path / "system")
    assert ctx.is_demo is expected
    assert ctx.separation_cache_dir == tmp_path / "separations"


def _square_logged(x, log):
    log.append(x)  # a copy in a worker process: the caller's list is untouched there
    return x * x


@pytest.mark.parametrize("jobs", [1, 2])
def test_context_map_keeps_the_order_of_the_calls(jobs, tmp_path):
    ctx = RunContext(exp_dir=tmp_path, cfg=None, dataset=None, jobs=jobs)
    drawn = []

    def calls():
        for x in range(7):
            drawn.append(x)
            yield x, []

    results = ctx.map(_square_logged, calls())
    if jobs == 1:
        assert drawn == []  # in process: nothing is drawn before the results are asked for
    assert list(results) == [x * x for x in range(7)] and drawn == list(range(7))
