"""Side by side: our numba XR-Linear (`xmr.XRLinear`) against the real PECOS, in one run.

Both sides get the same X matrices (CSR float32, l2-normalised rows) and the same settings
(B = 16, max leaf 100, threshold 0.1, beam 10, topk 10, l3-hinge). Timings are the median of
``--repeats`` (>= 3) runs; accuracy comes from the last trained model of each side.

- train_s: indexing + training seconds, all threads, as each side measures it inside fit
  (PECOS: inside its worker, no process start, no file IO; ours: ``XRLinear.fit_time_s_``; its
  first repeat pays numba compilation, which the median leaves out). The sides' training
  repeats alternate (PECOS, ours, PECOS, ours, …) so that a shared machine's drift reaches
  both alike.
- latency_*: every test row as one query, one thread, after 100 warm-up queries. PECOS: its
  predict-only (C++) model on a single-row CSR; ours: ``XRLinear.predict_one`` on the row's
  index/value arrays (``xmr.timing.measure_latency``). Rows are sliced before the clock starts
  on both sides.
- throughput_qps: rows / seconds of one batch predict of the same query set, all threads.
  The query set is the whole test set (cycled up to 1,000 rows if it is smaller).
- LibMultiLabel (``--lml-sides``, default both; ``make lml-venv``, recorded as skipped when
  absent): ``train_tree`` (Bonsai-style, K = 100; ``lml_tree``) and ``train_1vsrest``
  (``lml_1vsrest``) at its published example settings (``benchmarks/_lml_worker.py``), each
  fit in a fresh process of its own on the same matrices (written to ``.npz`` once), taking
  its turn in the alternation (PECOS, ours, lml_tree, lml_1vsrest, PECOS, …): train_s (median),
  peak_mem_mib (the worker's), throughput_qps (its batch predict, top 10), accuracy, model_nnz;
  no single-query latency (its prediction is a batch API). ``ratio_lml``: ours / each.

Usage::

    python -m benchmarks.vs_pecos --dataset bibtex --out bench-results/bibtex.json
    python -m benchmarks.vs_pecos --dataset synthetic --out bench-results/synthetic.json
    python -m benchmarks.vs_pecos --dataset dense --out bench-results/dense.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from benchmarks._scale_worker import DATA_FILES
from benchmarks.common import (  # noqa: F401 - MODEL, PREDICT re-exported
    MODEL,
    N_WARMUP,
    PREDICT,
    accuracy,
    finish_run,
    fmt_number,
    machine_info,
    start_run,
)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent

MIN_LATENCY_QUERIES = 1000  # fewer test rows than this are cycled to reach it

LML_SIDES = {"tree": "lml_tree", "1vsrest": "lml_1vsrest"}  # --lml-sides -> side name
TIMING_KEYS = ("train_s", "throughput_qps", "latency_p50_ms", "latency_p99_ms")
ACCURACY_KEYS = ("precision_at_1", "precision_at_5", "recall_at_10", "model_nnz")
REPORT_KEYS = TIMING_KEYS + ACCURACY_KEYS


@dataclasses.dataclass
class Data:
    X_trn: sp.csr_matrix  # (n_trn, d) float32, l2-normalised rows
    Y_trn: sp.csr_matrix  # (n_trn, L) float32 0/1
    X_tst: sp.csr_matrix  # (n_tst, d)
    Y_tst: sp.csr_matrix  # (n_tst, L)
    info: dict  # how it was made


def _csr32(M) -> sp.csr_matrix:
    M = sp.csr_matrix(M, dtype=np.float32)
    M.sort_indices()
    return M


def load_bibtex(data_dir: Path) -> Data:
    """`<data_dir>/bibtex/npz/{X,Y}.{trn,tst}.npz`, X rows l2-normalised."""
    from sklearn.preprocessing import normalize

    root = Path(data_dir) / "bibtex" / "npz"
    if not root.is_dir():
        raise FileNotFoundError(f"bibtex npz folder not found at {root} (see --data-dir)")
    load = {name: sp.load_npz(root / f"{name}.npz")
            for name in ("X.trn", "Y.trn", "X.tst", "Y.tst")}
    return Data(
        X_trn=_csr32(normalize(load["X.trn"], norm="l2")),
        Y_trn=_csr32(load["Y.trn"]),
        X_tst=_csr32(normalize(load["X.tst"], norm="l2")),
        Y_tst=_csr32(load["Y.tst"]),
        info={"source": str(root), "features": "binary bag of words, rows l2-normalised"},
    )


def load_synthetic() -> Data:
    """The "bench" product-search preset featurised by word 1-2-gram TF-IDF (fit on train)."""
    from xmr.datasets.synthetic import make_product_search_preset
    from xmr.features import TextFeaturizer

    ds = make_product_search_preset("bench", seed=0)
    featurizer = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=None)
    featurizer.fit(ds.train_texts)
    return Data(
        X_trn=_csr32(featurizer.transform(ds.train_texts)),
        Y_trn=_csr32(ds.Y_train),
        X_tst=_csr32(featurizer.transform(ds.test_texts)),
        Y_tst=_csr32(ds.Y_test),
        info={"source": "xmr.datasets.synthetic.make_product_search_preset("
                        '"bench", seed=0)',
              "features": "xmr.features.TextFeaturizer(word_ngram_range=(1, 2), "
                          "char_ngram_range=None), fit on the training texts"},
    )


def load_dense() -> Data:
    """Dense many-labels-per-row shape (Delicious's sizes: 500 features, 983 labels, ~19
    labels per row), from ``xmr.datasets.dense_multilabel.make_dense_multilabel(seed=0)``."""
    from xmr.datasets.dense_multilabel import make_dense_multilabel

    ds = make_dense_multilabel(seed=0)
    return Data(X_trn=_csr32(ds.X_train), Y_trn=_csr32(ds.Y_train), X_tst=_csr32(ds.X_test),
                Y_tst=_csr32(ds.Y_test),
                info={"source": "xmr.datasets.dense_multilabel.make_dense_multilabel(seed=0)",
                      "features": "topic-mixture counts, 1 + ln(tf), rows l2-normalised",
                      **{k: ds.params[k] for k in ("mean_labels", "mean_features")}})


LOADERS = {"synthetic": lambda data_dir: load_synthetic(), "bibtex": load_bibtex,
           "dense": lambda data_dir: load_dense()}


def load_dataset(name: str, data_dir: Path) -> Data:
    data = LOADERS[name](data_dir)
    data.info |= {"n_train": data.X_trn.shape[0], "n_test": data.X_tst.shape[0],
                  "n_features": data.X_trn.shape[1], "n_labels": data.Y_trn.shape[1]}
    return data


def latency_queries(X: sp.csr_matrix) -> sp.csr_matrix:
    """All test rows, cycled up to MIN_LATENCY_QUERIES when there are fewer."""
    n = X.shape[0]
    if n >= MIN_LATENCY_QUERIES:
        return X
    return X[np.arange(MIN_LATENCY_QUERIES) % n]


def _median_of(runs: list[dict], keys) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in keys}


# ------------------------------------------------------------------------------ training
def write_matrices(data: Data, folder: Path) -> Path:
    """``X_trn/Y_trn/X_tst/Y_tst.npz`` in ``folder``: what the worker processes read
    (LibMultiLabel's here, both sides' in :mod:`benchmarks.ovr_vs_lml`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in DATA_FILES:
        sp.save_npz(folder / f"{name}.npz", getattr(data, name), compressed=False)
    return folder


def fit_lml(folder: Path, method: str, runs: list[dict], timeout_s: float | None) -> None:
    """One LibMultiLabel fit (and predict) in a fresh process, appended to ``runs``; not
    run again once it was skipped (no venv, too large) or stopped at ``timeout_s``."""
    from benchmarks.scale import SideTimeout, run_lml

    if runs and ("skipped" in runs[-1] or "did_not_finish" in runs[-1]):
        return
    try:
        runs.append(run_lml(folder, method, timeout_s))
    except SideTimeout as exc:
        runs.append({"did_not_finish": str(exc), "time_limit_s": timeout_s})


def fit_interleaved(data: Data, repeats: int, sides: str, same_tree: bool, *,
                    lml_methods=(), lml_dir: Path | None = None,
                    lml_timeout_s: float | None = None):
    """Train each side ``repeats`` times, alternating PECOS, ours and LibMultiLabel's
    ``lml_methods`` (P, x, T, O, P, x, T, O, …).

    On a shared machine the speed drifts over minutes; alternating gives the sides the
    same drift, where back-to-back blocks of repeats gave one side a quiet minute and the
    other a busy one. Returns ``(peer_model, peer_fits, our_model, our_fits, lml_runs)`` (a
    side not run: None, []), each fit a dict of train_s, index_s (and wall_s for ours);
    ``lml_runs``: ``{method: [worker result, …]}`` (``lml_dir`` holds the matrices).
    """
    import xmr
    from baselines.pecos_peer import PecosXRLinear

    if lml_methods and lml_dir is None:
        raise ValueError("lml_dir (the folder of the .npz matrices) is needed with lml_methods")
    peer_model = PecosXRLinear(**MODEL) if sides in ("both", "pecos") else None
    # allow_empty: accept labels without training positives, as PECOS does silently
    our_model = xmr.XRLinear(**MODEL, allow_empty=True) if sides in ("both", "xmr") else None
    peer_fits, our_fits = [], []
    lml_runs: dict[str, list[dict]] = {m: [] for m in lml_methods}
    try:
        for _ in tqdm(range(repeats), desc="fit (alternating sides)", leave=False):
            if peer_model is not None:
                peer_model.fit(data.X_trn, data.Y_trn)
                peer_fits.append({"train_s": peer_model.train_time_s_,
                                  "index_s": peer_model.index_time_s_})
            if our_model is not None:
                tree = peer_model.tree_ if same_tree else None
                t0 = time.perf_counter()
                our_model.fit(data.X_trn, data.Y_trn, tree=tree)
                our_fits.append({"train_s": our_model.fit_time_s_,
                                 "index_s": our_model.index_time_s_,
                                 "wall_s": time.perf_counter() - t0})
            for method in lml_methods:
                fit_lml(lml_dir, method, lml_runs[method], lml_timeout_s)
    except BaseException:
        if peer_model is not None:
            peer_model.close()
        raise
    return peer_model, peer_fits, our_model, our_fits, lml_runs


def _fit_summary(fits: list[dict]) -> dict:
    return {"train_s": statistics.median(f["train_s"] for f in fits),
            "index_s": statistics.median(f["index_s"] for f in fits),
            "train_s_runs": [f["train_s"] for f in fits]}


# ------------------------------------------------------------------------------------ PECOS
def measure_pecos(model, fits: list[dict], data: Data, repeats: int) -> dict:
    """Accuracy and speed of the fitted PecosXRLinear (the last of ``fits``)."""
    P = model.predict(data.X_tst, **PREDICT)
    X_lat = latency_queries(data.X_tst)
    runs = [model.measure_latency(X_lat, n_warmup=N_WARMUP, threads=1, **PREDICT)
            for _ in tqdm(range(repeats), desc="pecos latency", leave=False)]
    return {**_fit_summary(fits),
            **_median_of(runs, ("throughput_qps", "latency_p50_ms", "latency_p99_ms",
                                "latency_mean_ms")),
            **accuracy(data.Y_tst, P), "model_nnz": model.model_nnz_,
            "tree_shapes": [list(C.shape) for C in model.tree_],
            "throughput_qps_runs": [r["throughput_qps"] for r in runs],
            "latency_p50_ms_runs": [r["latency_p50_ms"] for r in runs],
            "n_latency_queries": X_lat.shape[0]}


# -------------------------------------------------------------------------------------- ours
def measure_xmr(model, fits: list[dict], data: Data, repeats: int) -> dict:
    """Accuracy and speed of the fitted XRLinear (the last of ``fits``)."""
    from xmr.timing import measure_latency

    P = model.predict(data.X_tst, **PREDICT)
    X_lat = latency_queries(data.X_tst)
    # (indices, values) of each row, sliced before the clock starts
    rows = [(X_lat.indices[a:b], X_lat.data[a:b])
            for a, b in zip(X_lat.indptr[:-1], X_lat.indptr[1:])]
    runs = []
    for _ in tqdm(range(repeats), desc="xmr latency", leave=False):
        run = measure_latency(lambda q: model.predict_one(*q, **PREDICT), rows,
                              n_warmup=N_WARMUP, min_timed=len(rows))
        t0 = time.perf_counter()
        model.predict(X_lat, **PREDICT)
        run["throughput_qps"] = X_lat.shape[0] / (time.perf_counter() - t0)
        runs.append(run)
    return {**_fit_summary(fits),
            **_median_of(runs, ("throughput_qps", "latency_p50_ms", "latency_p99_ms",
                                "latency_mean_ms")),
            **accuracy(data.Y_tst, P), "model_nnz": int(model.model_nnz_),
            "tree_shapes": [list(C.shape) for C in model.tree_.to_pecos_chain()],
            "train_wall_s_runs": [f["wall_s"] for f in fits],
            "throughput_qps_runs": [r["throughput_qps"] for r in runs],
            "latency_p50_ms_runs": [r["latency_p50_ms"] for r in runs],
            "n_latency_queries": X_lat.shape[0]}


# ----------------------------------------------------------------------------- LibMultiLabel
LML_KEYS = ("train_s", "peak_mem_mib", "throughput_qps") + ACCURACY_KEYS


def measure_lml(runs: list[dict]) -> dict:
    """A LibMultiLabel side from its repeats: medians of train_s, throughput_qps and
    peak_mem_mib, accuracy and settings of the last (a skipped / stopped side as it was)."""
    done = [r for r in runs if "skipped" not in r and "did_not_finish" not in r]
    if not done:
        return dict(runs[-1]) if runs else {"skipped": "not run"}
    last = done[-1]
    out = {k: statistics.median(r[k] for r in done)
           for k in ("train_s", "throughput_qps", "peak_mem_mib", "peak_mem_train_mib")
           if k in last}
    out |= {k: v for k, v in last.items() if k not in out}
    out |= {"train_s_runs": [r["train_s"] for r in done],
            "throughput_qps_runs": [r["throughput_qps"] for r in done]}
    if len(done) < len(runs):
        out["incomplete"] = runs[-1].get("did_not_finish") or runs[-1].get("skipped")
    return out


# ---------------------------------------------------------------------------------- report
def ratios(ours: dict | None, peer: dict | None) -> dict:
    """ours / PECOS for every reported key (None where undefined)."""
    if not ours or not peer:
        return {}
    return {k: (ours[k] / peer[k] if peer.get(k) else None)
            for k in REPORT_KEYS if k in ours and k in peer}


def ratios_lml(ours: dict | None, lml: dict) -> dict:
    """ours / a LibMultiLabel side for its figures, ``*_diff`` for the accuracy ({} when
    either side has no figures)."""
    if not ours or "train_s" not in lml:
        return {}
    out = {k: (ours[k] / lml[k] if lml.get(k) else None)
           for k in LML_KEYS if k in ours and k in lml}
    out |= {f"{k}_diff": ours[k] - lml[k]
            for k in ("precision_at_1", "recall_at_10") if k in ours and k in lml}
    return out


def markdown_table(result: dict) -> str:
    fmt = fmt_number
    lines = [f"### {result['dataset']}: xmr vs PECOS", "",
             "| metric | xmr | PECOS | xmr / PECOS |", "|---|---:|---:|---:|"]
    for k in REPORT_KEYS:
        cells = [fmt((result.get(side) or {}).get(k)) for side in ("xmr", "pecos")]
        lines.append(f"| {k} | {cells[0]} | {cells[1]} | {fmt(result['ratio'].get(k))} |")
    lml = [side for side in LML_SIDES.values() if side in result]
    if lml:
        lines += ["", f"### {result['dataset']}: xmr vs LibMultiLabel", "",
                  "| metric | xmr | " + " | ".join(lml) + " | "
                  + " | ".join(f"xmr / {s}" for s in lml) + " |",
                  "|---|" + "---:|" * (1 + 2 * len(lml))]
        ours = result.get("xmr") or {}
        for k in LML_KEYS:
            cells = [fmt(ours.get(k))] + [fmt(result[s].get(k)) for s in lml]
            cells += [fmt(result["ratio_lml"].get(s, {}).get(k)) for s in lml]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        for s in lml:
            why = result[s].get("skipped") or result[s].get("did_not_finish")
            if why:
                lines.append(f"\n{s}: {why}")
    return "\n".join(lines)


def default_data_dir() -> Path:
    env = os.environ.get("XMR_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.vs_pecos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=tuple(LOADERS), required=True)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--repeats", type=int, default=3, help="timing repeats, median (>= 3)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(),
                   help="folder holding bibtex/npz (default: ../shared/data or $XMR_SHARED_DATA)")
    p.add_argument("--sides", choices=("both", "xmr", "pecos"), default="both",
                   help="run only one side (no ratios)")
    p.add_argument("--same-tree", action="store_true",
                   help="train ours on PECOS's label tree (isolates the solver from the indexer)")
    p.add_argument("--lml-sides", nargs="*", choices=tuple(LML_SIDES), default=list(LML_SIDES),
                   help="LibMultiLabel methods run alongside (default: both; none: no value)")
    p.add_argument("--lml-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop a LibMultiLabel fit after this many seconds and record the side "
                        "as did-not-finish; default: no limit")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.same_tree and args.sides != "both":
        p.error("--same-tree needs --sides both")
    if args.lml_timeout is not None and args.lml_timeout <= 0:
        p.error(f"--lml-timeout must be > 0 seconds, got {args.lml_timeout}")
    return args


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    run = start_run("benchmarks.vs_pecos", argv)
    args = parse_args(argv)
    if args.repeats < 3:
        logger.warning("--repeats %d < 3: timings are not the median of >= 3 runs", args.repeats)

    data = load_dataset(args.dataset, args.data_dir)
    logger.info("%s: %s", args.dataset, data.info)

    peer, ours = None, None
    lml_methods = [m for m in LML_SIDES if m in args.lml_sides]
    with tempfile.TemporaryDirectory(prefix="vs_pecos_lml_") as tmp:
        lml_dir = write_matrices(data, Path(tmp)) if lml_methods else None
        peer_model, peer_fits, our_model, our_fits, lml_runs = fit_interleaved(
            data, args.repeats, args.sides, args.same_tree, lml_methods=lml_methods,
            lml_dir=lml_dir, lml_timeout_s=args.lml_timeout)
    lml = {LML_SIDES[m]: measure_lml(runs) for m, runs in lml_runs.items()}
    try:
        if peer_model is not None:
            peer = measure_pecos(peer_model, peer_fits, data, args.repeats)
            logger.info("PECOS: %s", {k: peer[k] for k in REPORT_KEYS})
        if our_model is not None:
            ours = measure_xmr(our_model, our_fits, data, args.repeats)
            logger.info("xmr: %s", {k: ours[k] for k in REPORT_KEYS})
    finally:
        peer_versions = getattr(peer_model, "peer_versions_", None)
        if peer_model is not None:
            peer_model.close()

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = {
        "dataset": args.dataset,
        "settings": {**MODEL, **PREDICT, "repeats": args.repeats, "n_warmup": N_WARMUP,
                     "latency_threads": 1, "train_and_batch_threads": threads,
                     "pecos_kmeans_max_iter": 20, "same_tree": args.same_tree,
                     "data": data.info},
        "machine": machine_info(peer_versions),
        "runs": [finish_run(run)],
        "xmr": ours,
        "pecos": peer,
        "ratio": ratios(ours, peer),
    }
    if lml:
        result |= lml
        result["settings"]["lml_timeout_s"] = args.lml_timeout
        result["ratio_lml"] = {side: ratios_lml(ours, entry) for side, entry in lml.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(result))
    logger.info("wrote %s", args.out)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
