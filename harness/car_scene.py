"""The car scene of CAD1 task 2 (pyclarity ``recipes/cad1/task2/baseline/car_scene_acoustics.py``,
``CarSceneAcoustics``), computed the same way on (n, 2) arrays:

1. car noise from pyclarity's ``CarNoiseSignalGenerator`` (engine harmonics + two filtered
   Gaussian sources, ``number_noise_sources=2, commonness_factor=0``), drawn from the scene's
   RandomState instead of numpy's global one (``evaluators.haaqi.seeded_global_rng``), as
   long as the track plus 20 % (rounded to whole seconds, as the generator does);
2. the three noise rows through the anechoic responses at 0, -90 and +90 degrees;
3. the loudspeaker signal through the car responses of the scene's head rotation (left
   loudspeaker and right loudspeaker, each to both ears);
4. the noise scaled so that its integrated loudness is the music's minus the scene's SNR;
5. their sum, cut to the shorter;
6. the fixed hearing aid per ear (``harness.hearing_aid.FixedHearingAid``);
7. clipping to [-1, 1] (tanh first with soft clipping), counting the clipped samples.

The reference is the original song through the anechoic responses of the reference
loudspeakers, brought to the processed signal's loudness but never above ``max_reference_lufs``.

Responses are read from ``<hrtf_dir>/{Car,Anechoic}/audio/<name>.wav`` as float without
scaling (pyclarity reads them with ``scipy.io.wavfile``); FIR filtering is by FFT
convolution cut to the input's length, equal to upstream's ``lfilter(h, 1, x)`` to rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from clarity.utils.car_noise_simulator.carnoise_signal_generator import CarNoiseSignalGenerator
from scipy.signal import oaconvolve

from evaluators.haaqi import seeded_global_rng
from harness.errors import InputError
from harness.hearing_aid import FixedHearingAid, loudness, normalise_loudness

# pyclarity's CarSceneAcoustics.ANECHOIC_HRTF_FOR_NOISE: engine ahead, the two noise sources at the sides
NOISE_HRIRS = {
    "000": ("HR36_E02_CH1_Left", "HR36_E02_CH1_Right"),
    "m90": ("HR0_E02_CH1_Left", "HR0_E02_CH1_Right"),
    "p90": ("HR72_E02_CH1_Left", "HR72_E02_CH1_Right"),
}
SPEAKERS = ("left_speaker", "right_speaker")
SIDES = ("left_side", "right_side")


@lru_cache(maxsize=256)
def read_response(path: str) -> np.ndarray:
    """One impulse response file as a float64 vector (a missing or unreadable file, or one
    with more than one channel, is an InputError naming it)."""
    if not Path(path).is_file():
        raise InputError(path, "impulse response file not found")
    try:
        h, _ = sf.read(path, dtype="float64", always_2d=True)
    except Exception as err:  # soundfile's own error types
        raise InputError(path, f"cannot read impulse response ({err})") from None
    if h.shape[1] != 1 or h.shape[0] == 0 or not np.all(np.isfinite(h)):
        raise InputError(path, f"expected one finite channel, found shape {h.shape}")
    return h[:, 0]


def fir(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.lfilter(h, 1, x)`` (same length as x) by FFT convolution."""
    return oaconvolve(x, h)[: x.shape[0]]


def noise_seconds(track_seconds: float, extend: float = 0.2) -> int:
    """Whole seconds of noise for a track: the track plus `extend`, rounded up (pyclarity uses
    a fixed 30 s track, ``round(30 * 1.2)`` = 36 s; rounding up keeps any track covered)."""
    return max(1, math.ceil(track_seconds * (1 + extend) - 1e-9))


