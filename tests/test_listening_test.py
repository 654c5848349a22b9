"""MUSHRA stimuli (hidden reference, 3.5 kHz anchor, loudness-matched), the webMUSHRA config, and
reading webMUSHRA's result CSVs with BS.1534-3 post-screening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyloudnorm as pyln
import pytest
import soundfile as sf
import yaml

from harness.listening import stimuli, webmushra

RATE = 48000


def _tone(freq, seconds=1.0, amp=0.1, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([amp * np.sin(2 * np.pi * freq * t)] * 2, axis=1)


def _rms(x):
    return float(np.sqrt(np.mean(x[RATE // 10 : -RATE // 10] ** 2)))


def test_anchor_keeps_the_band_below_3_5_khz_and_removes_the_rest():
    assert _rms(stimuli.low_pass_anchor(_tone(1000), RATE)) / _rms(_tone(1000)) == pytest.approx(1, abs=0.01)
    assert 20 * np.log10(_rms(stimuli.low_pass_anchor(_tone(7000), RATE)) / _rms(_tone(7000))) < -60
    with pytest.raises(ValueError, match="Nyquist"):
        stimuli.low_pass_anchor(_tone(100, rate=6000), 6000)


def test_loudness_matching_brings_every_stimulus_to_the_target_and_never_clips():
    meter = pyln.Meter(RATE)
    out, gain = stimuli.loudness_matched({"quiet": _tone(500, amp=0.01), "loud": _tone(2000, amp=0.3)}, RATE, -30.0)
    assert gain == 0.0
    for x in out.values():
        assert meter.integrated_loudness(x) == pytest.approx(-30.0, abs=0.05)
    out, gain = stimuli.loudness_matched({"a": _tone(500, amp=0.01), "b": _tone(3000, amp=0.2)}, RATE, 0.0)
    assert gain < 0 and max(np.abs(x).max() for x in out.values()) <= stimuli.PEAK + 1e-12
    la, lb = (meter.integrated_loudness(x) for x in out.values())
    assert la == pytest.approx(lb, abs=0.05)  # one common gain keeps them matched


def test_a_trial_has_one_rate_length_and_layout():
    mono_short = _tone(440, 0.8, rate=32000)[:, 0]
    signals, _ = stimuli.trial((_tone(440, 1.0, rate=44100), 44100), {"C1": (mono_short, 32000)}, RATE, 10.0, -23.0)
    assert set(signals) == {"reference", "C1", "anchor35"}
    assert {x.shape for x in signals.values()} == {(int(0.8 * RATE), 2)}


def test_config_hides_names_and_uses_our_anchor():
    cfg = webmushra.config("t", [{"id": "trial-1", "conditions": ["C1", "anchor35"]}], "configs/resources/audio/t")
    page = cfg["pages"][1]
    assert page["type"] == "mushra" and page["createAnchor35"] is False
    assert page["reference"] == "configs/resources/audio/t/trial-1/reference.wav"
    assert set(page["stimuli"]) == {"C1", "anchor35"} and cfg["pages"][-1]["writeResults"] is True


def _mushra_csv(path, sessions):
    rows = [{"session_test_id": "cad2_task2", "session_uuid": s, "trial_id": t, "rating_stimulus": c, "rating_score": v,
             "rating_time": 1000, "rating_comment": ""} for s, trials in sessions.items() for t, ratings in trials.items()
            for c, v in ratings.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


def test_listening_test_stage_and_results(run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--alone") == 0
    assert run_cli("--system", "mixture", "--stage", "listening-test", "listening_test.items=2") == 0
    folder = exp / "cad2/task2/listening_test"
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    trials = [p for p in cfg["pages"] if p["type"] == "mushra"]
    assert len(trials) == 2
    for page in trials:
        files = [page["reference"], *page["stimuli"].values()]
        infos = [sf.info(str(folder / "audio" / f.split("/", 4)[-1])) for f in files]
        assert {(i.samplerate, i.channels, i.frames, i.subtype) for i in infos} == {(RATE, 2, int(1.5 * RATE), "PCM_16")}
    stim = pd.read_csv(folder / "stimuli.csv")
    assert list(stim[stim["trial_id"] == "trial-1"]["system"]) == ["hidden reference", "anchor (3.5 kHz low-pass)", "mixture"]

    good = {"trial-1": {"reference": 100, "anchor35": 10, "C1": 40}, "trial-2": {"reference": 95, "anchor35": 20, "C1": 60}}
    bad = {"trial-1": {"reference": 30, "anchor35": 90, "C1": 90}, "trial-2": {"reference": 100, "anchor35": 90, "C1": 90}}
    _mushra_csv(tmp_path / "a.csv", {"s1": good})
    _mushra_csv(tmp_path / "b.csv", {"s2": bad})  # misses the hidden reference in half the trials: screened out
    capsys.readouterr()
    assert run_cli("--system", "mixture", "--stage", "listening-test", "--results", str(tmp_path / "a.csv"),
                   str(tmp_path / "b.csv")) == 0
    table = pd.read_csv(folder / "results.csv").set_index("system")
    assert table.loc["mixture", "mean"] == pytest.approx(50.0) and table.loc["mixture", "n"] == 2
    assert table.loc["hidden reference", "mean"] == pytest.approx(97.5)
    assert "mixture" in capsys.readouterr().out

    _mushra_csv(tmp_path / "c.csv", {"s3": {"trial-9": {"C1": 50}}})
    assert run_cli("--system", "mixture", "--stage", "listening-test", "--results", str(tmp_path / "c.csv")) == 2
    assert "trial 'trial-9' condition 'C1' is not in stimuli.csv" in capsys.readouterr().err


def test_screening_follows_bs1534():
    ratings = pd.DataFrame({"session_uuid": ["a"] * 7 + ["b"] * 7, "condition": ["reference"] * 14,
                            "score": [100] * 6 + [80] + [100] * 5 + [80] * 2})
    # a misses one trial in seven (14%): kept; b misses two (29%): excluded
    assert webmushra.screened_out(ratings) == ["b"]
