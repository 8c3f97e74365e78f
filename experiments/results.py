"""What every job returns and the measurements both tasks share: the latency sample, the
single-request timing and the throughput. Knows nothing of MLflow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xmr.timing import measure_latency

LATENCY_KEYS = ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms")


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


def time_requests(one: Callable[[object], object], requests: Sequence, *, n_timed: int,
                  n_warmup: int) -> dict[str, float]:
    """The latency protocol: one request at a time, every backend on one thread
    (``latency_threads``), ``n_warmup`` untimed requests first, then ``n_timed`` (cycling) or
    every request if there are more. ``per_query_ms``: each request's own latency (its
    per-query column ``latency_ms``)."""
    out = measure_latency(one, requests, n_warmup=n_warmup, min_timed=n_timed)
    return {k: out[k] for k in (*LATENCY_KEYS, "latency_threads", "per_query_ms")}


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
    """The metrics every job logs besides its quality metrics."""
    return {"train_time_s": train_time_s, **{k: latency[k] for k in LATENCY_KEYS},
            "throughput_qps": throughput(n_requests, batch_s),
            "trained": 1.0 if trained else 0.0}
