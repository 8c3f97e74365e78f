"""Per-query latency the way the papers measure it: one request at a time, one thread,
warm-up first, percentiles over the timed requests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numba as nb
import numpy as np


def measure_latency(predict_one: Callable[[object], object], queries: Sequence,
                    *, n_warmup: int = 100, min_timed: int = 1000) -> dict[str, float]:
    """Calls ``predict_one(q)`` for each query (cycling through ``queries`` until at least
    ``min_timed`` calls, or once over all of them if there are more) after ``n_warmup``
    untimed calls, with numba limited to one thread. Returns milliseconds:
    ``latency_p50_ms``, ``latency_p99_ms``, ``latency_mean_ms`` and ``n_timed``."""
    if len(queries) == 0:
        raise ValueError("queries is empty: nothing to time")
    n = max(min_timed, len(queries))
    old = nb.get_num_threads()
    nb.set_num_threads(1)
    try:
        for i in range(n_warmup):
            predict_one(queries[i % len(queries)])
        times = np.empty(n)
        clock = time.perf_counter
        for i in range(n):
            q = queries[i % len(queries)]
            t0 = clock()
            predict_one(q)
            times[i] = clock() - t0
    finally:
        nb.set_num_threads(old)
    times *= 1e3
    return {"latency_p50_ms": float(np.percentile(times, 50)),
            "latency_p99_ms": float(np.percentile(times, 99)),
            "latency_mean_ms": float(times.mean()), "n_timed": int(n)}
