"""What the side-by-side benchmarks share (`benchmarks.vs_pecos`, `benchmarks.scale`,
`benchmarks.ovr_vs_lml`): the model and prediction settings of both sides, the accuracy they
report, the machine they ran on and when, what and under which load (`start_run`,
`finish_run`, `recorded_runs`), the table cells."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import os
import platform
import shlex
import subprocess
from pathlib import Path

import scipy.sparse as sp

from xmr.params import PredictParams

# Shared by both sides; keys are the keyword arguments of xmr.XRLinear and PecosXRLinear.
MODEL = {
    "nr_splits": 16,  # B, branching factor of the label tree
    "max_leaf_size": 100,  # labels per leaf cluster at most
    "threshold": 0.1,  # weight pruning |w| < threshold
    "Cp": 1.0,  # cost of positives
    "Cn": 1.0,  # cost of negatives
    "eps": 0.1,  # solver tolerance
    "max_iter": 100,  # solver iterations at most
    "bias": 1.0,  # constant feature appended to every row
    "negative_sampling": "tfn",  # teacher-forced negatives
    "seed": 0,  # indexer seed
    "n_jobs": -1,  # all cores for training and batch prediction
}
PREDICT = dataclasses.asdict(PredictParams())  # beam 10, topk 10, l3-hinge (PECOS's own)
N_WARMUP = 100  # single queries run before the latency clock starts
REPO_ROOT = Path(__file__).resolve().parent.parent


def accuracy(Y_true: sp.csr_matrix, P: sp.csr_matrix) -> dict:
    from xmr.metrics import precision_at_k, recall_at_k

    return {"precision_at_1": precision_at_k(Y_true, P, 1),
            "precision_at_5": precision_at_k(Y_true, P, 5),
            "recall_at_10": recall_at_k(Y_true, P, 10)}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(peer_versions: dict | None) -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": {d: _version(d) for d in ("numpy", "scipy", "numba", "scikit-learn",
                                               "xmr-harness")},
        "peer": peer_versions,
    }


def git_commit(root: Path = REPO_ROOT, ignore: tuple[Path, ...] = ()) -> str | None:
    """``git rev-parse HEAD`` of ``root``, with ``-dirty`` when tracked files other than
    ``ignore`` (a benchmark's own output, rewritten as it runs) differ from it; None outside
    a git checkout (an unpacked release) or without git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        # untracked files (bench-results/, caches) do not change the code that ran
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    own = {Path(p).resolve() for p in ignore}
    dirty = [line for line in changed.splitlines()
             if (Path(root) / line.split(None, 1)[1]).resolve() not in own]
    return head + ("-dirty" if dirty else "")


def _now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def start_measurement(ignore: tuple[Path, ...] = ()) -> dict:
    """The code's git commit (:func:`git_commit`, with ``ignore``), the UTC start time and
    the load averages (1, 5, 15 min) of something measured now; :func:`finish_run` adds its
    end."""
    return {"commit": git_commit(ignore=ignore), "started_utc": _now_utc(),
            "load_average_start": list(os.getloadavg())}


def start_run(module: str, argv: list[str]) -> dict:
    """When, what and under which load a benchmark run started: the command
    (``python -m <module> <argv>``) and :func:`start_measurement`. :func:`finish_run` adds
    the end; results keep a list of these under ``"runs"`` (one per invocation:
    ``benchmarks.scale --resume`` appends)."""
    return {"command": shlex.join(["python", "-m", module, *map(str, argv)])} | \
        start_measurement()


def finish_run(run: dict) -> dict:
    """``run`` (from :func:`start_run`) with its UTC end time and end load averages."""
    run |= {"finished_utc": _now_utc(), "load_average_end": list(os.getloadavg())}
    return run


def short_commit(commit: str | None, chars: int = 10) -> str | None:
    """A commit as the docs show it: its first ``chars`` hex digits, keeping ``-dirty``."""
    if not commit:
        return None
    head, dirty = commit.removesuffix("-dirty"), commit.endswith("-dirty")
    return head[:chars] + ("-dirty" if dirty else "")


def time_window(started_utc: str | None, finished_utc: str | None) -> str | None:
    """"2026-12-04 19:49:10–20:16:00 UTC" (the end's date only when it differs); "(did not
    finish)" without an end; None without a start."""
    if not started_utc:
        return None
    start = started_utc.replace("T", " ").removesuffix("+00:00")
    if not finished_utc:
        return f"{start} UTC (did not finish)"
    end = finished_utc.replace("T", " ").removesuffix("+00:00")
    return f"{start}–{end[11:] if end[:10] == start[:10] else end} UTC"


def recorded_runs(result: dict) -> list[dict]:
    """The run records of a benchmark result: its ``"runs"``, or for a JSON written before
    they existed one record of what it has (load averages kept in ``settings`` by
    ``benchmarks.scale``, at the top level by ``benchmarks.ovr_vs_lml``; no command, commit
    or time); [] when it holds none."""
    if "runs" in result:
        return list(result["runs"])
    legacy = {}
    for where in (result.get("settings") or {}, result):
        for key in ("load_average_start", "load_average_end"):
            if key in where:
                legacy[key] = where[key]
    return [legacy] if legacy else []


def fmt_number(v, *, sig: int = 4, small_decimals: int | None = None) -> str:
    """A table cell: "–" for None; integers and values from 1,000 up with thousands
    separators; values below 1 with ``small_decimals`` decimals when given; else ``sig``
    significant digits. (Shared by this benchmark's and `benchmarks.scale`'s tables.)"""
    if v is None:
        return "–"
    if isinstance(v, int) or abs(v) >= 1000:
        return f"{v:,.0f}"
    if small_decimals is not None and abs(v) < 1:
        return f"{v:.{small_decimals}f}"
    return f"{v:.{sig}g}"
