"""The system registry: chains, kinds, comparisons, outside factories."""

from __future__ import annotations

import pytest

from harness import systems
from harness.errors import HarnessError


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(systems, "_REGISTRY", dict(systems.available()))

    @systems.register("sep_a", kind="separator", compare_with=("oracle", "mixture"))
    class SepA:
        def __init__(self, cfg):
            self.cfg = cfg

    @systems.register("enh_b", kind="enhancer", tasks=("cad2/task2",))
    class EnhB:
        def __init__(self, cfg):
            self.cfg = cfg

    @systems.register("pred_c", kind="predictor")
    class PredC:
        def __init__(self, cfg):
            self.cfg = cfg


def test_chain_kinds_and_order(scratch_registry):
    assert systems.chain_kind("sep_a+enh_b") == "separator"
    assert systems.chain_kind("enh_b+pred_c") == "predictor"
    assert systems.chain_kind("enh_b") == "enhancer"
    with pytest.raises(HarnessError, match="separator can only come first"):
        systems.chain_specs("enh_b+sep_a")
    with pytest.raises(HarnessError, match="predictor can only come last"):
        systems.chain_specs("pred_c+enh_b")


def test_supports_needs_every_part(scratch_registry):
    assert systems.supports("sep_a", "cad2/task1")
    assert not systems.supports("sep_a+enh_b", "cad2/task1")
    assert systems.supports("sep_a+enh_b", "cad2/task2")


def test_comparisons_come_first_once(scratch_registry):
    assert systems.with_comparisons(["sep_a", "mixture"]) == ["oracle", "mixture", "sep_a"]
    assert systems.with_comparisons(["sep_a+enh_b"]) == ["sep_a+enh_b"]


def test_build_passes_each_part_its_section(scratch_registry):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"systems": {"enh_b": {"strength": 0.5}}})
    sep, enh = systems.build("sep_a+enh_b", cfg)
    assert sep.cfg == {} and enh.cfg.strength == 0.5


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(HarnessError, match="unknown system 'nope'; known systems: .*oracle"):
        systems.spec("nope")
