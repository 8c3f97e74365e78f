"""The latency protocol: every backend on one thread inside the timed call, restored after."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from xmr.timing import measure_latency, pinned_threads, thread_counts

torch = pytest.importorskip("torch")
threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def many_threads():
    """Every backend at more than one thread before timing (whatever the machine has)."""
    old_torch, old_nb = torch.get_num_threads(), nb.get_num_threads()
    torch.set_num_threads(3)
    nb.set_num_threads(min(2, nb.config.NUMBA_NUM_THREADS))
    with threadpoolctl.threadpool_limits(limits=3):
        yield thread_counts()
    torch.set_num_threads(old_torch)
    nb.set_num_threads(old_nb)


def test_every_backend_is_pinned_inside_the_timed_call(many_threads):
    before = many_threads
    assert before["torch"] == 3
    seen = []

    def predict_one(q):
        seen.append(thread_counts())
        return torch.ones(4) @ torch.ones(4)  # a torch op, as the dual encoder's predict_one

    out = measure_latency(predict_one, list(range(7)), n_warmup=2, min_timed=10)
    assert out["n_timed"] == 10 and out["latency_threads"] == 1
    assert len(seen) == 12
    for counts in seen:
        assert counts["torch"] == 1 and counts["numba"] == 1
        assert set(counts) == set(before)  # every pool seen before is seen (and pinned) inside
        assert all(v == 1 for v in counts.values()), counts
    assert thread_counts() == before  # restored


def test_pinned_threads_restores_after_an_error(many_threads):
    before = many_threads
    with pytest.raises(RuntimeError, match="boom"), pinned_threads():
        assert thread_counts()["torch"] == 1
        raise RuntimeError("boom")
    assert thread_counts() == before


def test_measure_latency_refuses_no_queries():
    with pytest.raises(ValueError, match="queries is empty"):
        measure_latency(lambda q: q, [])


def test_torch_stays_at_one_thread_after_numba_is_pinned():
    # numba's OpenMP layer and torch share the calling thread's OpenMP count: pinning numba
    # after torch would silently raise torch back (a GRU step got 20x slower under load)
    torch = pytest.importorskip("torch")
    initial = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        before = (nb.get_num_threads(), torch.get_num_threads())
        seen = []
        out = measure_latency(lambda q: seen.append((nb.get_num_threads(),
                                                     torch.get_num_threads())),
                              ["a", "b", "c"], n_warmup=2, min_timed=5)
        assert set(seen) == {(1, 1)} and len(seen) == 2 + 5
        assert out["n_timed"] == 5
        assert (nb.get_num_threads(), torch.get_num_threads()) == before
    finally:
        torch.set_num_threads(initial)


def test_every_request_is_timed_once_when_there_are_more_than_min_timed():
    calls = []
    out = measure_latency(calls.append, list(range(7)), n_warmup=0, min_timed=3)
    assert calls == list(range(7)) and out["n_timed"] == 7


def test_per_query_ms_is_each_querys_own_latency():
    # a fake clock: query q's call takes q ms, so each query's own time is known exactly
    import xmr.timing as timing

    now = [0.0]

    def predict_one(q):
        now[0] += q / 1e3

    real = timing.time.perf_counter
    timing.time.perf_counter = lambda: now[0]
    try:
        out = measure_latency(predict_one, [1, 5, 2], n_warmup=1, min_timed=7)  # cycles
    finally:
        timing.time.perf_counter = real
    per_query = out["per_query_ms"]
    assert per_query.dtype == np.float32 and per_query.shape == (3,)
    np.testing.assert_allclose(per_query, [1, 5, 2], rtol=1e-5)


def test_per_query_times_takes_each_querys_median_over_cycles():
    from xmr.timing import per_query_times

    times = np.array([1.0, 10.0, 3.0, 20.0, 2.0])  # query 0: 1, 3, 2; query 1: 10, 20
    np.testing.assert_allclose(per_query_times(times, 2), [2.0, 15.0])
