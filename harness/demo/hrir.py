"""Synthetic head-related impulse responses for demo data: the spherical-head model of
Brown and Duda (1998), "A structural model for binaural sound synthesis", IEEE Trans. Speech
Audio Process. 6(5), 476-488.

It is not a measured HRIR: one rigid sphere (no pinnae, no torso), so it gives the interaural
time difference (Woodworth's ray-tracing delay) and the head-shadow level difference (a
one-pole/one-zero filter whose high-frequency gain goes from +6 dB at the ear to -20 dB behind
it), which is what a demo needs to place sources around a listener. Deterministic: no random
draw. Real recipes read the official measured responses instead.

Azimuth convention: degrees in the horizontal plane, 0 straight ahead, positive to the listener's
right (clockwise seen from above), so -90 is the left ear's side and +90 the right ear's.
"""

from __future__ import annotations

import numpy as np

HEAD_RADIUS_M = 0.0875
SPEED_OF_SOUND_M_S = 343.0
_ALPHA_MIN = 0.1                    # Brown & Duda's shadow minimum (-20 dB) ...
_THETA_MIN_DEG = 150.0              # ... reached 150 degrees from the ear
_EAR_AZIMUTHS_DEG = (-90.0, 90.0)   # left, right


def _angle_from_ear(azimuth_deg: float, ear_deg: float) -> float:
    """Angle in radians (0..pi) between the source direction and the ear's axis."""
    diff = (azimuth_deg - ear_deg + 180.0) % 360.0 - 180.0
    return np.deg2rad(abs(diff))


def _ear_response(theta: float, freqs_hz: np.ndarray, head_radius: float, c: float) -> np.ndarray:
    """Complex frequency response of one ear for a source at `theta` rad from its axis."""
    w0 = c / head_radius
    alpha = (1 + _ALPHA_MIN / 2) + (1 - _ALPHA_MIN / 2) * np.cos(theta / np.deg2rad(_THETA_MIN_DEG) * np.pi)
    jw = 1j * 2 * np.pi * freqs_hz
    shadow = (1 + alpha * jw / (2 * w0)) / (1 + jw / (2 * w0))
    if theta < np.pi / 2:                             # Woodworth: direct path shorter than to the centre
        delay = -head_radius / c * np.cos(theta)
    else:                                             # around the sphere
        delay = head_radius / c * (theta - np.pi / 2)
    delay += head_radius / c                          # shift so that the earliest ear is at 0
    return shadow * np.exp(-jw * delay)


def spherical_head_hrir(azimuth_deg: float, sample_rate: int, n_taps: int = 256,
                        head_radius: float = HEAD_RADIUS_M, speed_of_sound: float = SPEED_OF_SOUND_M_S) -> np.ndarray:
    """Left/right impulse responses of a rigid sphere for a far source at `azimuth_deg`.

    Returns float64 [2, n_taps] (row 0 left ear, row 1 right ear). The response is computed on a
    4 x n_taps grid, brought to the time domain, delayed by 16 samples so the fractional-delay
    ringing is causal, and cut with a half Hann fade over the last quarter. A source straight
    ahead gives identical rows; mirrored azimuths give swapped rows.
    """
    if n_taps < 64:
        raise ValueError(f"spherical_head_hrir: n_taps must be at least 64, got {n_taps}")
    if sample_rate <= 0:
        raise ValueError(f"spherical_head_hrir: sample_rate must be positive, got {sample_rate}")
    n_fft = 4 * n_taps
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    pre_delay = 16 / sample_rate
    out = np.empty((2, n_taps))
    for row, ear in enumerate(_EAR_AZIMUTHS_DEG):
        spectrum = _ear_response(_angle_from_ear(azimuth_deg, ear), freqs, head_radius, speed_of_sound)
        spectrum = spectrum * np.exp(-1j * 2 * np.pi * freqs * pre_delay)
        out[row] = np.fft.irfft(spectrum, n_fft)[:n_taps]
    fade = n_taps // 4
    out[:, -fade:] *= np.hanning(2 * fade)[fade:]
    return out
