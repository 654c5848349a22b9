"""Parity of the CAD1 task 2 car scene (harness/car_scene.py) with pyclarity 0.9.0's
``recipes/cad1/task2/baseline/car_scene_acoustics.py`` on the same inputs, and of its car
noise with pyclarity's generator for the same parameters and seed; synthetic eBrIRD layout
(harness/demo/car_brir.py). Tolerance 1e-12: FFT convolution against lfilter."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from clarity.utils.audiogram import Audiogram, Listener
from clarity.utils.car_noise_simulator.carnoise_parameters_generator import CarNoiseParametersGenerator
from clarity.utils.car_noise_simulator.carnoise_signal_generator import CarNoiseSignalGenerator
from omegaconf import OmegaConf
from recipes.cad1.task2.baseline.audio_manager import AudioManager  # pyclarity's installed recipe
from recipes.cad1.task2.baseline.car_scene_acoustics import CarSceneAcoustics

from evaluators.haaqi import seeded_global_rng
from harness.car_scene import CarScene, noise_seconds, read_response
from harness.demo.car_brir import write_ebrird
from harness.errors import InputError
from harness.task import legacy_rng

SR = 44100
COMPRESSOR = dict(threshold=0.7, attenuation=0.1, attack=5, release=20, rms_buffer_size=0.064)
AUDIOGRAM = Audiogram(levels=np.array([20, 25, 30, 40, 50, 55, 60, 65.0]),
                      frequencies=np.array([250, 500, 1000, 2000, 3000, 4000, 6000, 8000]))


@pytest.fixture(scope="module")
def ebrird(tmp_path_factory):
    root = tmp_path_factory.mktemp("ebrird")
    return root, write_ebrird(root, 1, {"valid": [34, 36]})


def _params(seed: int, speed: int = 80) -> dict:
    with seeded_global_rng(np.random.RandomState(seed)):
        return CarNoiseParametersGenerator().gen_parameters(speed)


def test_car_noise_equals_pyclarity_generator(ebrird):
    params = _params(3)
    ours = CarScene(ebrird[0], SR, 220, COMPRESSOR).car_noise(params, 1.5, np.random.RandomState(7))
    state = np.random.get_state()
    try:
        np.random.seed(7)
        theirs = CarNoiseSignalGenerator(SR, 2).generate_car_noise(params, 2, 0)
    finally:
        np.random.set_state(state)
    assert ours.shape == (3, 2 * SR)
    np.testing.assert_array_equal(ours, theirs)


def test_noise_seconds_covers_the_track_and_keeps_upstreams_36_s():
    assert noise_seconds(30.0) == 36
    assert noise_seconds(1.5) == 2 and noise_seconds(0.3) == 1


@pytest.mark.filterwarnings("ignore::scipy.io.wavfile.WavFileWarning")
def test_scene_chain_and_reference_equal_pyclarity(ebrird, tmp_path, monkeypatch):
    root, index = ebrird
    hrir = index["valid"]["34"]
    scene = {"scene": "S500001", "car_noise_parameters": _params(5), "snr": 6.5}
    listener = Listener(audiogram_left=AUDIOGRAM, audiogram_right=AUDIOGRAM, id="L1")
    x = 0.1 * np.random.default_rng(0).standard_normal((int(1.5 * SR), 2))
    ours = CarScene(root, SR, 220, COMPRESSOR)
    processed, _ = ours.processed(x, scene, hrir, listener, legacy_rng("S500001"), 1.5)
    reference = ours.reference(x, hrir, processed)

    monkeypatch.chdir(tmp_path)  # pyclarity's AudioManager writes beside the working directory
    theirs = CarSceneAcoustics(track_duration=2 / 1.2, sample_rate=SR, hrtf_dir=str(root),
                               config_nalr={"nfir": 220, "sample_rate": SR}, config_compressor=COMPRESSOR)
    state = np.random.get_state()
    try:
        np.random.seed(int(hashlib.md5(b"S500001").hexdigest(), 16) % 10**8)
        their_processed = theirs.apply_car_acoustics_to_signal(
            x.T, scene, listener, hrir, AudioManager(sample_rate=SR, output_audio_path="x"),
            OmegaConf.create({"evaluate": {"save_intermediate_wavs": False}}))
    finally:
        np.random.set_state(state)
    their_reference = theirs.equalise_level(theirs.add_hrtf_to_stereo_signal(x.T, hrir["anechoic"], "Anechoic"),
                                            their_processed, max_level=-14)
    assert processed.shape == (x.shape[0] + 220, 2)  # NAL-R's np.convolve adds nfir samples
    np.testing.assert_allclose(processed, their_processed.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reference, their_reference.T, rtol=0, atol=1e-12)


def test_missing_response_is_one_line_naming_the_file(ebrird):
    root, index = ebrird
    scene = CarScene(root, SR, 220, COMPRESSOR)
    bad = {**index["valid"]["36"], "car": {**index["valid"]["36"]["car"],
                                           "left_speaker": {"left_side": "HR99_LS03_CH1_Left", "right_side": "HR99_LS03_CH1_Right"}}}
    with pytest.raises(InputError, match="HR99_LS03_CH1_Left.wav.*not found"):
        scene.check_responses(bad, "scene S1")
    scene.check_responses(index["valid"]["36"], "scene S1")  # the complete set passes
    with pytest.raises(InputError, match="not found"):
        read_response(str(root / "nothing.wav"))


def test_synthetic_brirs_are_deterministic_and_plausible(ebrird, tmp_path):
    root, index = ebrird
    again = write_ebrird(tmp_path, 1, {"valid": [34, 36]})
    assert again == index
    name = index["valid"]["36"]["car"]["left_speaker"]["left_side"]
    a = read_response(str(root / "Car" / "audio" / f"{name}.wav"))
    b = read_response(str(tmp_path / "Car" / "audio" / f"{name}.wav"))
    np.testing.assert_array_equal(a, b)
    onset = int(np.argmax(np.abs(a) > 0.1 * np.max(np.abs(a))))
    assert 60 <= onset <= 140  # 0.7 m at 343 m/s = 90 samples, plus the head response's 16-sample pre-delay
    energy = np.cumsum(a[::-1] ** 2)[::-1]
    assert energy[int(0.05 * SR)] < 1e-2 * energy[0]  # a dead cabin: little energy after 50 ms
