"""LibMultiLabel side of the benchmarks (``benchmarks.scale``, ``benchmarks.vs_pecos``,
``benchmarks.ovr_vs_lml``); run by its own venv (``.lml-venv``, ``make lml-venv``), never
imported by the project.

``<lml python> benchmarks/_lml_worker.py {tree,1vsrest} DATA_DIR OUT.json [SETTINGS.json]``

Loads ``X_trn/Y_trn/X_tst.npz`` from DATA_DIR (X: CSR float32, rows l2-normalised; Y: CSR 0/1),
trains ``libmultilabel.linear.train_tree`` (Bonsai-style label tree, K-way k-means) or
``libmultilabel.linear.train_1vsrest`` (one liblinear problem per label over all rows),
predicts the top ``topk`` labels of every test row, and writes ``P_lml_<method>.npz``
(CSR scores) into DATA_DIR and the figures into OUT.json. SETTINGS.json overrides
:data:`DEFAULTS`. This file imports only the standard library, numpy, scipy, psutil and
LibMultiLabel.

Settings (:data:`DEFAULTS`) are LibMultiLabel's published examples
(``example_config/EUR-Lex/tree_l2svm.yml``, ``example_config/rcv1/l2svm.yml``): liblinear
``-s 1 -B 1 -e 0.0001 -q`` (L2-regularised squared-hinge SVM, dual; bias 1; tolerance 1e-4),
seed 1337; the tree at its defaults, K = 100 children per node, depth at most 10, beam 10.

- train_s: the library's training call (all physical cores: LibMultiLabel trains
  ``psutil.cpu_count(logical=False)`` labels at once), converting the matrices to liblinear's
  format included, as a user calling it pays that.
- throughput_qps: test rows / seconds of predicting them all in row blocks (the library
  returns dense N x L scores; blocks keep that bounded) and keeping each row's top k.
- peak_mem_mib / peak_mem_train_mib: the process's resident high-water mark (``VmHWM``),
  data loading included, at the end / right after training.
- model_nnz: non-zero weights (train_1vsrest's weights are a dense (D + 1) x L float64 array;
  its non-zeros are counted).
- ``{"skipped": reason}`` instead, when the model cannot fit in memory: train_1vsrest's dense
  weights larger than :data:`MAX_MEMORY_FRACTION` of the available memory, or train_tree's
  own estimate above the machine's memory (it raises MemoryError).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

DEFAULTS = {
    "options": "-s 1 -B 1 -e 0.0001 -q",  # liblinear options of the published examples
    "seed": 1337,  # the examples' seed (train_tree's k-means draws from np.random)
    "K": 100,  # train_tree: children per node (its default)
    "dmax": 10,  # train_tree: depth at most (its default)
    "beam_width": 10,  # train_tree: beam of the prediction (its default)
    "topk": 10,  # labels kept per test row
}
METHODS = ("tree", "1vsrest")
PREDICT_BLOCK_ENTRIES = 1 << 24  # dense score entries per prediction block (128 MiB float64)
MAX_MEMORY_FRACTION = 0.8  # train_1vsrest's dense weights may take this much available memory


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def load_csr(path: Path) -> sp.csr_matrix:
    # sp.csr_matrix, not csr_array: LibMultiLabel multiplies with `*` (matrix product only
    # for the matrix classes) and liblinear checks isinstance(x, csr_matrix)
    M = sp.csr_matrix(sp.load_npz(path), dtype=np.float32)
    M.sort_indices()
    return M


def top_k(scores: np.ndarray, k: int, *, positive_only: bool) -> sp.csr_matrix:
    """CSR of each row's ``k`` largest scores (``positive_only``: drop scores <= 0, which
    train_tree gives the labels its beam never reached)."""
    n, L = scores.shape
    k = min(k, L)
    cols = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (n, k), unordered
    vals = np.take_along_axis(scores, cols, axis=1)
    keep = vals > 0 if positive_only else np.ones_like(vals, dtype=bool)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    P = sp.csr_matrix((vals[keep].astype(np.float32), cols[keep], indptr), shape=(n, L))
    P.sort_indices()
    return P


def predict_top_k(predict, X: sp.csr_matrix, width: int, n_labels: int, k: int, *,
                  positive_only: bool) -> sp.csr_matrix:
    """``predict(X_block)`` (dense block x n_labels scores) over row blocks of at most
    PREDICT_BLOCK_ENTRIES dense entries (``width``: the columns the library allocates per
    row, labels plus the tree's meta-labels), keeping the top k of each row."""
    rows = max(1, PREDICT_BLOCK_ENTRIES // max(1, width))
    blocks = [top_k(np.asarray(predict(X[s:s + rows])), k, positive_only=positive_only)
              for s in range(0, X.shape[0], rows)]
    return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_labels))


