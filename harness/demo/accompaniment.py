"""Synthetic band accompaniment (chord pad, bass, drums) under the lyric demo sets' vocals,
and constant-power panning.

``synth_accompaniment(n, rate, rng)`` plays one fixed arrangement (I-V-vi-IV pad, bass on every
beat, kick/snare/hat) in a random key and tempo. With ``varied=True`` the arrangement is drawn
from ``rng`` too (``accompaniment_style``): one of four progressions (one minor), the pad's
brightness (3-8 harmonics, slope 0.8-2.5) and decay, a sustained or arpeggiated pad, bass on
beats or eighths, hats on eighths or sixteenths, a lead line in the voice's register in half
of the songs (a melody of chord tones, with vibrato, part of ``other``: an instrument that
competes with the voice), and each part's level within +-4 dB. Separators trained on one
arrangement then meet others at test time."""

from __future__ import annotations

import math

import numpy as np


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


PROGRESSIONS = (
    ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)),  # I V vi IV
    ((9, 12, 16), (5, 9, 12), (0, 4, 7), (7, 11, 14)),  # vi IV I V
    ((0, 4, 7), (5, 9, 12), (7, 11, 14), (5, 9, 12)),  # I IV V IV
    ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),  # i VI III VII (minor)
)
LEVELS = {"bass": -24.0, "drums": -24.0, "other": -26.0}  # dBFS RMS of each part
DEFAULT_STYLE = {"progression": 0, "harmonics": 5, "slope": 1.5, "decay": 1.5, "arpeggio": False,
                 "bass_eighths": False, "hat_sixteenths": False, "lead": False, "levels": LEVELS}


def accompaniment_style(rng: np.random.Generator) -> dict:
    """A random arrangement for ``synth_accompaniment(..., style=...)`` (see the module docstring)."""
    return {"progression": int(rng.integers(len(PROGRESSIONS))), "harmonics": int(rng.integers(3, 9)),
            "slope": float(rng.uniform(0.8, 2.5)), "decay": float(rng.uniform(0.5, 2.5)),
            "arpeggio": bool(rng.random() < 0.5), "bass_eighths": bool(rng.random() < 0.4),
            "hat_sixteenths": bool(rng.random() < 0.4), "lead": bool(rng.random() < 0.5),
            "levels": {k: v + float(rng.uniform(-4, 4)) for k, v in LEVELS.items()}}


def _lead(n: int, rate: int, beat: float, root: int, progression, rng: np.random.Generator) -> np.ndarray:
    """A melody of chord tones in quarter notes, an octave or two above the chord root (the
    voice's register), with a 5.5 Hz vibrato and a few harmonics."""
    out = np.zeros(n)
    bar = 4 * beat
    for q in range(int(n / rate / beat) + 1):
        j0 = int(q * beat * rate)
        if j0 >= n:
            break
        chord = progression[int(q * beat // bar) % len(progression)]
        note = root + 12 + int(rng.choice(chord)) + (12 if rng.random() < 0.3 else 0)
        m = min(int(beat * rate), n - j0)
        lt = np.arange(m) / rate
        phase = 2 * np.pi * np.cumsum(_midi_hz(note) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * lt))) / rate
        env = np.minimum(1, lt / 0.02) * np.minimum(1, (beat - lt) / 0.03).clip(0) * np.exp(-lt / (2 * beat))
        out[j0 : j0 + m] += env * (np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase))
    return out


