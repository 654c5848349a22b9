"""The CPU numerics are pinned before torch loads, in the CLI and in worker processes."""

from __future__ import annotations

import os
import subprocess
import sys

from harness.numerics import PINNED


def test_pinned_in_this_process():
    for key, value in PINNED.items():
        assert key in os.environ


def test_pinned_before_torch_in_a_fresh_interpreter():
    code = ("import sys, harness, os; assert 'torch' not in sys.modules; "
            "print(os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA'])")
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["AVX2", "AVX2"]


def test_a_user_value_wins():
    code = "import harness, os; print(os.environ['ONEDNN_MAX_CPU_ISA'])"
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "ALL"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ALL"
