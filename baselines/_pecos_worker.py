"""PECOS side of the peer adapter; run by the peer interpreter (`.peer-venv`), never imported.

Protocol: ``<peer python> _pecos_worker.py REQUEST.json``. The request names an ``op``
("fit", "predict" or "latency"), a ``workdir`` holding the input ``.npz`` files and the op's
parameters; the worker writes its outputs (``.npz``) and ``result.json`` into ``workdir`` and
exits 0, or prints a traceback on stderr and exits non-zero.

This file must only import the standard library, numpy, scipy and pecos: it runs in the peer's
own environment (numpy 1.26, scipy 1.13, libpecos 1.2.8), where the project is not installed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def _versions() -> dict:
    import pecos
    import scipy

    return {
        "libpecos": getattr(pecos, "__version__", "unknown"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": sys.version.split()[0],
    }


def _peak_rss_mib() -> float:
    """High-water mark of this process's resident set, MiB (Linux ``VmHWM``; not inherited
    from the parent through fork/exec, unlike ``ru_maxrss``). NaN where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _load_csr(path: Path) -> sp.csr_matrix:
    X = sp.csr_matrix(sp.load_npz(path), dtype=np.float32)
    X.sort_indices()
    return X


def _fit(req: dict, workdir: Path) -> dict:
    from pecos.xmc import Indexer, LabelEmbeddingFactory
    from pecos.xmc.xlinear.model import XLinearModel

    p = req["params"]
    X = _load_csr(workdir / "X.npz")
    Y = _load_csr(workdir / "Y.npz")
    given = [sp.csc_matrix(sp.load_npz(workdir / f"C{i}.npz"), dtype=np.float32)
             for i in range(req["tree_depth"])]

    t0 = time.perf_counter()
    if given:
        C = given
    else:
        Z = LabelEmbeddingFactory.create(Y, X, method="pifa")
        C = Indexer.gen(Z, indexer_type="hierarchicalkmeans", nr_splits=p["nr_splits"],
                        max_leaf_size=p["max_leaf_size"], spherical=True, seed=p["seed"],
                        kmeans_max_iter=p["kmeans_max_iter"], threads=p["threads"])
    t1 = time.perf_counter()
    m = XLinearModel.train(X, Y.tocsc(), C=C, threshold=p["threshold"], Cp=p["Cp"], Cn=p["Cn"],
                           eps=p["eps"], max_iter=p["max_iter"], bias=p["bias"],
                           negative_sampling_scheme=p["negative_sampling"], threads=p["threads"])
    t2 = time.perf_counter()

    m.save(req["model_dir"])
    chain = m.model.model_chain
    for i, level in enumerate(chain):
        sp.save_npz(workdir / f"tree{i}.npz", sp.csc_matrix(level.C, dtype=np.float32),
                    compressed=False)
    return {
        "index_time_s": 0.0 if given else t1 - t0,
        "train_time_s": t2 - t0,
        "model_nnz": int(sum(level.W.nnz for level in chain)),
        "tree_depth": len(chain),
        "n_labels": int(Y.shape[1]),
        "versions": _versions(),
    }


def _load_predict_only(req: dict):
    from pecos.xmc.xlinear.model import XLinearModel

    return XLinearModel.load(req["model_dir"], is_predict_only=True)


def _predict(req: dict, workdir: Path) -> dict:
    p = req["params"]
    X = _load_csr(workdir / "X.npz")
    po = _load_predict_only(req)
    t0 = time.perf_counter()
    P = po.predict(X, beam_size=p["beam_size"], only_topk=p["topk"],
                   post_processor=p["post_processor"], threads=p["threads"])
    seconds = time.perf_counter() - t0
    sp.save_npz(workdir / "P.npz", sp.csr_matrix(P, dtype=np.float32), compressed=False)
    return {"predict_time_s": seconds, "versions": _versions()}


def _latency(req: dict, workdir: Path) -> dict:
    p = req["params"]
    X = _load_csr(workdir / "X.npz")
    po = _load_predict_only(req)
    kwargs = {"beam_size": p["beam_size"], "only_topk": p["topk"],
              "post_processor": p["post_processor"]}
    n = X.shape[0]
    # Single-row CSR queries are sliced before the clock starts, as a server would receive them.
    rows = [X[[i], :] for i in range(n)]
    for row in rows:
        row.sort_indices()

    for i in range(p["n_warmup"]):
        po.predict(rows[i % n], threads=p["threads"], **kwargs)
    times_ms = np.empty(n, dtype=np.float64)
    for i, row in enumerate(rows):
        t0 = time.perf_counter()
        po.predict(row, threads=p["threads"], **kwargs)
        times_ms[i] = (time.perf_counter() - t0) * 1e3

    t0 = time.perf_counter()
    po.predict(X, threads=p["batch_threads"], **kwargs)
    batch_s = time.perf_counter() - t0
    return {
        "latency_p50_ms": float(np.percentile(times_ms, 50)),
        "latency_p99_ms": float(np.percentile(times_ms, 99)),
        "latency_mean_ms": float(times_ms.mean()),
        "throughput_qps": n / batch_s,
        "n_queries": n,
        "versions": _versions(),
    }


OPS = {"fit": _fit, "predict": _predict, "latency": _latency}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} REQUEST.json", file=sys.stderr)
        return 2
    req = json.loads(Path(argv[1]).read_text())
    workdir = Path(req["workdir"])
    op = req["op"]
    if op not in OPS:
        print(f"unknown op {op!r}; expected one of {sorted(OPS)}", file=sys.stderr)
        return 2
    result = OPS[op](req, workdir)
    result["peak_rss_mib"] = _peak_rss_mib()
    (workdir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
