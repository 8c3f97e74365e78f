"""measure_latency: one request at a time with numba and torch on one thread, both restored."""

from __future__ import annotations

import numba as nb
import pytest

from xmr.timing import measure_latency


def test_one_thread_for_numba_and_torch_during_timing_restored_after():
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
        assert out["n_timed"] == 5 and out["latency_p50_ms"] >= 0.0
        assert (nb.get_num_threads(), torch.get_num_threads()) == before
    finally:
        torch.set_num_threads(initial)


def test_every_request_is_timed_once_when_there_are_more_than_min_timed():
    calls = []
    out = measure_latency(calls.append, list(range(7)), n_warmup=0, min_timed=3)
    assert calls == list(range(7)) and out["n_timed"] == 7


def test_no_request_is_an_error():
    with pytest.raises(ValueError, match="queries is empty"):
        measure_latency(lambda q: q, [], n_warmup=0)
