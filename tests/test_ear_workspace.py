"""The fast ear model's per-thread workspace: huge-page buffers, reuse, release."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from evaluators import ear_model
from evaluators.haaqi import compute_haaqi
from tests.haaqi_signals import audiogram, distort, music


@pytest.mark.parametrize("size, dtype", [(10, float), (300_000, float), (700_000, complex)])
def test_huge_page_empty_gives_a_writable_array_of_the_size_asked(size, dtype):
    array = ear_model._huge_page_empty(size, dtype)
    assert array.shape == (size,) and array.dtype == np.dtype(dtype)
    array[:] = 1.0
    assert array.sum() == size
    if size * array.itemsize >= ear_model._HUGE_PAGE_FROM and ear_model._madvise() is not None:
        assert array.ctypes.data % ear_model._HUGE_PAGE == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise is Linux's")
def test_madvise_is_found_on_linux():
    assert ear_model._madvise() is not None


def test_workspace_reuses_storage_per_name_and_thread_and_release_frees_it():
    ear_model.release_workspace()
    first = ear_model._workspace("test_buffer", (2, 1000))
    again = ear_model._workspace("test_buffer", (2, 500))
    assert np.shares_memory(first, again)
    grown = ear_model._workspace("test_buffer", (2, 5000))
    assert grown.shape == (2, 5000) and not np.shares_memory(first, grown)

    other = {}
    thread = threading.Thread(
        target=lambda: other.update(array=ear_model._workspace("test_buffer", (2, 500))))
    thread.start()
    thread.join()
    assert not np.shares_memory(other["array"], grown)

    ear_model.release_workspace()
    assert not np.shares_memory(ear_model._workspace("test_buffer", (2, 500)), grown)
    ear_model.release_workspace()


def test_scores_do_not_depend_on_what_the_workspace_held_before():
    reference = music(1.0, 24000)
    processed = distort(reference, 24000, "clip")
    listener = audiogram("moderate")
    ear_model.release_workspace()
    fresh = compute_haaqi(processed, reference, 24000, 24000, listener, seed=3)
    longer = music(2.0, 24000, seed=5)
    compute_haaqi(distort(longer, 24000, "noisy"), longer, 24000, 24000, listener, seed=4)
    reused = compute_haaqi(processed, reference, 24000, 24000, listener, seed=3)
    assert reused == fresh
    ear_model.release_workspace()
