"""What every job returns and the measurements both tasks share: the latency sample, the
single-request timing and the throughput. Knows nothing of MLflow."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from xmr.timing import QUIET_LOAD_PER_CPU, measure_latency

LATENCY_KEYS = ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms")
# What a latency was measured under: the machine's 1-minute load average (the larger of its
# values at the start and at the end of the timing) and the CPUs this process may run on.
CONDITION_KEYS = ("latency_load_avg", "cpu_count")


@dataclass
class JobResult:
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, object] = field(default_factory=dict)  # name → JSON-able
    params: dict[str, object] = field(default_factory=dict)  # logged next to the config
    per_query: dict | None = None  # column → one value per test query (per_query.parquet)


def latency_sample_size(ev, n_requests: int) -> int:
    """Timed single requests: every test request, but at least ``eval.latency_min_queries``
    (cycling) and at most ``eval.latency_max_queries``."""
    return min(max(int(ev.latency_min_queries), n_requests), int(ev.latency_max_queries))


def load_average() -> float:
    """The 1-minute load average (runnable processes), NaN where the platform has none."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return math.nan


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, else every CPU of the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextmanager
def timing_conditions() -> Iterator[dict[str, float]]:
    """``with timing_conditions() as cond: <timing>``: afterwards ``cond`` holds
    :data:`CONDITION_KEYS`, so a latency says whether the machine was busy while it was
    measured (a load average above the CPU count means processes waited for a CPU).
    The load is the larger of its values at the start and at the end of the block."""
    cond: dict[str, float] = {}
    start = load_average()
    yield cond
    end = load_average()
    cond["latency_load_avg"] = max(start, end) if not math.isnan(start) else end
    cond["cpu_count"] = float(cpu_count())


def wait_for_quiet(max_wait_s: float, *, poll_s: float = 5.0,
                   out: Callable[[str], None] = print) -> bool:
    """Wait up to ``max_wait_s`` for the 1-minute load average to fall to the quiet level
    (:data:`xmr.timing.QUIET_LOAD_PER_CPU` × the CPUs): right after a training the average
    still counts it for a minute or two, and a latency timed then would read as measured on
    a busy machine. True when quiet (at once or after waiting), False when the time ran out
    (the timing then goes ahead and records the load it ran under)."""
    limit = QUIET_LOAD_PER_CPU * cpu_count()
    deadline = time.monotonic() + max(0.0, max_wait_s)
    load = load_average()
    if math.isnan(load) or load <= limit:
        return True
    out(f"  waiting for the 1-min load average ({load:.2f}) to fall to {limit:.2f} "
        f"(at most {max_wait_s:.0f} s)")
    while time.monotonic() < deadline:
        time.sleep(poll_s)
        if load_average() <= limit:
            return True
    out(f"  still {load_average():.2f} after {max_wait_s:.0f} s: timing anyway (the load is "
        f"recorded)")
    return False


def time_requests(one: Callable[[object], object], requests: Sequence, *, n_timed: int,
                  n_warmup: int) -> dict[str, float]:
    """The latency protocol: one request at a time, every backend on one thread
    (``latency_threads``), ``n_warmup`` untimed requests first, then ``n_timed`` (cycling) or
    every request if there are more. ``per_query_ms``: each request's own latency (its
    per-query column ``latency_ms``); :data:`CONDITION_KEYS`: the load and CPUs it ran
    under."""
    with timing_conditions() as cond:
        out = measure_latency(one, requests, n_warmup=n_warmup, min_timed=n_timed)
    return {k: out[k] for k in (*LATENCY_KEYS, "latency_threads", "per_query_ms")} | cond


def with_latency(per_query: dict, latency: dict, n: int) -> dict:
    """``per_query`` plus the column ``latency_ms`` when the latency protocol timed each of
    the ``n`` test requests itself (not PECOS's, timed inside the peer)."""
    times = latency.get("per_query_ms")
    if times is not None and len(times) == n:
        per_query = per_query | {"latency_ms": times}
    return per_query


def throughput(n_requests: int, seconds: float) -> float:
    return n_requests / seconds if seconds > 0 else float("nan")


def timing_metrics(*, train_time_s: float, latency: dict[str, float], n_requests: int,
                   batch_s: float, trained: bool) -> dict[str, float]:
    """The metrics every job logs besides its quality metrics. The latency's conditions
    (:data:`CONDITION_KEYS`) come with ``latency`` when it was timed by :func:`time_requests`;
    a latency timed elsewhere (the PECOS peer, in its worker) gets them sampled now, just
    after its timing (the 1-minute load average still covers it)."""
    if all(k in latency for k in CONDITION_KEYS):
        conditions = {k: float(latency[k]) for k in CONDITION_KEYS}
    else:
        with timing_conditions() as conditions:
            pass
    return {"train_time_s": train_time_s, **{k: latency[k] for k in LATENCY_KEYS},
            **conditions, "throughput_qps": throughput(n_requests, batch_s),
            "trained": 1.0 if trained else 0.0}
