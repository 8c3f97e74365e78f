"""A SIGINT/SIGTERM that lands inside a tracking-store write waits for the write to end
(`experiments.outcome.deferred_signals`, used by every write through `tracking._retry`):
raised in the middle of an SQLite commit it could leave the process's own connection holding
the store's write lock, and the job's next write — ending its run as KILLED — then waited on
itself for the whole lock timeout (seen as a 120 s hang after Ctrl-C on a loaded machine)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from experiments import outcome, tracking


@pytest.fixture
def handlers(monkeypatch):
    monkeypatch.setattr(outcome, "_INTERRUPTED", [])
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    outcome.install_signal_handlers()
    yield
    for s, h in old.items():
        signal.signal(s, h)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_a_store_write_is_raised_when_the_write_has_ended(handlers, signum):
    steps = []

    def write():
        os.kill(os.getpid(), signum)  # delivered here, in the middle of the write
        steps.append("after the signal")  # the rest of the write still runs
        return "written"

    with pytest.raises(KeyboardInterrupt):
        tracking._retry(write)
    assert steps == ["after the signal"]
    assert outcome.interrupted()


def test_a_signal_outside_a_write_is_raised_at_once(handlers):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)  # the handler runs at the next bytecode
    assert tracking._retry(lambda: "written") == "written"  # later writes are not deferred


def test_an_interrupt_wins_over_the_writes_own_error(handlers):
    def failing_write():
        os.kill(os.getpid(), signal.SIGINT)
        raise ValueError("the write failed too")

    with pytest.raises(KeyboardInterrupt):
        tracking._retry(failing_write)


def test_other_threads_do_not_defer(handlers):
    seen = []
    t = threading.Thread(target=lambda: seen.append(
        (outcome._DEFERRING[0], tracking._retry(lambda: outcome._DEFERRING[0]))))
    t.start()
    t.join()
    assert seen == [(0, 0)]  # the main thread's handler is never held by a worker's write
