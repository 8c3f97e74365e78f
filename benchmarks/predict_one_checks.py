"""What the input checks of ``XRLinear.predict_one`` cost: the public (validated) call against
the bare beam-search kernel it wraps, on the same model and the same queries, in one run.

Both sides are timed with ``xmr.timing.measure_latency`` (one thread, every test row once,
after warm-up); the rows are sliced before the clock starts. Reported: p50/p99/mean of each
side and the ratios public / kernel (1.0 = the checks cost nothing measurable).

Usage::

    python -m benchmarks.predict_one_checks [--data-dir ../shared/data] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

import xmr
from xmr.kernels.beam import POST_PROCESSORS
from xmr.kernels.beam import predict_one as kernel_predict_one
from xmr.params import PREDICT as _P
from xmr.timing import measure_latency

REPO_ROOT = Path(__file__).resolve().parent.parent
PREDICT = {"beam_size": _P.beam_size, "topk": _P.topk}  # the library's defaults


def _data(data_dir: Path):
    """bibtex (the real XMC benchmark) when present, else a synthetic product-search set."""
    if (data_dir / "bibtex").is_dir():
        from xmr.datasets.xmc import load_xmc

        ds = load_xmc(data_dir)
        return "bibtex", ds.splits["train"].X, ds.splits["train"].Y, ds.splits["test"].X
    from xmr.synthetic import make_product_search

    d = make_product_search(n_products=2000, n_train=8000, n_test=2000)
    feat = xmr.TextFeaturizer().fit(d.train_texts)
    return "synthetic", feat.transform(d.train_texts), d.Y_train, feat.transform(d.test_texts)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    name, X, Y, X_test = _data(args.data_dir)
    model = xmr.XRLinear(allow_empty=True).fit(X, Y)
    rows = [(X_test.indices[X_test.indptr[i]:X_test.indptr[i + 1]],
             X_test.data[X_test.indptr[i]:X_test.indptr[i + 1]]) for i in range(X_test.shape[0])]
    lay = model._layout
    args_k = lay.kernel_args()
    pp = POST_PROCESSORS[_P.post_processor]

    def public(q):
        return model.predict_one(*q, **PREDICT)

    def kernel(q):
        return kernel_predict_one(q[0], q[1], *args_k, PREDICT["beam_size"], PREDICT["topk"], pp,
                                  lay.max_children, lay.label_base)

    for q in rows[:50]:  # same answers: the checks change nothing on valid input
        a, b = public(q), kernel(q)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    runs = {"public": [], "kernel": []}
    for _ in range(args.repeats):  # interleaved, so drift hits both sides alike
        for side, fn in (("public", public), ("kernel", kernel)):
            runs[side].append(measure_latency(fn, rows, n_warmup=100, min_timed=len(rows)))
    out = {"dataset": name, "n_queries": len(rows), "repeats": args.repeats}
    for side, rs in runs.items():
        for key in ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms"):
            out[f"{side}_{key}"] = statistics.median(r[key] for r in rs)
    for key in ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms"):
        out[f"ratio_{key}"] = out[f"public_{key}"] / out[f"kernel_{key}"]
    text = json.dumps(out, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return out


if __name__ == "__main__":
    main()