def available_mib() -> float:
    import psutil

    return psutil.virtual_memory().available / 2**20


def dense_weights_refusal(n_features: int, n_labels: int, available_mib: float) -> str | None:
    """Why train_1vsrest cannot run here (its dense (D + 1) x L float64 weights above
    MAX_MEMORY_FRACTION of the available memory), or None when they fit."""
    need = (n_features + 1) * n_labels * 8 / 2**20
    if need <= MAX_MEMORY_FRACTION * available_mib:
        return None
    return (f"train_1vsrest's dense weights ((D + 1) x L float64) need {need:,.0f} MiB, over "
            f"{MAX_MEMORY_FRACTION:.0%} of the {available_mib:,.0f} MiB available")


def run(method: str, folder: Path, settings: dict) -> tuple[dict, sp.csr_matrix | None]:
    import libmultilabel.linear as linear
    import psutil

    X, Y = load_csr(folder / "X_trn.npz"), load_csr(folder / "Y_trn.npz")
    n_labels = Y.shape[1]
    out = {"method": f"libmultilabel.linear.train_{method}", "options": settings["options"],
           "seed": settings["seed"], "threads": psutil.cpu_count(logical=False),
           "versions": {d: importlib.metadata.version(d)
                        for d in ("libmultilabel", "liblinear-multicore", "numpy", "scipy")}}
    if method == "1vsrest":
        why = dense_weights_refusal(X.shape[1], n_labels, available_mib())
        if why is not None:
            out["skipped"] = why
            return out, None
    else:
        out |= {"K": settings["K"], "dmax": settings["dmax"],
                "beam_width": settings["beam_width"]}
    np.random.seed(settings["seed"])  # train_tree's k-means seeds come from np.random
    t0 = time.perf_counter()
    try:
        if method == "tree":
            model = linear.train_tree(Y, X, settings["options"], K=settings["K"],
                                      dmax=settings["dmax"], verbose=False)
        else:
            model = linear.train_1vsrest(Y, X, False, settings["options"], verbose=False)
    except MemoryError as exc:  # train_tree's own estimate of the model above the memory
        out["skipped"] = f"MemoryError: {exc}"
        return out, None
    out["train_s"] = time.perf_counter() - t0
    out["peak_mem_train_mib"] = peak_rss_mib()
    del X, Y
    if method == "tree":
        W = model.flat_model.weights
        out["model_nnz"] = int(W.nnz)
        width = int(model.node_ptr[-1])  # labels + meta-labels: the dense block's columns

        def predict(Xb):
            return model.predict_values(Xb, beam_width=settings["beam_width"])
    else:
        out["model_nnz"] = int(np.count_nonzero(model.weights))
        width = n_labels

        def predict(Xb):
            return linear.predict_values(model, Xb)
    X_tst = load_csr(folder / "X_tst.npz")
    t0 = time.perf_counter()
    P = predict_top_k(predict, X_tst, width, n_labels, settings["topk"],
                      positive_only=method == "tree")
    out["throughput_qps"] = X_tst.shape[0] / (time.perf_counter() - t0)
    return out, P


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="_lml_worker.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("method", choices=METHODS)
    p.add_argument("data_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("settings", type=Path, nargs="?", default=None,
                   help="JSON overriding the defaults (options, seed, K, dmax, beam_width, topk)")
    args = p.parse_args(argv)
    settings = dict(DEFAULTS)
    if args.settings is not None:
        extra = json.loads(args.settings.read_text())
        unknown = sorted(set(extra) - set(DEFAULTS))
        if unknown:
            p.error(f"unknown settings {unknown}; allowed: {sorted(DEFAULTS)}")
        settings |= extra
    result, P = run(args.method, args.data_dir, settings)
    if P is not None:
        sp.save_npz(args.data_dir / f"P_lml_{args.method}.npz", P, compressed=False)
    result["peak_mem_mib"] = peak_rss_mib()
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
