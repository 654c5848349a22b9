"""Ordered maps on local worker processes: a system's own fitting, a demo set's rendering.

``ordered_map(function, calls, jobs)`` yields ``function(*args)`` for each tuple of ``calls`` in
the order of ``calls``, on up to ``jobs`` joblib (loky) worker processes, or in this process
when ``jobs`` is 1. Results therefore never depend on the number of workers. ``calls`` is
consumed only a few ahead of the workers, so a generator keeps memory bounded. ``function`` and
the arguments must pickle (a module-level function; large arrays travel as memory maps).

``jobs=None`` takes the number set by ``local_jobs(n)`` around the call (1 by default): the
command line sets it from ``--jobs`` while it builds a demo set, so that the builders' own
signatures need not carry it. Loky's workers are reused by the runner's next stage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

_LOCAL_JOBS: ContextVar[int] = ContextVar("cadenza_local_jobs", default=1)


@contextlib.contextmanager
def local_jobs(jobs: int):
    """Within the block, ``ordered_map(..., jobs=None)`` uses up to `jobs` processes."""
    token = _LOCAL_JOBS.set(max(1, int(jobs)))
    try:
        yield
    finally:
        _LOCAL_JOBS.reset(token)


def ordered_map(function: Callable[..., Any], calls: Iterable[tuple], jobs: int | None = None) -> Iterator:
    """``function(*args)`` for each tuple of `calls`, in order, on up to `jobs` processes."""
    jobs = _LOCAL_JOBS.get() if jobs is None else max(1, int(jobs))
    if jobs <= 1:
        return (function(*args) for args in calls)
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator", pre_dispatch="n_jobs")
    return parallel(delayed(function)(*args) for args in calls)
