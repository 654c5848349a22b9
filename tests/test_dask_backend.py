"""The Dask backend gives the same results as the local one (a LocalCluster stands in for a cluster)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

pytest.importorskip("dask.distributed")


def test_dask_backend_matches_loky(run_cli, tmp_path):
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=local) == 0
    assert run_cli("--system", "mixture", "--stage", "enhance", "--backend", "dask", "--jobs", "2", exp=dask) == 0
    read = lambda root: pd.read_json(next((root / "cad2/task2/mixture/results").glob("enhance-*.jsonl")),  # noqa: E731
                                     lines=True).dropna(subset=["key"]).sort_values("key")
    a, b = read(local), read(dask)
    assert list(a["key"]) == list(b["key"]) and (b["status"] == "ok").all()
    for out_a, out_b in zip(a["output"], b["output"]):
        np.testing.assert_array_equal(sf.read(out_a)[0], sf.read(out_b)[0])
