"""The post-processor contract: a chain gives a post-processor each stem's name and the mixture,
tells a part what comes before it, reuses the cached separation for every post-processor, and
brings an enhancer's ceiling chain (``arunet+codec`` -> ``oracle+codec``)."""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry, systems


class CountingSeparator:
    calls = 0

    def __init__(self, cfg=None):
        self.name, self.sample_rate = "sep_x", 44100

    def prepare(self, ctx):
        pass

    def separate(self, mixture, sources):
        CountingSeparator.calls += 1
        return {s: (i + 1) * 0.1 * mixture for i, s in enumerate(sources)}


class RecordingPost:
    """A post-processor: records what the chain passes; output = stem + 0.01 * mixture."""

    def __init__(self, cfg=None):
        self.name, self.seen, self.chain_input = "post_y", [], None

    def prepare(self, ctx):
        pass

    def enhance(self, signal, sample_rate):
        raise AssertionError("a chain after a separator calls post_process")

    def post_process(self, stem, sample_rate, *, source, mixture):
        self.seen.append((source, sample_rate, mixture.shape))
        return stem + 0.01 * mixture


class PlainEnhancer:
    def __init__(self, cfg=None):
        self.name = "plain_z"

    def prepare(self, ctx):
        pass

    def enhance(self, signal, sample_rate):
        return 2 * signal


@pytest.fixture
def scratch(monkeypatch):
    registry.available()
    monkeypatch.setattr(systems, "REGISTERED", dict(systems.REGISTERED))
    monkeypatch.setattr(registry, "REGISTERED", systems.REGISTERED)
    systems.register("sep_x", kind="separator", produces=systems.INSTRUMENTS)(CountingSeparator)
    systems.register("post_y", kind="enhancer", ceiling="oracle")(RecordingPost)
    systems.register("plain_z", kind="enhancer")(PlainEnhancer)
    CountingSeparator.calls = 0


def test_the_post_processor_gets_the_stem_name_and_the_mixture(scratch):
    chain = registry.build_chain("sep_x+post_y+plain_z", None, None)
    sep, post, plain = chain.parts
    assert isinstance(post, systems.PostProcessor) and not isinstance(plain, systems.PostProcessor)
    assert post.chain_input == "sep_x"  # what comes before it in the chain
    mixture = np.ones((10, 2), np.float32)
    stems = chain.separate(mixture, ["Violin", "Cello"])
    assert post.seen == [("Violin", 44100, (10, 2)), ("Cello", 44100, (10, 2))]
    assert np.allclose(stems["Violin"], 2 * (0.1 + 0.01)) and np.allclose(stems["Cello"], 2 * (0.2 + 0.01))
    assert registry.build_chain("sep_x+plain_z+post_y", None, None).parts[2].chain_input == "sep_x+plain_z"


def test_every_post_processor_variant_reuses_the_cached_separation(scratch, tmp_path):
    mixture = np.random.default_rng(0).standard_normal((100, 2)).astype(np.float32)
    first = registry.build_chain("sep_x+post_y", None, tmp_path).separate(mixture, ["Violin"])
    second = registry.build_chain("sep_x+plain_z", None, tmp_path).separate(mixture, ["Violin"])
    alone = registry.build_chain("sep_x", None, tmp_path).separate(mixture, ["Violin"])
    assert CountingSeparator.calls == 1  # one separation, three systems
    assert np.allclose(first["Violin"], alone["Violin"] + 0.01 * mixture)
    assert np.allclose(second["Violin"], 2 * alone["Violin"])


def test_a_chain_brings_its_control_and_its_ceiling(scratch):
    assert registry.ceiling("sep_x+post_y") == "oracle+post_y"
    assert registry.ceiling("sep_x+plain_z+post_y") == "oracle+plain_z+post_y"
    assert registry.ceiling("oracle+post_y") is None and registry.ceiling("sep_x+plain_z") is None
    assert registry.ceiling("sep_x") is None
    assert registry.with_comparisons(["sep_x+post_y"]) == ["sep_x", "oracle", "oracle+post_y", "sep_x+post_y"]
    assert registry.with_comparisons(["sep_x+plain_z"]) == ["sep_x", "sep_x+plain_z"]
    assert registry.control("oracle+post_y") == "oracle"


def test_only_an_enhancer_has_a_ceiling():
    with pytest.raises(ValueError, match="ceiling"):
        systems.make_spec("bad", lambda cfg: None, "separator", ceiling="oracle")
    assert systems.make_spec("ok", lambda cfg: None, "enhancer", ceiling="oracle").ceiling == "oracle"


def test_the_builtin_post_processors_are_registered():
    assert registry.spec("codec").kind == "enhancer" and registry.spec("codec").ceiling == "oracle"
    assert registry.spec("msg").kind == "enhancer" and registry.spec("msg").ceiling is None
    assert registry.with_comparisons(["arunet+msg", "arunet+codec"]) == [
        "arunet", "arunet+msg", "oracle", "oracle+codec", "arunet+codec"]
