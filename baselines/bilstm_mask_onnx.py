"""Deployment variants of the BiLSTM mask network: ONNX fp32 and dynamic int8 (seed 002, Listings
4.7-4.9: ``torch.onnx.export(..., opset_version=12)`` then
``onnxruntime.quantization.quantize_dynamic(..., weight_type=QuantType.QInt8)``).

What is exported is :class:`baselines.bilstm_mask_model.MaskNet`, the network between the
STFT and the mask: input ``magnitude`` (batch, channels, bins, frames) normalised to [0, 1],
output ``mask`` of the same shape, batch and frames dynamic (the thesis fixed the time axis and
fed one channel to a stereo model; here both are as the PyTorch model has them). The STFT, the
mask's application and the inverse STFT stay in the separator, identical for every variant,
so the three are scored through one pipeline.

The TorchScript exporter (``dynamo=False``) at opset 12 writes the BiLSTM as ONNX ``LSTM``
nodes; ``quantize_dynamic`` stores the weights of MatMul/Gemm, LSTM and Conv nodes as int8 and
quantises activations per call. Needs the packages ``onnx``, ``onnxscript`` and
``onnxruntime`` (extra ``deploy`` of pyproject.toml).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from baselines.bilstm_mask_model import MaskNet
from harness.errors import HarnessError
from harness.files import atomic_write

logger = logging.getLogger(__name__)

OPSET = 12
FP32_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
STAMP_NAME = "onnx.json"  # which weights (digest) the ONNX files were made from


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise HarnessError(f"the ONNX variants need the package {module!r} (pip install -e '.[deploy]')") from None


def export_onnx(net: MaskNet, path: Path, frames: int = 32) -> Path:
    """Export `net` (eval mode, on the CPU) to `path`, opset 12, batch and frames dynamic."""
    _require("onnx")
    cfg = net.cfg
    net = net.cpu().eval()
    dummy = torch.rand(1, cfg.nb_channels, cfg.bins, frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp):
        torch.onnx.export(net, (dummy,), str(tmp), dynamo=False, opset_version=OPSET, export_params=True,
                          do_constant_folding=True, input_names=["magnitude"], output_names=["mask"],
                          dynamic_axes={"magnitude": {0: "batch", 3: "frames"}, "mask": {0: "batch", 3: "frames"}})

    atomic_write(path, write)
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation (weights QInt8) of an ONNX file."""
    _require("onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    atomic_write(Path(target), lambda tmp: quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8))
    return Path(target)


def ensure_exports(net: MaskNet, directory: Path, digest: str) -> dict[str, Path]:
    """The fp32 and int8 ONNX files of `net` in `directory`, (re)made when missing or when the
    weights' `digest` differs from the one they were made from."""
    directory = Path(directory)
    paths = {"fp32": directory / FP32_NAME, "int8": directory / INT8_NAME}
    stamp = directory / STAMP_NAME
    current = json.loads(stamp.read_text()) if stamp.is_file() else {}
    if current.get("weights") != digest or not all(p.is_file() for p in paths.values()):
        export_onnx(net, paths["fp32"])
        quantize_int8(paths["fp32"], paths["int8"])
        text = json.dumps({"weights": digest, "opset": OPSET}, sort_keys=True)
        atomic_write(stamp, lambda tmp: Path(tmp).write_text(text))
    return paths


class OnnxMaskNet:
    """An ONNX mask network in onnxruntime, called like MaskNet: a torch (or numpy) magnitude
    (batch, channels, bins, frames) -> torch mask of the same shape (CPU, float32)."""

    def __init__(self, path: Path, threads: int | None = 1):
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no ONNX model")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def __call__(self, magnitude) -> torch.Tensor:
        x = magnitude.detach().cpu().numpy() if torch.is_tensor(magnitude) else np.asarray(magnitude)
        (mask,) = self.session.run(["mask"], {"magnitude": np.ascontiguousarray(x, dtype=np.float32)})
        return torch.from_numpy(mask)
