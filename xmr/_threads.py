"""Thread-count resolution shared by the estimators."""

from __future__ import annotations

import os

import numba as nb


def resolve_n_jobs(n_jobs: int) -> int:
    """-1 (or any value < 1) = all cores numba may use; otherwise at most that many."""
    available = nb.config.NUMBA_NUM_THREADS or os.cpu_count() or 1
    if n_jobs is None or n_jobs < 1:
        return available
    return min(int(n_jobs), available)
