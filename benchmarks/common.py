"""What the side-by-side benchmarks share (`benchmarks.vs_pecos`, `benchmarks.scale`,
`benchmarks.ovr_vs_lml`): the model and prediction settings of both sides, the accuracy they
report, the machine they ran on, the table cells."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform

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
