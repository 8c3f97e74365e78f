"""What the process tells its caller: every job's status, a summary at the end of a sweep,
and an exit code that says the truth.

Exit codes of ``python -m experiments.run`` (documented in README "When things go wrong"):

- 0: every job FINISHED or was SKIPPED (already finished);
- 1: at least one job FAILED (the sweep still ran every other job);
- 2: nothing ran: bad overrides/config values, or the tracking store is unusable;
- 130: interrupted (Ctrl-C / SIGINT / SIGTERM): the running jobs are KILLED in MLflow and a
  rerun of the same command completes only the missing grid points.

Every job writes ``metrics.json`` (``status`` FINISHED / FAILED / SKIPPED) in its output
folder, and a failed one ``traceback.txt`` next to it; the summary reads those files, so it
is right for any launcher (in-process, joblib, SLURM).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class HarnessError(Exception):
    """A problem found before any job ran (tracking store, configuration): the message names
    it and says what to do; the entry point prints it without a traceback and exits 2."""


@dataclass
class Outcome:
    """The jobs of this process (a single run or a whole sweep)."""

    finished: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (job folder, error)
    missing: list[Path] = field(default_factory=list)  # no metrics.json: killed or crashed
    trainings: int = 0

    @property
    def n_jobs(self) -> int:
        return len(self.finished) + len(self.skipped) + len(self.failed) + len(self.missing)

    def exit_code(self) -> int:
        return EXIT_FAILED if (self.failed or self.missing) else EXIT_OK

    def add_job(self, job_dir: Path) -> None:
        metrics_file = job_dir / "metrics.json"
        try:
            m = json.loads(metrics_file.read_text())
        except (OSError, ValueError):
            self.missing.append(job_dir)
            return
        status = m.get("status", "FINISHED")
        if status == "FAILED":
            self.failed.append((job_dir, str(m.get("error", "?"))))
        elif status == "SKIPPED":
            self.skipped.append(job_dir)
        else:
            self.finished.append(job_dir)
            self.trainings += int(m.get("trained", 0) or 0)

    def failure_lines(self) -> list[str]:
        """One line per job that did not finish: its folder, error and traceback file."""
        lines = [f"  FAILED  {d}: {err}\n          traceback: {d / 'traceback.txt'}"
                 for d, err in self.failed]
        lines += [f"  NO RESULT  {d}: the job wrote no metrics.json (killed, or out of memory)"
                  for d in self.missing]
        return lines


def sweep_outcome(sweep_dir: Path, n_expected: int | None = None) -> Outcome:
    """The outcome of a sweep from its job folders (``<sweep_dir>/<job number>/``)."""
    out = Outcome()
    jobs = sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()),
                  key=lambda p: int(p.name))
    for job_dir in jobs:
        out.add_job(job_dir)
    if n_expected is not None:  # a job that died before creating its folder
        out.missing += [sweep_dir / str(i) for i in range(len(jobs), n_expected)]
    return out


# the outcome of this process, filled by the job (single run) or the sweep callback
_CURRENT = Outcome()
_INTERRUPTED: list[int] = []  # signals received (SIGINT, SIGTERM)


_DEFERRING = [0]  # depth of deferred_signals() sections in the main thread


def _on_signal(signum, frame):
    _INTERRUPTED.append(signum)
    if not _DEFERRING[0]:
        raise KeyboardInterrupt
    # inside a store write: deferred_signals raises it when the write has ended


@contextlib.contextmanager
def deferred_signals():
    """Run a tracking-store write to its end: a SIGINT/SIGTERM that arrives inside it is
    raised as KeyboardInterrupt just after. Raised in the middle of an SQLite commit, it
    could leave the process's own connection holding the store's write lock, so the job's
    next write (ending its run as KILLED) waited on itself for the whole lock timeout.
    Only the main thread defers (signal handlers run there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = len(_INTERRUPTED)
    _DEFERRING[0] += 1
    try:
        yield
    finally:
        _DEFERRING[0] -= 1
        if not _DEFERRING[0] and len(_INTERRUPTED) > seen:
            raise KeyboardInterrupt  # also over an error of the write: the interrupt wins


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM (kill, SLURM preemption) end the running job as KILLED. The
    signal is remembered: raised inside a compiled (numba) call the KeyboardInterrupt comes
    back as a SystemError, which :func:`interrupted` lets the job recognise."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def interrupted() -> bool:
    """Whether this process received SIGINT/SIGTERM."""
    return bool(_INTERRUPTED)


def record_job(job_dir: Path) -> None:
    """A single (non-sweep) job of this process ended: remember its status."""
    _CURRENT.add_job(job_dir)


def record_sweep(outcome: Outcome) -> None:
    global _CURRENT
    _CURRENT = outcome


def current() -> Outcome:
    return _CURRENT


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print ``message`` (no traceback) and exit with ``code``."""
    print(f"Error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)