def synth_accompaniment(n: int, rate: int, rng: np.random.Generator, varied: bool = False) -> dict[str, np.ndarray]:
    """Mono ``bass``, ``drums`` and ``other`` (chords, and a lead line) of ``n`` samples: the
    I-V-vi-IV loop, or with `varied` an arrangement drawn from `rng` (module docstring)."""
    style = accompaniment_style(rng) if varied else DEFAULT_STYLE
    t = np.arange(n) / rate
    bpm = rng.uniform(90, 130)
    beat = 60.0 / bpm
    root = 48 + int(rng.integers(0, 12))  # C3..B3
    progression = PROGRESSIONS[style["progression"]]
    other = np.zeros(n)
    bass = np.zeros(n)
    drums = np.zeros(n)
    bar = 4 * beat
    for b in range(int(math.ceil(n / rate / bar)) + 1):
        start = b * bar
        chord = progression[b % 4]
        i0, i1 = int(start * rate), min(int((start + bar) * rate), n)
        if i0 >= n:
            break
        seg_t = t[i0:i1] - start
        env = np.minimum(1, seg_t / 0.03) * np.exp(-seg_t / (style["decay"] * bar))
        for k, interval in enumerate(chord):
            f = _midi_hz(root + interval)
            phase = rng.uniform(0, 2 * np.pi)
            if style["arpeggio"]:  # the chord tones in turn on eighths, each a short plucked note
                note_env = np.zeros_like(seg_t)
                for e in range(k, 8, len(chord)):
                    local = seg_t - e * beat / 2
                    on = local >= 0
                    note_env[on] += np.minimum(1, local[on] / 0.005) * np.exp(-local[on] / (0.3 * beat))
                tone_env = note_env
            else:
                tone_env = env
            for h in range(1, style["harmonics"] + 1):  # soft saw-like pad
                other[i0:i1] += tone_env * np.sin(2 * np.pi * h * f * seg_t + phase * h) / h ** style["slope"]
        notes = 8 if style["bass_eighths"] else 4
        step = 4 * beat / notes
        for q in range(notes):  # bass on every beat (or eighth), chord root two octaves down
            j0 = int((start + q * step) * rate)
            j1 = min(j0 + int(step * rate), n)
            if j0 >= n:
                break
            bt = t[j0:j1] - (start + q * step)
            f = _midi_hz(root + chord[0] - 24 + (12 if q == notes - 1 else 0))
            bass[j0:j1] += np.exp(-bt / 0.35) * (np.sin(2 * np.pi * f * bt) + 0.3 * np.sin(4 * np.pi * f * bt))
    # drums: kick on 1 and 3, snare on 2 and 4, closed hat on eighths
    n_beats = int(n / rate / beat) + 1
    for q in range(n_beats):
        j0 = int(q * beat * rate)
        if j0 >= n:
            break
        if q % 2 == 0:
            m = min(int(0.25 * rate), n - j0)
            kt = np.arange(m) / rate
            f = 50 + 70 * np.exp(-kt / 0.03)
            drums[j0 : j0 + m] += np.exp(-kt / 0.12) * np.sin(2 * np.pi * np.cumsum(f) / rate)
        else:
            m = min(int(0.2 * rate), n - j0)
            kt = np.arange(m) / rate
            drums[j0 : j0 + m] += 0.5 * np.exp(-kt / 0.06) * rng.standard_normal(m) + 0.3 * np.exp(-kt / 0.05) * np.sin(2 * np.pi * 190 * kt)
        for half in ((0, 0.25, 0.5, 0.75) if style["hat_sixteenths"] else (0, 0.5)):
            h0 = int((q + half) * beat * rate)
            m = min(int(0.04 * rate), n - h0)
            if m > 0:
                noise = np.diff(rng.standard_normal(m + 1))  # crude high-pass
                drums[h0 : h0 + m] += 0.15 * np.exp(-np.arange(m) / rate / 0.012) * noise
    if style["lead"]:
        lead = _lead(n, rate, beat, root, progression, rng)
        pad_rms, lead_rms = np.sqrt(np.mean(other**2)), np.sqrt(np.mean(lead**2))
        if pad_rms > 0 and lead_rms > 0:
            other = other + lead * (pad_rms / lead_rms) * 10 ** (rng.uniform(-3, 3) / 20)
    out = {}
    for name, x in (("bass", bass), ("drums", drums), ("other", other)):
        level = style["levels"][name]
        rms = np.sqrt(np.mean(x**2))
        out[name] = x * (10 ** (level / 20) / rms) if rms > 0 else x
    return out


def pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan, -1 left .. +1 right -> (n, 2)."""
    a = (pan + 1) * np.pi / 4
    return np.stack([x * np.cos(a), x * np.sin(a)], axis=1) * np.sqrt(2)
