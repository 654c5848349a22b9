"""CPU numerics pinned to one instruction set, so that training is bit-reproducible across CPU kinds.

torch's CPU kernels come from MKL (matrix products) and oneDNN (convolutions), and both pick
code paths by the instruction sets of the CPU: on an AVX2 machine and on an AVX-512 machine the
same training rounds differently and gives other weights after a few steps (hence other
scores). MKL's conditional numerical reproducibility (``MKL_CBWR``) and oneDNN's ISA cap
(``ONEDNN_MAX_CPU_ISA``) select the AVX2 paths on every CPU that has AVX2; torch's own ATen
kernels then give the same results on both kinds as well.

They must be set before torch loads MKL and oneDNN, so ``harness`` sets them on import
(`os.environ.setdefault`: a value the user exported wins, e.g. ``ONEDNN_MAX_CPU_ISA=ALL``
for speed over reproducibility). Worker processes inherit them.

References: Intel oneMKL developer guide, "Obtaining Numerically Reproducible Results"
(MKL_CBWR); oneDNN documentation, "CPU Dispatcher Control" (ONEDNN_MAX_CPU_ISA).
"""

from __future__ import annotations

import os

PINNED = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def pin_cpu_numerics() -> dict[str, str]:
    """Set the variables of `PINNED` that are not set already; returns the values in force."""
    for key, value in PINNED.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in PINNED}
