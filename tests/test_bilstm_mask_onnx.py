"""The ONNX variants of bilstm_mask: the fp32 export equals PyTorch (mask within 1e-5 absolute,
any batch and length), the dynamic int8 model runs, stays close (mask within 0.05) and is at
least 2x smaller; the registered ONNX separators give the PyTorch separator's stems."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from baselines.bilstm_mask import BiLSTMMaskInt8Separator, BiLSTMMaskOnnxSeparator, BiLSTMMaskSeparator  # noqa: E402
from baselines.bilstm_mask_model import BiLSTMMask, BiLSTMMaskConfig  # noqa: E402
from baselines.bilstm_mask_onnx import OnnxMaskNet, ensure_exports, export_onnx, quantize_int8  # noqa: E402
from baselines.training import init_model  # noqa: E402
from tests.test_bilstm_mask import OPTIONS, make_ctx, tiny_model, write_songs  # noqa: E402

FP32_TOLERANCE = 1e-5  # mask, absolute (sigmoid outputs in [0, 1])
INT8_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def demo_exports(tmp_path_factory):
    """The demo-size network (random weights) and its fp32 and int8 exports."""
    model = init_model(lambda: BiLSTMMask(BiLSTMMaskConfig.demo()), seed=1).eval()
    folder = tmp_path_factory.mktemp("onnx")
    fp32 = export_onnx(model.net, folder / "model.onnx")
    return model, fp32, quantize_int8(fp32, folder / "model.int8.onnx")


@pytest.mark.parametrize("batch, frames", [(1, 7), (3, 40)])
def test_fp32_equals_pytorch_for_any_batch_and_length(demo_exports, batch, frames):
    model, fp32, _ = demo_exports
    x = torch.rand(batch, 2, 1025, frames)
    with torch.no_grad():
        expected = model.net(x)
    got = OnnxMaskNet(fp32)(x)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < FP32_TOLERANCE


def test_int8_runs_close_and_smaller(demo_exports):
    model, fp32, int8 = demo_exports
    x = torch.rand(2, 2, 1025, 30)
    with torch.no_grad():
        expected = model.net(x)
    got = OnnxMaskNet(int8)(x)
    assert got.shape == expected.shape and torch.isfinite(got).all()
    assert (got - expected).abs().max().item() < INT8_TOLERANCE
    assert int8.stat().st_size * 2 <= fp32.stat().st_size


def test_exports_are_remade_only_for_new_weights(tmp_path):
    model = tiny_model().eval()
    paths = ensure_exports(model.net, tmp_path, "aaa")
    stamp = {k: p.stat().st_mtime_ns for k, p in paths.items()}
    assert ensure_exports(model.net, tmp_path, "aaa") == paths
    assert {k: p.stat().st_mtime_ns for k, p in paths.items()} == stamp
    ensure_exports(model.net, tmp_path, "bbb")
    assert all(p.stat().st_mtime_ns != stamp[k] for k, p in paths.items())


def test_onnx_separators_match_pytorch(tmp_path):
    train = write_songs(tmp_path / "songs")
    ctx = make_ctx(tmp_path, train)
    mixture = train.load_track(train.songs["song1"].mixture)
    out = {}
    for cls in (BiLSTMMaskSeparator, BiLSTMMaskOnnxSeparator, BiLSTMMaskInt8Separator):
        sep = cls(OPTIONS)
        sep.prepare(ctx)  # the first trains; the others reuse its checkpoint and export it
        out[cls.backend] = sep.separate(mixture, ["vocals", "accompaniment"])
    folder = ctx.checkpoint_dir / "bilstm_mask" / "demo"
    assert (folder / "model.onnx").is_file() and (folder / "model.int8.onnx").is_file()
    peak = np.abs(mixture).max()
    np.testing.assert_allclose(out["fp32"]["vocals"], out["torch"]["vocals"], atol=1e-5 * peak)
    assert np.abs(out["int8"]["vocals"] - out["torch"]["vocals"]).max() < INT8_TOLERANCE * peak
    np.testing.assert_allclose(out["int8"]["vocals"] + out["int8"]["accompaniment"], mixture, atol=1e-4)
