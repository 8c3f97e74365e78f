"""Per-query latency the way the papers measure it: one request at a time, one thread,
warm-up first, percentiles over the timed requests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numba as nb
import numpy as np


def measure_latency(predict_one: Callable[[object], object], queries: Sequence,
                    *, n_warmup: int = 100, min_timed: int = 1000) -> dict[str, float]:
    """Calls ``predict_one(q)`` for each query (cycling through ``queries`` until at least
    ``min_timed`` calls, or once over all of them if there are more) after ``n_warmup``
    untimed calls, with numba and (when imported) torch limited to one thread, both restored
    afterwards. Returns milliseconds: ``latency_p50_ms``, ``latency_p99_ms``,
    ``latency_mean_ms`` and ``n_timed``.

    Torch is set after numba on purpose: numba's OpenMP layer and torch share the OpenMP
    thread count of the calling thread, so ``nb.set_num_threads`` can silently raise torch's
    (to 2 here, which made a GRU step 20x slower on a loaded 2-core machine)."""
    if len(queries) == 0:
        raise ValueError("queries is empty: nothing to time")
    n = max(min_timed, len(queries))
    torch = sys.modules.get("torch")  # never imported here: the library runs without torch
    old = nb.get_num_threads()
    old_torch = torch.get_num_threads() if torch is not None else None
    nb.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
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
        if torch is not None:
            torch.set_num_threads(old_torch)
    times *= 1e3
    return {"latency_p50_ms": float(np.percentile(times, 50)),
            "latency_p99_ms": float(np.percentile(times, 99)),
            "latency_mean_ms": float(times.mean()), "n_timed": int(n)}
