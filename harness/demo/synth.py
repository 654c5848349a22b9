"""FluidSynth through its C library (libfluidsynth 2.x, by ctypes): one MIDI file in, stereo out.

``render_midi(midi, n_samples)`` returns what

    fluidsynth -ni -R 0 -C 0 -o audio.file.format=float -F out.wav -r 44100 -g 0.5 SF2 file.mid

writes (the first `n_samples` frames, zero-padded), sample for sample: the same settings
(reverb and chorus off, so the output depends on the MIDI bytes alone; the player timed by
the sample clock, as the command's fast file renderer sets it) and the same 64-frame blocks.
Each call uses a fresh synthesiser, so a render never depends on what was rendered before;
the soundfont's sample data is loaded once per process (FluidSynth's sample cache, kept alive
by one resident synthesiser), which makes a render a fraction of the command's start-up.

Shapes and units: ``(n_samples, 2)`` float32, full scale 1.0, at `rate` Hz.
Needs the Debian packages ``libfluidsynth3`` (with ``fluidsynth``) and ``fluid-soundfont-gm``
(``SOUNDFONT``); either missing is one line naming the package to install.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RATE = 44100
GAIN = 0.5
BLOCK = 64  # the command's audio.period-size: the player advances once per block
_P = ctypes.c_void_p
_LOCK = threading.Lock()
_STATE: dict = {}


class SynthUnavailable(HarnessError):
    """FluidSynth or its soundfont is not installed."""


def _library():
    if "lib" in _STATE:
        return _STATE["lib"]
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise SynthUnavailable(f"{name}: FluidSynth library not found (apt-get install fluidsynth)") from None
    sigs = {
        "new_fluid_settings": (_P, []), "delete_fluid_settings": (None, [_P]),
        "fluid_settings_setnum": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_double]),
        "fluid_settings_setint": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
        "fluid_settings_setstr": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
        "new_fluid_synth": (_P, [_P]), "delete_fluid_synth": (None, [_P]),
        "fluid_synth_sfload": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
        "fluid_synth_write_float": (ctypes.c_int, [_P, ctypes.c_int, _P, ctypes.c_int, ctypes.c_int,
                                                    _P, ctypes.c_int, ctypes.c_int]),
        "new_fluid_player": (_P, [_P]), "delete_fluid_player": (None, [_P]),
        "fluid_player_add_mem": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
        "fluid_player_play": (ctypes.c_int, [_P]),
        "fluid_set_log_function": (_P, [ctypes.c_int, _P, _P]),
    }
    for fn, (res, args) in sigs.items():
        getattr(lib, fn).restype = res
        getattr(lib, fn).argtypes = args
    for level in range(5):  # FluidSynth's own messages would interleave with ours
        lib.fluid_set_log_function(level, None, None)
    _STATE["lib"] = lib
    return lib


def _settings(lib, rate: int, gain: float):
    s = lib.new_fluid_settings()
    lib.fluid_settings_setnum(s, b"synth.sample-rate", float(rate))
    lib.fluid_settings_setnum(s, b"synth.gain", float(gain))
    lib.fluid_settings_setint(s, b"synth.reverb.active", 0)
    lib.fluid_settings_setint(s, b"synth.chorus.active", 0)
    lib.fluid_settings_setint(s, b"synth.lock-memory", 0)
    lib.fluid_settings_setstr(s, b"player.timing-source", b"sample")
    return s


def _resident(lib, soundfont: Path, rate: int):
    """A synthesiser kept alive per (soundfont, rate), so its sample data stay cached."""
    key = (str(soundfont), rate)
    if key not in _STATE:
        if not soundfont.is_file():
            raise SynthUnavailable(f"{soundfont}: soundfont not found (apt-get install fluid-soundfont-gm)")
        settings = _settings(lib, rate, GAIN)
        synth = lib.new_fluid_synth(settings)
        if not synth or lib.fluid_synth_sfload(synth, str(soundfont).encode(), 1) < 0:
            raise SynthUnavailable(f"{soundfont}: FluidSynth cannot load this soundfont")
        _STATE[key] = (settings, synth)
    return _STATE[key]


def check_available(soundfont: Path | None = None) -> None:
    """Raise ``SynthUnavailable`` (one line naming the Debian package) unless rendering works."""
    with _LOCK:
        _resident(_library(), Path(soundfont or SOUNDFONT), RATE)


def render_midi(midi: bytes, n_samples: int, rate: int = RATE, gain: float = GAIN,
                soundfont: Path | None = None) -> np.ndarray:
    """The first `n_samples` stereo frames FluidSynth renders from the MIDI file bytes `midi`
    (`soundfont`: None = ``SOUNDFONT``)."""
    soundfont = Path(soundfont or SOUNDFONT)
    with _LOCK:
        lib = _library()
        _resident(lib, soundfont, rate)
        settings = _settings(lib, rate, gain)
        synth = lib.new_fluid_synth(settings)
        player = None
        try:
            if lib.fluid_synth_sfload(synth, str(soundfont).encode(), 1) < 0:
                raise SynthUnavailable(f"{soundfont}: FluidSynth cannot load this soundfont")
            player = lib.new_fluid_player(synth)
            if lib.fluid_player_add_mem(player, midi, len(midi)) != 0 or lib.fluid_player_play(player) != 0:
                raise ValueError("FluidSynth refused the MIDI data")
            n_blocks = -(-int(n_samples) // BLOCK)
            out = np.zeros((n_blocks * BLOCK, 2), np.float32)
            for b in range(n_blocks):
                block = out[b * BLOCK:(b + 1) * BLOCK]
                lib.fluid_synth_write_float(synth, BLOCK, block.ctypes.data, 0, 2, block.ctypes.data, 1, 2)
        finally:
            if player:
                lib.delete_fluid_player(player)
            lib.delete_fluid_synth(synth)
            lib.delete_fluid_settings(settings)
    return out[:n_samples]
