"""Size/quality trade-off of the seq2seq completer on a QAC dataset (one model per size).

    python -m benchmarks.seq2seq_sizes --data aol --data-dir ../shared/data \\
        --sizes 32x64,32x128,64x256 --train-rows 20000 --epochs 2 --out bench-results/s2s.jsonl

For each ``EMBxHIDDEN`` size: train on ``--train-rows`` training pairs (a seeded sample; 0 =
all) with early stopping on ``--valid-size`` validation requests (the estimator's defaults
otherwise, one torch thread), then decode ``--test-rows`` test requests (a seeded sample; 0 =
all) for MRR@10 / BLEU, and time ``--latency-rows`` single requests on one thread (warm-up
first). Training is reported in wall seconds and in CPU seconds of the process (with one
torch thread, what the training costs whatever else runs on the machine), plus the CPU
seconds one epoch over the whole training split would take at the measured rate. Appends one
JSON line per size to ``--out`` as soon as it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from baselines.seq2seq import Seq2SeqCompleter
from xmr.qac.metrics import qac_metrics
from xmr.timing import measure_latency


def load(name: str, data_dir: str):
    if name == "aol":
        from xmr.datasets.aol import load_aol

        return load_aol(data_dir)
    from xmr.datasets.synthetic_qac import make_qac_preset

    return make_qac_preset(name.removeprefix("synthetic_"))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="aol", help="aol or synthetic_<size> (tiny, demo)")
    parser.add_argument("--data-dir", default=os.environ.get("XMR_DATA_DIR", "./data"))
    parser.add_argument("--sizes", default="32x64,32x128,64x256")
    parser.add_argument("--epochs", type=int, default=Seq2SeqCompleter().epochs)
    parser.add_argument("--batch-size", type=int, default=Seq2SeqCompleter().batch_size)
    parser.add_argument("--train-rows", type=int, default=0)
    parser.add_argument("--valid-size", type=int, default=Seq2SeqCompleter().valid_size)
    parser.add_argument("--test-rows", type=int, default=2000)
    parser.add_argument("--latency-rows", type=int, default=500)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    ds = load(args.data, args.data_dir)
    tr, va, te = ds.splits["train"], ds.splits["valid"], ds.splits["test"]
    train = np.arange(tr.n)
    if 0 < args.train_rows < tr.n:
        train = np.sort(np.random.default_rng(0).permutation(tr.n)[:args.train_rows])
    train_cols = [[col[i] for i in train] for col in (tr.prev_queries, tr.prefixes,
                                                      tr.next_queries)]
    rows = np.arange(te.n)
    if 0 < args.test_rows < te.n:
        rows = np.sort(np.random.default_rng(0).permutation(te.n)[:args.test_rows])
    req = [(te.prev_queries[i], te.prefixes[i]) for i in rows]
    truth = [te.next_queries[i] for i in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes.split(","):
        emb, hidden = (int(v) for v in size.split("x"))
        model = Seq2SeqCompleter(emb_dim=emb, hidden=hidden, epochs=args.epochs,
                                 batch_size=args.batch_size, valid_size=args.valid_size,
                                 n_threads=1, verbose=False)
        cpu0 = time.process_time()
        model.fit(*train_cols, valid=(va.prev_queries, va.prefixes, va.next_queries))
        train_cpu_s = time.process_time() - cpu0
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        sugg = [model.suggest(p, x) for p, x in req]
        decode_s = time.perf_counter() - t0
        m = qac_metrics(sugg, truth)
        lat = measure_latency(lambda r: model.suggest(*r), req[:args.latency_rows],
                              n_warmup=20, min_timed=args.latency_rows)
        out = {"data": args.data, "emb_dim": emb, "hidden": hidden,
               "params": sum(p.numel() for p in model.net_.parameters()),
               "model_bytes": model.model_bytes_, "train_rows": len(train),
               "train_time_s": model.fit_time_s_, "train_cpu_s": train_cpu_s,
               "full_epoch_cpu_s_estimate": train_cpu_s / len(model.history_) * tr.n
               / len(train),
               "epochs_run": len(model.history_), "best_epoch": model.best_epoch_,
               "history": model.history_, "test_rows": len(req),
               "mrr_at_10": m["mrr_at_10"], "bleu": m["bleu"],
               "decode_ms_per_request": decode_s / len(req) * 1e3,
               "latency_p50_ms": lat["latency_p50_ms"], "latency_p99_ms": lat["latency_p99_ms"],
               "load_avg_1min_end": os.getloadavg()[0]}
        results.append(out)
        with args.out.open("a") as f:
            f.write(json.dumps(out) + "\n")
        print(json.dumps({k: v for k, v in out.items() if k != "history"}), flush=True)
    return results


if __name__ == "__main__":
    main()
