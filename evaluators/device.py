"""The one device resolver of the project: ``auto`` means a CUDA GPU when the runtime that
will run the work can use one, else the CPU.

The evaluators, the harness and the systems all resolve a ``device`` option through
``resolve_device``, so ``auto`` means the same thing everywhere.
"""

from __future__ import annotations

RUNTIMES = ("torch", "ctranslate2")


def resolve_device(option: str | None = "auto", runtime: str = "torch") -> str:
    """``auto`` (or None/empty) -> ``"cuda"`` when `runtime` (``torch`` or ``ctranslate2``)
    sees a CUDA device, else ``"cpu"``; any other value is returned as it is (a torch device
    string such as ``"cuda:1"``). A missing or broken GPU runtime resolves to ``"cpu"``."""
    if option not in (None, "", "auto"):
        return str(option)
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
    try:
        if runtime == "ctranslate2":
            import ctranslate2

            return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 (no GPU runtime at all)
        return "cpu"
