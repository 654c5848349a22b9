"""Model directories in the Hugging Face layout: ``config.json`` + ``model.safetensors``.

This is the layout of the official CAD2 task-2 checkpoints
(``cadenzachallenge/ConvTasNet_<Instrument>_<Causal|NonCausal>``, written by
``PyTorchModelHubMixin.save_pretrained``): config.json holds the constructor arguments
(``N, L, B, H, P, X, R, C, audio_channels, samplerate, norm_type, causal, mask_nonlinear``)
and model.safetensors the state dict with the official parameter names, which our
``ConvTasNet`` shares. Directories we write add ``"architecture"`` to config.json so the
other models (Wave-U-Net, ARUNet, Open-Unmix) load the same way; a config.json without it is read as the
official ConvTasNetStereo. Only safetensors are read: nothing here unpickles a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from harness.files import atomic_write

from baselines.bilstm_mask_model import BiLSTMMask, BiLSTMMaskConfig
from baselines.models.arunet import ARUNet, ARUNetConfig
from baselines.models.codec import Codec, CodecConfig
from baselines.models.convtasnet import ConvTasNet, ConvTasNetConfig
from baselines.models.mask_unet import MaskUNet, MaskUNetConfig
from baselines.models.msg import MSGConfig, MSGGenerator
from baselines.models.openunmix import OpenUnmix, OpenUnmixConfig
from baselines.models.waveunet import WaveUNet, WaveUNetConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

ARCHITECTURES = {
    "ConvTasNet": (ConvTasNet, ConvTasNetConfig),
    "ConvTasNetStereo": (ConvTasNet, ConvTasNetConfig),  # the official class name
    "WaveUNet": (WaveUNet, WaveUNetConfig),
    "ARUNet": (ARUNet, ARUNetConfig),
    "OpenUnmix": (OpenUnmix, OpenUnmixConfig),
    "BiLSTMMask": (BiLSTMMask, BiLSTMMaskConfig),
    "MaskUNet": (MaskUNet, MaskUNetConfig),
    "Codec": (Codec, CodecConfig),
    "MSGGenerator": (MSGGenerator, MSGConfig),
}


def architecture_of(model: torch.nn.Module) -> str:
    for name, (cls, _) in ARCHITECTURES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"no architecture name for {type(model).__name__}")


def save_pretrained(model: torch.nn.Module, directory: str | Path, extra: dict | None = None) -> Path:
    """Write config.json (the model's config, its architecture, and `extra`) and model.safetensors."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {**model.cfg.to_dict(), "architecture": architecture_of(model), **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    # config last: is_finished() trusts a folder once its config names the trained steps
    text = json.dumps(config, indent=2, sort_keys=True)
    atomic_write(directory / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text))
    return directory


def read_config(directory: str | Path) -> dict:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no config.json (expected a Hugging Face style model folder)")
    return json.loads(path.read_text())


def load_pretrained(directory: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build the model that config.json describes and load model.safetensors into it (strict)."""
    directory = Path(directory)
    config = read_config(directory)
    architecture = config.get("architecture", "ConvTasNetStereo")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{directory / CONFIG_NAME}: unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    cls, config_cls = ARCHITECTURES[architecture]
    model = cls(config_cls.from_dict(config))
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: missing (only safetensors weights are loaded)")
    state = load_file(str(weights), device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise RuntimeError(f"{weights} does not match the {architecture} of {directory / CONFIG_NAME}: {error}") from None
    return model.to(device).eval()
