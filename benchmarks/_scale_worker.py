"""One step of :mod:`benchmarks.scale` in its own process (so its peak memory is its own).

``python -m benchmarks._scale_worker prepare --n-labels L --n-test T --seed S --dir D``
    draws the synthetic product-search problem (``2 * L`` training queries), featurises it
    (word 1-2-gram TF-IDF fit on the training texts) and writes ``X_trn/Y_trn/X_tst/Y_tst.npz``
    and ``data.json`` into D. Skipped when D already holds the same request.
``python -m benchmarks._scale_worker xmr --dir D --out OUT.json``
    loads D's matrices, trains ``xmr.XRLinear`` (the settings of ``benchmarks.vs_pecos``),
    predicts the test set in one batch, times every test row as a single query on one thread
    and writes the figures, ``P_xmr.npz`` (top-10 scores) and the process's peak memory.
``python -m benchmarks._scale_worker pecos --dir D --settings S.json --out OUT.json``
    the same for libpecos (``baselines.pecos_peer``, whose own worker processes run in the
    peer venv; their peak memory is reported), writing ``P_pecos.npz``. A process of its own,
    like every side, so that :mod:`benchmarks.scale` can stop it (and its workers) at a time
    limit.
``python -m benchmarks._scale_worker ovr --dir D --settings S.json --out OUT.json``
    the one-vs-rest baseline (``baselines.ovr_linear.OVRLinear``, settings' ``model`` at a
    fixed threshold) for :mod:`benchmarks.ovr_vs_lml`: fit (after an untimed warm-up fit),
    one batch predict of the test set, ``P_ovr.npz`` (top-k scores), peak memory.

Peak memory is the kernel's high-water mark of this process's resident set (``VmHWM`` in
``/proc/self/status``): unlike ``ru_maxrss`` it is not inherited from the parent through
fork/exec.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

DATA_FILES = ("X_trn", "Y_trn", "X_tst", "Y_tst")
WARMUP_ROWS = 2000  # rows of the untimed warm-up fit


def peak_rss_mib() -> float:
    """High-water mark of this process's resident set, MiB (Linux ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource  # not Linux: ru_maxrss (kB on Linux, bytes on macOS)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def dir_bytes(folder: Path) -> int:
    return int(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()))


def load_csr(path: Path) -> sp.csr_matrix:
    M = sp.csr_matrix(sp.load_npz(path), dtype=np.float32)
    M.sort_indices()
    return M


def prepare(n_labels: int, n_test: int, seed: int, folder: Path) -> dict:
    from xmr.datasets.synthetic import make_product_search
    from xmr.features import TextFeaturizer

    request = {"n_labels": n_labels, "n_train": 2 * n_labels, "n_test": n_test, "seed": seed}
    meta_path = folder / "data.json"
    if meta_path.is_file() and all((folder / f"{n}.npz").is_file() for n in DATA_FILES):
        meta = json.loads(meta_path.read_text())
        if meta.get("request") == request:
            return meta
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ds = make_product_search(n_products=n_labels, n_train=2 * n_labels, n_test=n_test,
                             seed=seed)
    t1 = time.perf_counter()
    featurizer = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=None)
    featurizer.fit(ds.train_texts)
    mats = {"X_trn": featurizer.transform(ds.train_texts), "Y_trn": ds.Y_train,
            "X_tst": featurizer.transform(ds.test_texts), "Y_tst": ds.Y_test}
    t2 = time.perf_counter()
    for name, M in mats.items():
        M = sp.csr_matrix(M, dtype=np.float32)
        M.sort_indices()
        sp.save_npz(folder / f"{name}.npz", M, compressed=False)
    meta = {"request": request,
            "source": f"xmr.datasets.synthetic.make_product_search(n_products={n_labels}, "
                      f"n_train={2 * n_labels}, n_test={n_test}, seed={seed})",
            "features": "xmr.features.TextFeaturizer(word_ngram_range=(1, 2), "
                        "char_ngram_range=None), fit on the training texts",
            "n_train": int(mats["X_trn"].shape[0]), "n_test": int(mats["X_tst"].shape[0]),
            "n_features": int(mats["X_trn"].shape[1]), "n_labels": n_labels,
            "x_trn_nnz": int(mats["X_trn"].nnz), "y_trn_nnz": int(mats["Y_trn"].nnz),
            "mean_positives": ds.params["mean_positives"],
            "generate_s": t1 - t0, "featurise_s": t2 - t1}
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


