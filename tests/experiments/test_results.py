"""The measurements every job shares: the latency records the load and CPUs it ran under."""

from __future__ import annotations

import math
import os

import pytest

from experiments import results


@pytest.fixture
def loads(monkeypatch):
    """Make os.getloadavg return the given 1-minute loads, one per call."""
    def _set(*values):
        it = iter(values)
        monkeypatch.setattr(os, "getloadavg", lambda: (next(it), 0.0, 0.0))
    return _set


def _time(n=5) -> dict:
    return results.time_requests(lambda q: q * 2, list(range(n)), n_timed=n, n_warmup=1)


def test_the_latency_records_the_larger_load_and_the_cpu_count(loads):
    loads(1.5, 3.25)  # start, end of the timing
    out = _time()
    assert out["latency_load_avg"] == 3.25
    assert out["cpu_count"] == float(len(os.sched_getaffinity(0))) >= 1.0
    loads(4.0, 0.5)  # the load fell during the timing: the start counts
    assert _time()["latency_load_avg"] == 4.0
    assert set(results.CONDITION_KEYS) <= set(out)
    assert out["latency_p50_ms"] >= 0 and len(out["per_query_ms"]) == 5


def test_job_metrics_carry_the_conditions(loads):
    loads(2.0, 2.5)
    latency = _time()
    m = results.timing_metrics(train_time_s=1.0, latency=latency, n_requests=5, batch_s=0.1,
                               trained=True)
    assert m["latency_load_avg"] == 2.5 and m["cpu_count"] == latency["cpu_count"]
    assert {*results.LATENCY_KEYS, *results.CONDITION_KEYS} <= set(m)
    # a latency timed elsewhere (the PECOS peer's worker): sampled when the metrics are made
    loads(7.0, 7.5)
    peer = {k: 0.1 for k in results.LATENCY_KEYS}
    m = results.timing_metrics(train_time_s=1.0, latency=peer, n_requests=5, batch_s=0.1,
                               trained=False)
    assert m["latency_load_avg"] == 7.5 and m["cpu_count"] >= 1.0


def test_no_load_average_is_nan_not_an_error(monkeypatch):
    def unavailable():
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert math.isnan(results.load_average())
    assert math.isnan(_time()["latency_load_avg"])
    monkeypatch.delattr(os, "sched_getaffinity")
    assert results.cpu_count() == (os.cpu_count() or 1)


def test_wait_for_quiet_waits_for_the_load_to_decay(monkeypatch):
    """After a training the 1-min load average still counts it: the interleaved timing waits
    for the quiet level (0.5 x CPUs), up to a limit, and says so."""
    from experiments import results

    loads = iter([3.0, 2.0, 1.5, 0.9, 0.5])
    monkeypatch.setattr(results, "load_average", lambda: next(loads))
    monkeypatch.setattr(results, "cpu_count", lambda: 2)
    monkeypatch.setattr(results.time, "sleep", lambda s: None)
    said = []
    assert results.wait_for_quiet(600, out=said.append) is True
    assert len(said) == 1 and "to fall to 1.00" in said[0]
    assert next(loads) == 0.5  # it stopped polling once at 0.9 (<= 1.0)
    # never quiet: gives up at the limit and the timing goes ahead
    monkeypatch.setattr(results, "load_average", lambda: 5.0)
    clock = iter(range(0, 10_000, 50))
    monkeypatch.setattr(results.time, "monotonic", lambda: float(next(clock)))
    said.clear()
    assert results.wait_for_quiet(120, out=said.append) is False
    assert "timing anyway" in said[-1]
    # quiet at once: no wait, nothing said
    monkeypatch.setattr(results, "load_average", lambda: 0.2)
    said.clear()
    assert results.wait_for_quiet(120, out=said.append) is True and not said
