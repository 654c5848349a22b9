"""STOI as the CLIP1 baseline computes it, and the MSBG wrapper."""

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate, resample_poly

from evaluators.msbg import get_ear, make_audiogram, simulate_ears, simulate_hearing_loss
from evaluators.stoi import better_ear_stoi, input_align, stoi, stoi_ears

ASSETS = Path(__file__).resolve().parents[1] / "harness" / "demo" / "assets" / "lyrics"
MILD = [10, 10, 15, 20, 25, 30, 35, 40]
MODERATE = [25, 30, 35, 45, 50, 55, 60, 65]


@pytest.fixture(scope="module")
def speech44():
    x, sr = sf.read(ASSETS / "lyric02.flac", dtype="float64")
    return resample_poly(x, 2, 1) * 0.05  # 44.1 kHz, about -46 dBFS RMS


def _official_input_align():
    """The official CLIP1 input_align, taken from the installed recipe's source (its module
    imports torchaudio, so it is not imported; the function is compiled on its own)."""
    spec = importlib.util.find_spec("recipes.cad_icassp_2026.baseline")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyclarity recipes not installed")
    src = (Path(list(spec.submodule_search_locations)[0]) / "shared_predict_utils.py").read_text()
    node = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == "input_align")
    ns: dict = {}
    exec("import numpy as np\nfrom scipy.signal import correlate\n" + ast.get_source_segment(src, node), ns)
    return ns["input_align"]


def test_input_align_matches_official():
    official = _official_input_align()
    rng = np.random.default_rng(0)
    ref = np.concatenate([np.zeros(300), rng.standard_normal(5000), np.zeros(200)])
    for delay in (0, 37, -25):
        proc = np.roll(ref, delay) * 0.7 + 0.01 * rng.standard_normal(ref.size)
        ours = input_align(ref, proc, 10000)
        theirs = official(ref, proc, fsamp=10000)
        np.testing.assert_allclose(ours[0], theirs[0])
        np.testing.assert_allclose(ours[1], theirs[1])


def test_stoi_orders_conditions(speech44):
    sr = 44100
    rng = np.random.default_rng(1)
    clean = stoi(speech44, speech44, sr)
    noisy = stoi(speech44 + 3 * speech44.std() * rng.standard_normal(speech44.size), speech44, sr)
    assert clean > 0.97  # not 1: input_align backs off 2 ms, as the official code does
    assert noisy < clean - 0.1
    delayed = stoi(np.concatenate([np.zeros(441), speech44[:-441]]), speech44, sr)
    assert delayed > 0.95  # alignment undoes a 10 ms delay


def test_stoi_ears_and_better_ear(speech44):
    sr = 44100
    rng = np.random.default_rng(2)
    ref = np.stack([speech44, speech44], axis=1)
    proc = ref + np.stack([0.5 * rng.standard_normal(speech44.size), 0.01 * rng.standard_normal(speech44.size)], axis=1) * speech44.std() * 4
    left, right = stoi_ears(proc, ref, sr)
    assert right > left
    assert better_ear_stoi(proc, ref, sr) == right
    with pytest.raises(ValueError, match="silent"):
        stoi_ears(np.zeros_like(ref), ref, sr)
    with pytest.raises(ValueError, match="channel"):
        stoi_ears(proc[:, :1], ref, sr)


def test_msbg_wrong_rate_and_bad_input(speech44):
    with pytest.raises(ValueError, match="44100"):
        simulate_hearing_loss(speech44, 16000, MILD)
    with pytest.raises(ValueError, match="one ear"):
        simulate_hearing_loss(np.stack([speech44, speech44], 1), 44100, MILD)
    with pytest.raises(ValueError, match="non-silent"):
        simulate_hearing_loss(np.zeros(1000), 44100, MILD)
    with pytest.raises(ValueError, match="levels"):
        make_audiogram([10, 20])


def test_msbg_delay_length_and_attenuation(speech44):
    x = speech44[:44100]
    y = simulate_hearing_loss(x, 44100, MODERATE)
    assert y.size >= x.size  # smearing pads to whole frames
    lag = int(np.argmax(np.abs(correlate(y, x, "full")))) - (x.size - 1)
    assert 1000 < lag < 1400  # ~24-29 ms, see the module docstring
    assert simulate_hearing_loss(x, 44100, MODERATE, trim=True).size == x.size
    y_mild = simulate_hearing_loss(x, 44100, MILD)
    assert np.std(y) < np.std(y_mild)  # more loss, quieter


def test_cached_ear_gives_the_same_result_as_a_fresh_one(speech44):
    from clarity.evaluator.msbg.msbg import Ear

    x = speech44[:22050]
    aud = make_audiogram(MILD)
    assert get_ear(aud) is get_ear(make_audiogram(MILD))
    first = simulate_hearing_loss(x, 44100, aud)
    second = simulate_hearing_loss(x, 44100, aud)
    fresh = Ear(equiv_0db_spl=100, sample_rate=44100)
    fresh.set_audiogram(aud)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, fresh.process(x)[0])


def test_simulate_ears_shape(speech44):
    x = np.stack([speech44[:22050], 0.5 * speech44[:22050]], axis=1)
    y = simulate_ears(x, 44100, MILD, MODERATE, trim=True)
    assert y.shape == x.shape
