"""CLIP2 front end: the log-mel padding rule, the CTranslate2 encoder output, the pooling and
the content-keyed feature cache."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import whisper_encoder as we
from harness.demo.lyric_clips import RATE, lyric_clips


@pytest.fixture(scope="module")
def clip16k() -> np.ndarray:
    """A committed lyric clip (a few seconds of espeak-ng singing) at 16 kHz."""
    clip = lyric_clips()[sorted(lyric_clips())[0]]
    return we.to_16k(clip.signal.astype(np.float32), RATE)


def reference_log_mel(audio: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """WhisperProcessor's rule in plain numpy (transformers' WhisperFeatureExtractor, numpy path):
    pad the waveform to 480000 samples, centred STFT (reflect, 400-point periodic Hann, hop 160),
    power, mel, drop the last frame, log10, max - 8 clamp, (x + 4) / 4."""
    x = np.zeros(480000, np.float64)
    x[: min(audio.size, 480000)] = audio[:480000]
    x = np.pad(x, 200, mode="reflect")
    window = np.hanning(401)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160] * window
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [3001, 201]
    mel = filters.astype(np.float64) @ power.T
    log = np.log10(np.maximum(mel, 1e-10))[:, :-1]
    log = np.maximum(log, log.max() - 8.0)
    return (log + 4.0) / 4.0


def test_log_mel_pads_the_waveform_to_30_s_as_whisper_processor(clip16k):
    from faster_whisper.feature_extractor import FeatureExtractor

    fe = FeatureExtractor(feature_size=80)
    features = we.log_mel(clip16k)
    assert features.shape == (80, 3000) and features.dtype == np.float32
    # faster-whisper's own front end on the waveform padded to 30 s, no extra padding
    np.testing.assert_array_equal(features, fe(we.pad_or_trim(clip16k), padding=0)[:, :3000])
    np.testing.assert_allclose(features, reference_log_mel(clip16k, fe.mel_filters), atol=2e-4)
    # faster-whisper's transcribe rule (features of the clip, then zero-padded frames) differs
    short = fe(clip16k)
    padded = np.zeros((80, 3000), np.float32)
    padded[:, : short.shape[1]] = short[:, :3000]
    assert np.abs(padded - features).max() > 0.1
    # a clip over 30 s is truncated, as WhisperProcessor truncates
    long = np.tile(clip16k, 1 + 480000 // clip16k.size + 1)
    np.testing.assert_array_equal(we.log_mel(long), we.log_mel(long[:480000]))


def test_encoder_output_shape_and_pooling(clip16k):
    model = we.load_encoder(compute_type="int8")
    features = np.stack([we.log_mel(clip16k), we.log_mel(np.zeros(16000, np.float32))])
    hidden = we.encode(model, features)
    assert hidden.shape == (2, 1500, 384) and hidden.dtype == np.float32 and np.isfinite(hidden).all()
    pooled = we.mean_pool(hidden)
    assert pooled.shape == (2, 384)
    np.testing.assert_allclose(pooled, hidden.mean(axis=1), rtol=1e-5, atol=1e-6)
    assert np.abs(pooled[0] - pooled[1]).max() > 1e-3  # a song is not silence
    with pytest.raises(ValueError, match=r"\[B, n_mels, 3000\]"):
        we.encode(model, features[:, :, :100])


def test_feature_cache_encodes_each_channel_once(tmp_path, clip16k):
    from baselines.clip2_features import EncoderFeatures, channel

    rng = np.random.default_rng(0)
    stereo = (np.stack([clip16k, 0.5 * clip16k], axis=1) + 1e-3 * rng.standard_normal((clip16k.size, 2))).astype(np.float32)
    features = EncoderFeatures(tmp_path, {"compute_type": "int8"})
    first = features.get(stereo, 16000, ("mono", "left"))
    assert first.shape == (2, 384) and features.encoded == 2
    again = EncoderFeatures(tmp_path, {"compute_type": "int8"})
    np.testing.assert_array_equal(again.get(stereo, 16000, ("left", "mono")), first[::-1])
    assert again.encoded == 0 and len(list(tmp_path.glob("*.npy"))) == 2
    assert EncoderFeatures(tmp_path, {"compute_type": "float32"}).identity != features.identity
    np.testing.assert_array_equal(channel(stereo, "mono"), stereo.mean(axis=1))
    with pytest.raises(ValueError, match="stereo"):
        channel(stereo[:, 0], "mono")
