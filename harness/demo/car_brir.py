"""Synthetic stand-ins for the eBrIRD responses (ELOSPHERES binaural room impulse response
database) that the CAD1 task 2 car scenes use, written in the official layout:

    <root>/Car/audio/HR<k>_LS03_CH1_{Left,Right}.wav     front-left door loudspeaker -> ears
    <root>/Car/audio/HR<k>_LS04_CH1_{Left,Right}.wav     front-right door loudspeaker -> ears
    <root>/Anechoic/audio/HR<j>_E02_CH1_{Left,Right}.wav anechoic source at (j - 36) x 2.5 degrees

and the index ``eBrird_BRIR.json``: ``{split: {hr: {"car": {"left_speaker": {"left_side":
<file stem>, "right_side": ...}, "right_speaker": {...}}, "anechoic": {...}}}}``, as pyclarity's
``recipes/cad1/task2/baseline/car_scene_acoustics.py`` reads it. ``hr`` is the head rotation
index k: rotation (k - 36) x 2.5 degrees, positive to the listener's right. The anechoic grid
follows the six files pyclarity hard-codes for the noise (HR36 = 0 degrees, HR0 = -90, HR72 =
+90); the loudspeakers of the anechoic reference are at -30 and +30 degrees from straight
ahead, so at (-30 - rotation) and (30 - rotation) from the head.

The eBrIRD files cannot be downloaded here. These are made, not measured:

* anechoic: the spherical-head HRIR (``harness.demo.hrir.spherical_head_hrir``, Brown & Duda
  1998) of the direction, 256 taps;
* car: for a loudspeaker at azimuth ``a`` (LS03 at -50 degrees, 0.7 m; LS04 at +40 degrees,
  1.3 m, from a driver's seat) and rotation ``r``: the head response at ``a - r``, delayed by
  the distance over 343 m/s and scaled by 0.5/distance; plus 8 early reflections (delays
  U(1.5, 10) ms after the direct sound, gains U(0.2, 0.6) x the direct gain with a random
  sign, each the head response of a direction U(-180, 180) degrees); plus a diffuse tail, from
  5 ms after the direct sound, of Gaussian noise independent per ear, decaying by 60 dB in
  RT60 ~ U(0.06, 0.10) s (car cabins are very dead), smoothed by a one-pole 4 kHz low-pass
  and scaled to 0.3 x the direct sound's energy; 4096 taps (93 ms at 44.1 kHz), the last
  10 % faded out.

Every draw is from a ``numpy.random.Generator`` seeded from (seed, split, hr, loudspeaker)
(``harness.demo.store.item_rng``). Files are mono 32-bit float WAV, read without scaling (as
``scipy.io.wavfile`` reads the official ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from harness.demo.hrir import spherical_head_hrir
from harness.demo.store import item_rng

SPEED_OF_SOUND_M_S = 343.0
STEP_DEG = 2.5  # head rotation / direction per HR index
FRONT_INDEX = 36  # HR36 = straight ahead
SPEAKERS = {"left_speaker": ("LS03", -50.0, 0.7), "right_speaker": ("LS04", 40.0, 1.3)}  # id, azimuth, metres
ANECHOIC_SPEAKER_DEG = {"left_speaker": -30.0, "right_speaker": 30.0}
CAR_TAPS = 4096
HEAD_TAPS = 256
SIDES = (("left_side", "Left"), ("right_side", "Right"))


def rotation_deg(hr: int) -> float:
    return (int(hr) - FRONT_INDEX) * STEP_DEG


def direction_index(azimuth_deg: float) -> int:
    """The anechoic grid index of a direction (must lie on the 2.5-degree grid within +-90)."""
    index = FRONT_INDEX + azimuth_deg / STEP_DEG
    if abs(index - round(index)) > 1e-9 or not 0 <= round(index) <= 2 * FRONT_INDEX:
        raise ValueError(f"direction {azimuth_deg} degrees is not on the eBrIRD anechoic grid")
    return int(round(index))


def car_brir(rng: np.random.Generator, azimuth_deg: float, distance_m: float, sample_rate: int) -> np.ndarray:
    """[2, CAR_TAPS] (left, right ear) response of one loudspeaker (see the module docstring)."""
    out = np.zeros((2, CAR_TAPS))
    gain = 0.5 / distance_m
    onset = int(round(distance_m / SPEED_OF_SOUND_M_S * sample_rate))
    out[:, onset:onset + HEAD_TAPS] += gain * spherical_head_hrir(azimuth_deg, sample_rate, HEAD_TAPS)
    for _ in range(8):
        delay = onset + int(round(rng.uniform(1.5e-3, 10e-3) * sample_rate))
        g = gain * rng.uniform(0.2, 0.6) * rng.choice([-1.0, 1.0])
        out[:, delay:delay + HEAD_TAPS] += g * spherical_head_hrir(rng.uniform(-180.0, 180.0), sample_rate, HEAD_TAPS)
    start = onset + int(round(5e-3 * sample_rate))
    t = np.arange(CAR_TAPS - start) / sample_rate
    decay = np.exp(-6.91 * t / rng.uniform(0.06, 0.10))
    tail = rng.standard_normal((2, t.size)) * decay
    pole = np.exp(-2 * np.pi * 4000.0 / sample_rate)
    tail = lfilter([1 - pole], [1, -pole], tail, axis=1)  # one-pole low-pass
    direct_energy = gain**2 * np.sum(spherical_head_hrir(azimuth_deg, sample_rate, HEAD_TAPS) ** 2) / 2
    tail *= np.sqrt(0.3 * direct_energy / (np.sum(tail**2) / 2))
    out[:, start:] += tail
    fade = CAR_TAPS // 10
    out[:, -fade:] *= np.hanning(2 * fade)[fade:]
    return out


def _write(path: Path, x: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(x, dtype=np.float32), sample_rate, subtype="FLOAT", format="WAV")


def write_ebrird(root: Path, seed: int, head_rotations: dict[str, list[int]], sample_rate: int = 44100) -> dict:
    """Write the responses under `root` for the rotation indices of each split (e.g.
    ``{"train": [34, 36, 38], "valid": [34, 36, 38]}``) and return the eBrird_BRIR.json index."""
    root = Path(root)
    anechoic = set()
    index: dict = {}
    for split, rotations in head_rotations.items():
        index[split] = {}
        for hr in rotations:
            rot = rotation_deg(hr)
            car, ane = {}, {}
            for speaker, (sid, azimuth, distance) in SPEAKERS.items():
                name = f"HR{hr}_{sid}_CH1"
                path = root / "Car" / "audio" / f"{name}_Left.wav"
                if not path.exists():  # one car response per rotation, shared by the splits
                    brir = car_brir(item_rng(seed, "car-brir", hr, sid), azimuth - rot, distance, sample_rate)
                    for row, (_, side) in enumerate(SIDES):
                        _write(root / "Car" / "audio" / f"{name}_{side}.wav", brir[row], sample_rate)
                car[speaker] = {key: f"{name}_{side}" for key, side in SIDES}
                j = direction_index(ANECHOIC_SPEAKER_DEG[speaker] - rot)
                anechoic.add(j)
                ane[speaker] = {key: f"HR{j}_E02_CH1_{side}" for key, side in SIDES}
            index[split][str(hr)] = {"car": car, "anechoic": ane}
    for j in sorted(anechoic | {0, FRONT_INDEX, 2 * FRONT_INDEX}):  # the noise's 0 / -90 / +90 degrees
        hrir = spherical_head_hrir((j - FRONT_INDEX) * STEP_DEG, sample_rate, HEAD_TAPS)
        for row, (_, side) in enumerate(SIDES):
            _write(root / "Anechoic" / "audio" / f"HR{j}_E02_CH1_{side}.wav", hrir[row], sample_rate)
    return index