class CarScene:
    """The car acoustics of one recipe: responses under `hrtf_dir`, a sample rate, the fixed
    hearing aid's settings (`nalr_nfir`, `compressor`), clipping and the reference cap."""

    def __init__(self, hrtf_dir: Path, sample_rate: int, nalr_nfir: int, compressor: dict,
                 soft_clip: bool = False, extend_noise: float = 0.2, max_reference_lufs: float = -14.0):
        self.hrtf_dir = Path(hrtf_dir)
        self.sample_rate = int(sample_rate)
        self.hearing_aid = FixedHearingAid(self.sample_rate, nalr_nfir, compressor)
        self.soft_clip = bool(soft_clip)
        self.extend_noise = float(extend_noise)
        self.max_reference_lufs = float(max_reference_lufs)

    def response(self, kind: str, name: str) -> np.ndarray:
        return read_response(str(self.hrtf_dir / kind / "audio" / f"{name}.wav"))

    def check_responses(self, hrir: dict, where: str) -> None:
        """Every file a scene's entry of eBrird_BRIR.json names exists (InputError otherwise)."""
        for kind, key in (("Car", "car"), ("Anechoic", "anechoic")):
            if not isinstance(hrir.get(key), dict):
                raise InputError(where, f"no {key!r} responses")
            for speaker in SPEAKERS:
                entry = hrir[key].get(speaker)
                if not isinstance(entry, dict) or not all(isinstance(entry.get(s), str) for s in SIDES):
                    raise InputError(where, f"{key}.{speaker} must name a left_side and a right_side file")
                for side in SIDES:
                    self.response(kind, entry[side])
        for pair in NOISE_HRIRS.values():
            for name in pair:
                self.response("Anechoic", name)

    # 1-2: the noise ------------------------------------------------------------------------
    def car_noise(self, parameters: dict, track_seconds: float, rng: np.random.RandomState) -> np.ndarray:
        """(3, n) rows: engine, noise source 1, noise source 2 (pyclarity's generator)."""
        generator = CarNoiseSignalGenerator(sample_rate=self.sample_rate,
                                            duration_secs=noise_seconds(track_seconds, self.extend_noise))
        with seeded_global_rng(rng):
            return generator.generate_car_noise(noise_parameters=parameters, number_noise_sources=2, commonness_factor=0)

    def noise_at_ears(self, noise: np.ndarray) -> np.ndarray:
        """(n, 2): engine from ahead, source 1 from -90 and source 2 from +90 degrees."""
        ears = np.zeros((noise.shape[1], 2))
        for row, key in enumerate(("000", "m90", "p90")):
            for ear, name in enumerate(NOISE_HRIRS[key]):
                ears[:, ear] += fir(self.response("Anechoic", name), noise[row])
        return ears

    # 3: loudspeakers to ears ---------------------------------------------------------------
    def through_speakers(self, signal: np.ndarray, hrir: dict, kind: str) -> np.ndarray:
        """(n, 2) loudspeaker feeds (left, right) -> (n, 2) at the ears, through the `kind`
        ("Car" or "Anechoic") responses of one eBrird_BRIR.json entry (its "car"/"anechoic")."""
        out = np.zeros((signal.shape[0], 2))
        for channel, speaker in enumerate(SPEAKERS):
            for ear, side in enumerate(SIDES):
                out[:, ear] += fir(self.response(kind, hrir[speaker][side]), signal[:, channel])
        return out

    # the scene -----------------------------------------------------------------------------
    def processed(self, enhanced: np.ndarray, scene: dict, hrir: dict, listener, rng: np.random.RandomState,
                  track_seconds: float) -> tuple[np.ndarray, int]:
        """What the listener's hearing aid outputs for the `enhanced` loudspeaker signal
        ((n, 2) at the scene's rate): ((n + nfir, 2) clipped, number of clipped samples)."""
        noise = self.noise_at_ears(self.car_noise(scene["car_noise_parameters"], track_seconds, rng))
        music = self.through_speakers(enhanced, hrir["car"], "Car")
        noise = normalise_loudness(noise, self.sample_rate, loudness(music, self.sample_rate) - float(scene["snr"]))
        n = min(music.shape[0], noise.shape[0])
        signal = self.hearing_aid(music[:n] + noise[:n], listener)
        if self.soft_clip:
            signal = np.tanh(signal)
        clipped = int(np.count_nonzero(np.abs(signal) > 1.0))
        return np.clip(signal, -1.0, 1.0), clipped

    def reference(self, song: np.ndarray, hrir: dict, processed: np.ndarray) -> np.ndarray:
        """The song through the anechoic responses, at the processed signal's loudness capped
        at `max_reference_lufs` (pyclarity's ``equalise_level(..., max_level=-14)``)."""
        reference = self.through_speakers(song, hrir["anechoic"], "Anechoic")
        target = min(loudness(processed, self.sample_rate), self.max_reference_lufs)
        return normalise_loudness(reference, self.sample_rate, target)
