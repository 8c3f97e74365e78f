"""Per-query latency the way the papers measure it: one request at a time, one thread for
every backend, warm-up first, percentiles over the timed requests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numba as nb
import numpy as np

LATENCY_THREADS = 1  # every single-query latency runs on one thread (the papers' protocol)
# A latency is trusted as measured on a quiet machine when the 1-minute load average was at
# most this × the CPU count (the claims' busy rule; the interleaved timing waits for it).
QUIET_LOAD_PER_CPU = 0.5


def thread_counts() -> dict[str, int]:
    """Threads each backend would use now: ``numba``, ``torch`` (when imported) and each
    BLAS/OpenMP pool threadpoolctl sees (``openmp``, ``openblas``, ...; the largest per API)."""
    out = {"numba": int(nb.get_num_threads())}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = int(torch.get_num_threads())
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # optional: without it BLAS/OpenMP pools are neither read nor pinned
        return out
    for pool in threadpool_info():
        api = str(pool.get("internal_api", pool.get("user_api", "?")))
        out[api] = max(out.get(api, 0), int(pool["num_threads"]))
    return out


@contextmanager
def pinned_threads(n: int = LATENCY_THREADS) -> Iterator[None]:
    """Run the block with numba, torch (if imported) and every BLAS/OpenMP pool
    (threadpoolctl, if installed) limited to ``n`` threads; restore the previous counts after,
    also on error."""
    old_nb = nb.get_num_threads()
    torch = sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    limiter = None
    try:
        nb.set_num_threads(min(n, nb.config.NUMBA_NUM_THREADS))
        if torch is not None:
            torch.set_num_threads(n)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            threadpool_limits = None
        if threadpool_limits is not None:
            limiter = threadpool_limits(limits=n)
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(old_torch)
        nb.set_num_threads(old_nb)


def measure_latency(predict_one: Callable[[object], object], queries: Sequence,
                    *, n_warmup: int = 100, min_timed: int = 1000) -> dict[str, object]:
    """Calls ``predict_one(q)`` for each query (cycling through ``queries`` until at least
    ``min_timed`` calls, or once over all of them if there are more) after ``n_warmup``
    untimed calls, with every backend pinned to one thread (`pinned_threads`). Returns
    milliseconds: ``latency_p50_ms``, ``latency_p99_ms``, ``latency_mean_ms``, plus
    ``n_timed``, ``latency_threads`` (1) and ``per_query_ms``: each query's own latency, an
    array aligned with ``queries`` (the median of its timed calls when cycling), so that an
    analysis can resample test queries for an interval of a latency percentile."""
    if len(queries) == 0:
        raise ValueError("queries is empty: nothing to time")
    n = max(min_timed, len(queries))
    with pinned_threads(LATENCY_THREADS):
        for i in range(n_warmup):
            predict_one(queries[i % len(queries)])
        times = np.empty(n)
        clock = time.perf_counter
        for i in range(n):
            q = queries[i % len(queries)]
            t0 = clock()
            predict_one(q)
            times[i] = clock() - t0
    times *= 1e3
    return {"latency_p50_ms": float(np.percentile(times, 50)),
            "latency_p99_ms": float(np.percentile(times, 99)),
            "latency_mean_ms": float(times.mean()), "n_timed": int(n),
            "latency_threads": LATENCY_THREADS,
            "per_query_ms": per_query_times(times, len(queries))}


def per_query_times(times: np.ndarray, n_queries: int) -> np.ndarray:
    """(n_queries,) float32: call i timed query ``i % n_queries``; each query's median."""
    cycles = -(-len(times) // n_queries)
    padded = np.full(cycles * n_queries, np.nan)
    padded[:len(times)] = times
    return np.nanmedian(padded.reshape(cycles, n_queries), axis=0).astype(np.float32)
