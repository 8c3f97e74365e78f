"""What sharded XR-Linear training costs: one process vs ``--workers`` local worker processes.

One synthetic product-search problem (``xmr.datasets.synthetic``; ``--size xl`` is the 1M-label set,
or give ``--n-products/--n-train``), featurised once (word unigrams + char trigrams, as the
harness's ``features=all``). Then, in one run, side by side:

- ``single``: ``XRLinear.fit`` in this process with ``--workers`` threads;
- ``sharded``: ``xmr.sharded.fit_sharded`` with ``--workers`` worker processes (joblib, one
  thread each), same tree (built once by the driver in both).

Reports indexing and training seconds, the sharded run's split (prepare, tasks, assemble), each
task's rows / seconds / peak memory, the model's size, and whether the two models' weights and
test top-10 are identical. Timings on a machine other jobs share are noisy: read the ratio.

Usage::

    python -m benchmarks.sharded --size xl --out bench-results/sharded_xl.json
    python -m benchmarks.sharded --n-products 100000 --n-train 200000 --out ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from xmr import XRLinear
from xmr.datasets.synthetic import SIZES, make_product_search
from xmr.features import TextFeaturizer
from xmr.sharded import JoblibEngine, fit_sharded
from xmr.warmup import warmup


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(args: argparse.Namespace) -> dict:
    sizes = dict(SIZES[args.size]) if args.size else {}
    for k in ("n_products", "n_train", "n_test"):
        if getattr(args, k) is not None:
            sizes[k] = getattr(args, k)
    t0 = time.perf_counter()
    data = make_product_search(**sizes, seed=0)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    feat = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=(3, 3)).fit(
        data.train_texts)
    X, Xt = feat.transform(data.train_texts), feat.transform(data.test_texts)
    feat_s = time.perf_counter() - t0
    warmup()
    params = dict(nr_splits=16, max_leaf_size=100, threshold=0.1, allow_empty=True)
    # the tree once (indexing is the driver's in both), then both trainings on it
    t0 = time.perf_counter()
    tree = XRLinear(**params, n_jobs=args.workers)._index(X, data.Y_train, None)[2]
    index_s = time.perf_counter() - t0
    single = XRLinear(**params, n_jobs=args.workers).fit(X, data.Y_train, tree=tree)
    sharded = fit_sharded(XRLinear(**params, n_jobs=args.workers), X, data.Y_train,
                          n_shards=args.shards or args.workers, tree=tree,
                          engine=JoblibEngine(n_workers=args.workers, threads_per_task=1))
    same_weights = all(
        a.shape == b.shape and (a != b).nnz == 0
        for a, b in zip(single.weights_, sharded.weights_, strict=True))
    P1 = single.predict(Xt)  # the library's prediction defaults (xmr.params.PredictParams)
    P2 = sharded.predict(Xt)
    rep = sharded.shard_report_
    tasks_s = max(t["total_s"] for t in rep["tasks"])
    return {
        "sizes": sizes, "n_labels": int(data.Y_train.shape[1]), "n_features": int(X.shape[1]),
        "train_nnz": int(X.nnz), "tree_level_sizes": tree.level_sizes,
        "workers": args.workers, "cpus": os.cpu_count(), "platform": platform.platform(),
        "generate_s": gen_s, "featurize_s": feat_s,
        "index_s": index_s,
        "single": {"train_s": single.fit_time_s_ - single.index_time_s_},
        "sharded": {"wall_s": sharded.fit_time_s_ - sharded.index_time_s_,
                    "prepare_s": rep["prepare_s"], "longest_task_s": tasks_s,
                    "assemble_s": rep["assemble_s"], "split_depth": rep["split_depth"],
                    "n_shards": rep["n_shards"], "tasks": rep["tasks"]},
        "model_nnz": int(single.model_nnz_),
        "model_bytes": int(single.weights_nbytes()),
        "driver_peak_rss_mb": _rss_mb(),
        "identical_weights": bool(same_weights),
        "identical_top10": bool((P1 != P2).nnz == 0),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sharded", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default=None)
    p.add_argument("--n-products", type=int, default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shards", type=int, default=None, help="default: --workers")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = p.parse_args(argv)
    if not args.size and args.n_products is None:
        p.error("give --size or --n-products")
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "sharded"}, indent=2))
    print(json.dumps({k: v for k, v in result["sharded"].items() if k != "tasks"}, indent=2))
    return 0 if result["identical_weights"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
