"""Time and peak resident memory of the named stages of one process.

``with stage("featurise"): ...`` marks a stage; it costs nothing unless a :class:`StageRecorder`
is active (``with StageRecorder() as rec: ...``), as in ``benchmarks.aol_full``, which reports
where a run on the full AOL log spends its time and memory.

Peak memory per stage: on Linux the kernel's high-water mark of the resident set (``VmHWM``)
is reset when a stage starts (``/proc/self/clear_refs``, value 5) and read when it ends, so a
stage's peak is the process's largest resident set *during* that stage (what earlier stages
still hold included: the figure that decides whether the run fits in memory). Elsewhere the
peak is the process's peak so far (``ru_maxrss``), marked ``peak_is_cumulative``.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the resident set's high-water mark; False where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform.startswith("linux") else 1 / 1024  # macOS: bytes
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)


class StageRecorder:
    """Collects one row per finished stage: ``stage``, ``seconds``, ``peak_rss_mib`` (largest
    resident set during the stage), ``rss_after_mib``; nested stages are recorded too (an
    outer stage's peak covers its inner ones)."""

    def __init__(self, on_row: Callable[[dict], None] | None = None):
        self.rows: list[dict] = []
        self.on_row = on_row  # called with each row as its stage ends (e.g. to print it, so
        # that a process stopped later still reports the stages it finished)
        self._open: list[list] = []  # [name, t0, peak_kib] of the stages under way
        self.peak_is_cumulative = False

    def __enter__(self) -> StageRecorder:
        _RECORDERS.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _RECORDERS.remove(self)

    def _start(self, name: str) -> None:
        now = _peak_kib()
        for entry in self._open:  # what the enclosing stages reached before this one
            entry[2] = max(entry[2], now)
        if not _reset_peak():
            self.peak_is_cumulative = True
        self._open.append([name, time.perf_counter(), 0])

    def _end(self, failed: bool = False) -> None:
        name, t0, peak = self._open.pop()
        seconds = time.perf_counter() - t0
        peak = max(peak, _peak_kib())
        for entry in self._open:
            entry[2] = max(entry[2], peak)
        rss = _status_kib("VmRSS")
        self.rows.append({"stage": name, "seconds": round(seconds, 3),
                          "peak_rss_mib": round(peak / 1024, 1),
                          "rss_after_mib": None if rss is None else round(rss / 1024, 1),
                          "depth": len(self._open)})
        if failed:  # it raised: its time and memory up to then, but it did not finish
            self.rows[-1]["failed"] = True
        if self.on_row is not None:
            self.on_row(self.rows[-1])


_RECORDERS: list[StageRecorder] = []


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark a stage of the work for the active recorder (a no-op without one)."""
    if not _RECORDERS:
        yield
        return
    rec = _RECORDERS[-1]
    rec._start(name)
    try:
        yield
    except BaseException:
        rec._end(failed=True)
        raise
    rec._end()
