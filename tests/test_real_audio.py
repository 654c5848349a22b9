"""Metrics on real recordings (fixtures from installed packages, see tests/real_audio.py):
SDR and HAAQI on stempeg's MUSDB-style excerpt, Whisper correctness on Asterisk prompts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.real_audio import FixtureUnavailable, asterisk_prompts, musdb_example

# Whisper tiny.en (int8, CPU) scored 1.000 mean correctness on these 8 prompts when this floor
# was set; the floor leaves room for another CTranslate2 build rounding differently.
PROMPT_CORRECTNESS_FLOOR = 0.9
MILD = ([250, 500, 1000, 2000, 3000, 4000, 6000, 8000], [10, 15, 20, 30, 35, 40, 45, 50])


def _fixture(load, *args):
    try:
        return load(*args)
    except FixtureUnavailable as err:
        pytest.skip(str(err))


def test_musdb_example_sdr_and_haaqi():
    from clarity.utils.audiogram import Audiogram

    from evaluators.haaqi import compute_haaqi
    from evaluators.sdr import museval_sdr

    audio, rate = _fixture(musdb_example)
    stems = ("drums", "bass", "other", "vocals")
    mixture = audio["mixture"]
    assert rate == 44100 and mixture.ndim == 2 and mixture.shape[1] == 2 and 5.5 < len(mixture) / rate < 6.5
    # the coded mixture is off the stems' sum (why the fixture uses the sum)
    n = min(len(mixture), len(audio["aac_mixture"]))
    off = audio["aac_mixture"][:n] - mixture[:n]
    assert 10 * np.log10(np.sum(mixture[:n] ** 2) / np.sum(off**2)) < 40

    as_mixture = museval_sdr({s: mixture for s in stems}, {s: audio[s] for s in stems}, rate)
    closer = museval_sdr({s: audio[s] + 0.1 * (mixture - audio[s]) for s in stems}, {s: audio[s] for s in stems}, rate)
    for s in stems:
        assert np.isfinite(as_mixture[s]) and -30 < as_mixture[s] < 30, (s, as_mixture[s])
        assert closer[s] > as_mixture[s] + 10, (s, closer[s], as_mixture[s])

    audiogram = Audiogram(levels=np.array(MILD[1], dtype=float), frequencies=np.array(MILD[0]))
    left = lambda x: x[:, 0]  # noqa: E731
    mix_vs_vocals = compute_haaqi(left(mixture), left(audio["vocals"]), rate, rate, audiogram, 2, 65.0, seed=0)
    vocals_self = compute_haaqi(left(audio["vocals"]), left(audio["vocals"]), rate, rate, audiogram, 2, 65.0, seed=0)
    assert np.isfinite(mix_vs_vocals) and 0 <= mix_vs_vocals <= 1
    assert vocals_self > 0.95 > mix_vs_vocals


def test_asterisk_prompts_whisper_correctness():
    pytest.importorskip("faster_whisper")
    from evaluators.whisper import Transcriber, score_ears

    prompts = _fixture(asterisk_prompts, 8)
    transcriber = Transcriber(device="cpu")
    scores = [score_ears(transcriber, x[:, None], rate, text)["better_ear"] for _, x, rate, text in prompts]
    assert all(0 <= s <= 1 for s in scores)
    assert np.mean(scores) >= PROMPT_CORRECTNESS_FLOOR, dict(zip([p[0] for p in prompts], scores))


def test_missing_prompts_name_the_package(monkeypatch, tmp_path):
    import tests.real_audio as real_audio

    monkeypatch.setattr(real_audio, "PROMPTS_DIR", tmp_path / "none")
    with pytest.raises(FixtureUnavailable, match=r"apt-get install asterisk-core-sounds-en-wav\)$"):
        real_audio.asterisk_prompts(8)