def run_xmr(folder: Path, settings: dict) -> dict:
    import xmr
    from xmr.timing import measure_latency

    X, Y = load_csr(folder / "X_trn.npz"), load_csr(folder / "Y_trn.npz")
    # numba compiles (or loads from its cache) on first use: a fit on a few rows first keeps
    # that out of the timed fit, as PECOS's C++ comes compiled
    n_warm = min(X.shape[0], WARMUP_ROWS)
    xmr.XRLinear(**settings["model"], allow_empty=True).fit(X[:n_warm], Y[:n_warm])
    model = xmr.XRLinear(**settings["model"], allow_empty=True)
    model.fit(X, Y)
    out = {"train_s": model.fit_time_s_, "index_s": model.index_time_s_,
           "peak_mem_train_mib": peak_rss_mib(), "model_nnz": int(model.model_nnz_)}
    del X, Y
    tmp = Path(tempfile.mkdtemp(prefix="xmr_scale_"))
    try:
        model.save(tmp / "model")
        out["model_bytes"] = dir_bytes(tmp / "model")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    X_tst = load_csr(folder / "X_tst.npz")
    predict = settings["predict"]
    model.predict(X_tst[:100], **predict)  # compiles the batch kernel outside the clock
    t0 = time.perf_counter()
    P = model.predict(X_tst, **predict)
    out["throughput_qps"] = X_tst.shape[0] / (time.perf_counter() - t0)
    rows = [(X_tst.indices[a:b], X_tst.data[a:b])
            for a, b in zip(X_tst.indptr[:-1], X_tst.indptr[1:])]
    lat = measure_latency(lambda q: model.predict_one(*q, **predict), rows,
                          n_warmup=settings["n_warmup"], min_timed=len(rows))
    out |= {k: lat[k] for k in ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms")}
    out["n_latency_queries"] = lat["n_timed"]
    sp.save_npz(folder / "P_xmr.npz", P, compressed=False)
    out["peak_mem_mib"] = peak_rss_mib()
    return out


def run_pecos(folder: Path, settings: dict) -> dict:
    from baselines.pecos_peer import PecosXRLinear

    X, Y = load_csr(folder / "X_trn.npz"), load_csr(folder / "Y_trn.npz")
    predict = settings["predict"]
    with PecosXRLinear(**settings["model"]) as model:
        model.fit(X, Y)
        del X, Y
        out = {"train_s": model.train_time_s_, "index_s": model.index_time_s_,
               "peak_mem_train_mib": model.fit_peak_rss_mib_, "model_nnz": model.model_nnz_,
               "model_bytes": dir_bytes(model._model_dir)}
        X_tst = load_csr(folder / "X_tst.npz")
        P = model.predict(X_tst, **predict)
        lat = model.measure_latency(X_tst, n_warmup=settings["n_warmup"], threads=1, **predict)
        out |= {k: lat[k] for k in ("throughput_qps", "latency_p50_ms", "latency_p99_ms",
                                    "latency_mean_ms")}
        out["n_latency_queries"] = lat["n_queries"]
        out["peak_mem_mib"] = model.peak_rss_mib_
        out["versions"] = model.peer_versions_
    sp.save_npz(folder / "P_pecos.npz", sp.csr_matrix(P, dtype=np.float32), compressed=False)
    return out


def run_ovr(folder: Path, settings: dict) -> dict:
    from baselines.ovr_linear import OVRLinear

    X, Y = load_csr(folder / "X_trn.npz"), load_csr(folder / "Y_trn.npz")
    # numba loads (or compiles) its kernels on first use: an untimed fit on a few rows first
    n_warm = min(X.shape[0], WARMUP_ROWS)
    OVRLinear(**settings["model"], allow_empty=True).fit(X[:n_warm], Y[:n_warm])
    model = OVRLinear(**settings["model"], allow_empty=True).fit(X, Y)
    out = {"train_s": model.fit_time_s_, "peak_mem_train_mib": peak_rss_mib(),
           "model_nnz": int(model.model_nnz_), "lanes": int(model.lanes_)}
    del X, Y
    X_tst = load_csr(folder / "X_tst.npz")
    model.predict(X_tst[:100], **settings["predict"])  # the predict kernel, outside the clock
    t0 = time.perf_counter()
    P = model.predict(X_tst, **settings["predict"])
    out["throughput_qps"] = X_tst.shape[0] / (time.perf_counter() - t0)
    sp.save_npz(folder / "P_ovr.npz", P, compressed=False)
    out["peak_mem_mib"] = peak_rss_mib()
    return out


SIDE_RUNNERS = {"xmr": run_xmr, "pecos": run_pecos, "ovr": run_ovr}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._scale_worker")
    sub = p.add_subparsers(dest="op", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--n-labels", type=int, required=True)
    pp.add_argument("--n-test", type=int, required=True)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--dir", type=Path, required=True)
    for side in SIDE_RUNNERS:
        px = sub.add_parser(side)
        px.add_argument("--dir", type=Path, required=True)
        px.add_argument("--settings", type=Path, required=True,
                        help="JSON: model, predict, n_warmup")
        px.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.op == "prepare":
        prepare(args.n_labels, args.n_test, args.seed, args.dir)
        return 0
    result = SIDE_RUNNERS[args.op](args.dir, json.loads(args.settings.read_text()))
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
