"""Omikuji / napkinXC side of :mod:`benchmarks.scale`; run by their own venv (``.xmc-venv``,
``make xmc-venv``), never imported by the project.

``<xmc python> benchmarks/_xmc_worker.py {omikuji,napkinxc} DATA_DIR OUT.json``

Loads ``X_trn/Y_trn/X_tst.npz`` from DATA_DIR, trains the library at its documented defaults
(Omikuji: Parabel mode, i.e. its default hyper-parameters with one tree; napkinXC: ``PLT``),
predicts the top 10 labels of every test row, and writes ``P_<lib>.npz`` (CSR scores) into
DATA_DIR and the figures into OUT.json. This file imports only the standard library, numpy,
scipy and the library it runs.

- train_s: the library's training call, all cores. Omikuji trains from a file in the Extreme
  Classification Repository format, so its time includes parsing that file (written before the
  clock starts); napkinXC's ``fit`` takes the matrices.
- throughput_qps: test rows / seconds of predicting them all (Omikuji predicts one row per call,
  so its batch is a Python loop on one thread; napkinXC's ``predict_proba`` gets the whole CSR).
- peak_mem_mib: the process's resident high-water mark (``VmHWM``), data loading included.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

TOPK = 10


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _load(path: Path) -> sp.csr_matrix:
    M = sp.csr_matrix(sp.load_npz(path), dtype=np.float32)
    M.sort_indices()
    return M


def _to_csr(pairs: list[list[tuple[int, float]]], n_labels: int) -> sp.csr_matrix:
    indptr = np.cumsum([0] + [len(p) for p in pairs])
    cols = np.fromiter((c for p in pairs for c, _ in p), dtype=np.int64, count=indptr[-1])
    vals = np.fromiter((v for p in pairs for _, v in p), dtype=np.float32, count=indptr[-1])
    P = sp.csr_matrix((vals, cols, indptr), shape=(len(pairs), n_labels))
    P.sum_duplicates()
    return P


def _write_xc(path: Path, X: sp.csr_matrix, Y: sp.csr_matrix) -> None:
    """Extreme Classification Repository text format: header, then ``l1,l2 f:v f:v``."""
    with open(path, "w") as fh:
        fh.write(f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}\n")
        for i in range(X.shape[0]):
            labels = ",".join(map(str, Y.indices[Y.indptr[i]:Y.indptr[i + 1]]))
            a, b = X.indptr[i], X.indptr[i + 1]
            feats = " ".join(f"{f}:{v:.6g}" for f, v in zip(X.indices[a:b], X.data[a:b]))
            fh.write(f"{labels} {feats}\n")


def run_omikuji(folder: Path, tmp: Path) -> tuple[dict, sp.csr_matrix]:
    import omikuji

    X, Y = _load(folder / "X_trn.npz"), _load(folder / "Y_trn.npz")
    n_labels = Y.shape[1]
    _write_xc(tmp / "train.txt", X, Y)
    del X, Y
    hp = omikuji.Model.default_hyper_param()
    hp.n_trees = 1  # Parabel mode: the defaults are Parabel's, with one tree
    t0 = time.perf_counter()
    model = omikuji.Model.train_on_data(str(tmp / "train.txt"), hp)
    train_s = time.perf_counter() - t0
    peak_train = _peak_rss_mib()
    model.save(str(tmp / "model"))
    model_bytes = sum(p.stat().st_size for p in (tmp / "model").rglob("*") if p.is_file())
    X_tst = _load(folder / "X_tst.npz")
    rows = [list(zip(X_tst.indices[a:b].tolist(), X_tst.data[a:b].tolist()))
            for a, b in zip(X_tst.indptr[:-1], X_tst.indptr[1:])]
    t0 = time.perf_counter()
    pairs = [model.predict(r, top_k=TOPK) for r in rows]
    qps = len(rows) / (time.perf_counter() - t0)
    return ({"train_s": train_s, "throughput_qps": qps, "peak_mem_train_mib": peak_train,
             "model_bytes": int(model_bytes),
             "settings": "omikuji.Model.default_hyper_param() with n_trees=1"},
            _to_csr(pairs, n_labels))


def run_napkinxc(folder: Path, tmp: Path) -> tuple[dict, sp.csr_matrix]:
    from napkinxc.models import PLT

    X, Y = _load(folder / "X_trn.npz"), _load(folder / "Y_trn.npz")
    n_labels = Y.shape[1]
    labels = [Y.indices[a:b].tolist() for a, b in zip(Y.indptr[:-1], Y.indptr[1:])]
    del Y
    model = PLT(str(tmp / "model"))
    t0 = time.perf_counter()
    model.fit(X, labels)
    train_s = time.perf_counter() - t0
    peak_train = _peak_rss_mib()
    del X, labels
    model_bytes = sum(p.stat().st_size for p in (tmp / "model").rglob("*") if p.is_file())
    X_tst = _load(folder / "X_tst.npz")
    t0 = time.perf_counter()
    pairs = model.predict_proba(X_tst, top_k=TOPK)
    qps = X_tst.shape[0] / (time.perf_counter() - t0)
    return ({"train_s": train_s, "throughput_qps": qps, "peak_mem_train_mib": peak_train,
             "model_bytes": int(model_bytes), "settings": "napkinxc.models.PLT defaults"},
            _to_csr(pairs, n_labels))


RUNNERS = {"omikuji": run_omikuji, "napkinxc": run_napkinxc}


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in RUNNERS:
        print(f"usage: {argv[0]} {{{','.join(RUNNERS)}}} DATA_DIR OUT.json", file=sys.stderr)
        return 2
    lib, folder, out = argv[1], Path(argv[2]), Path(argv[3])
    with tempfile.TemporaryDirectory(prefix=f"{lib}_scale_") as tmp:
        result, P = RUNNERS[lib](folder, Path(tmp))
    sp.save_npz(folder / f"P_{lib}.npz", P, compressed=False)
    result["peak_mem_mib"] = _peak_rss_mib()
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
