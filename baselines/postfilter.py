"""Soft-mask (Wiener) post-filter: separated stems re-cut from the mixture itself.

Each stem's power spectrogram |S_i|^2 becomes its share of the mixture's STFT,
``M_i = |S_i|^2 / sum_j |S_j|^2`` (the single-iteration Wiener filter that open-unmix and
Demucs apply with ``norbert``; here per channel, without the multichannel EM). The filtered
stems contain only the mixture's own time-frequency content, so waveform artefacts of the
networks (phase errors, broadband noise) do not reach the remix, and they sum to the mixture
exactly (up to float rounding), which makes mixture consistency unnecessary.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import istft, stft

EPS = 1e-12  # relative to the loudest bin


def wiener(mixture: np.ndarray, stems: dict[str, np.ndarray], sample_rate: int, n_fft: int = 2048,
           power: float = 2.0) -> dict[str, np.ndarray]:
    """Stems re-estimated as soft masks of `mixture` ((n, channels) each); with one stem the
    stem is the mixture. `power` 2 is the Wiener gain, 1 the amplitude ratio mask."""
    names = list(stems)
    mixture = np.asarray(mixture, dtype=np.float64)
    if len(names) == 1:
        return {names[0]: mixture.astype(np.float32)}
    length = len(mixture)
    n_fft = min(n_fft, max(16, 1 << int(np.log2(max(length, 1)))))  # short signals: a frame that fits
    hop = n_fft // 4

    def spec(x):
        x = np.pad(np.asarray(x, dtype=np.float64)[:length], ((0, max(0, n_fft - length)), (0, 0)))
        return stft(x, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, axis=0)[2]

    mix = spec(mixture)  # (freq, channels, frames)
    weights = np.stack([np.abs(spec(stems[k])) ** power for k in names])
    total = weights.sum(axis=0)
    silent = total <= EPS * max(total.max(), EPS)  # no stem has energy here: share it equally
    masks = np.where(silent, 1.0 / len(names), weights / np.where(silent, 1.0, total))
    out = {}
    for name, mask in zip(names, masks):
        _, signal = istft(mask * mix, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, time_axis=-1, freq_axis=0)
        signal = np.asarray(signal).T[:length]  # (n, channels)
        if len(signal) < length:
            signal = np.pad(signal, ((0, length - len(signal)), (0, 0)))
        out[name] = signal.astype(np.float32)
    return out
