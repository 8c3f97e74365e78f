"""Where a QAC request's time goes: each stage of `QACSuggester.suggest` timed on its own, for
Table 2 rows from a finished sweep, one request at a time on one thread.

Usage::

    python -m experiments.run -m experiment=qac_table2 seed=0 paths.data_dir=../shared/data
    python -m benchmarks.qac_latency --experiment qac_table2 --rows 9 7 \\
        --out bench-results/qac_latency.json

Each named row's run (the lowest seed) is rebuilt as `python -m experiments.latency` rebuilds
it (its ``config.yaml`` resolved, its trained model loaded from the training cache, re-pruned
to its threshold); then every test request ``(previous query, prefix)`` is answered by the
suggester's own steps in its order, each timed with ``perf_counter_ns``:

- ``prefix_range``: the binary search for the labels that start with the prefix;
- ``featurise``: ``vectorizer.transform_one`` (text in → the sparse row);
- ``beam``: ``model.predict_one`` (the tree's beam search and the leaves' ranking);
- ``filter``: keeping the candidates inside the prefix's range, the top k as strings;

and, in a second pass over the same requests, the whole public call ``suggest`` (what the
harness's latency measures). A request whose previous query is empty gets no suggestion (the
paper's protocol) and is left out of the stage timing. Reported per row: p50 / p99 / mean of
each stage and of their sum, each stage's share of the summed mean, the whole call's
p50 / p99, the label count, and the run record (command, commit, UTC time, load averages).
The two passes agree in their suggestions (checked on every request).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import finish_run, machine_info, start_run
from xmr.qac.suggest import prefix_range
from xmr.timing import LATENCY_THREADS, pinned_threads

STAGES = ("prefix_range", "featurise", "beam", "filter")
N_WARMUP = 100


def staged_call(suggester):
    """``one(prev, prefix) -> (labels, {stage: ns})``: `QACSuggester.suggest`'s steps, in its
    order, each timed (its type checks and the empty-previous-query rule are left to the
    caller: the timed requests all pass them)."""
    vec, model, labels = suggester.vectorizer, suggester.model, suggester.labels
    beam, topk, post = suggester.beam_size, suggester.topk, suggester.post_processor
    k = suggester.k
    clock = time.perf_counter_ns

    def one(prev: str, prefix: str):
        t0 = clock()
        lo, hi = prefix_range(labels, prefix)
        t1 = clock()
        idx, val = vec.transform_one(prev, prefix)
        t2 = clock()
        ids, _ = model.predict_one(idx, val, beam_size=beam, topk=topk, post_processor=post)
        t3 = clock()
        ids = ids[(ids >= lo) & (ids < hi)][:k]
        out = [labels[i] for i in ids]
        t4 = clock()
        return out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)

    return one


def stats(ns: np.ndarray) -> dict[str, float]:
    ms = ns / 1e6
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean())}


def breakdown(suggester, requests: list[tuple[str, str]], *, n_warmup: int = N_WARMUP
              ) -> dict:
    """The staged timing of ``requests`` (pairs with a non-empty previous query) and the whole
    call's, one request at a time on one thread. Raises if the two disagree."""
    if not requests:
        raise ValueError("no request with a non-empty previous query to time")
    staged = staged_call(suggester)
    with pinned_threads(LATENCY_THREADS):
        for prev, prefix in requests[:n_warmup]:  # compiled kernels and caches warm
            staged(prev, prefix)
            suggester.suggest(prev, prefix)
        stage_ns = np.empty((len(requests), len(STAGES)), dtype=np.int64)
        staged_out = []
        for i, (prev, prefix) in enumerate(requests):
            out, ns = staged(prev, prefix)
            stage_ns[i] = ns
            staged_out.append(out)
        whole_ns = np.empty(len(requests), dtype=np.int64)
        clock = time.perf_counter_ns
        for i, (prev, prefix) in enumerate(requests):
            t0 = clock()
            out = suggester.suggest(prev, prefix)
            whole_ns[i] = clock() - t0
            if out != staged_out[i]:
                raise AssertionError(f"request {i}: the staged steps answer {staged_out[i]} "
                                     f"but suggest answers {out}")
    means = stage_ns.mean(axis=0)
    result = {"n_requests": len(requests),
              "stages": {s: stats(stage_ns[:, j]) | {"share": float(means[j] / means.sum())}
                         for j, s in enumerate(STAGES)},
              "staged_total": stats(stage_ns.sum(axis=1)),
              "whole_call": stats(whole_ns)}
    return result


def markdown_table(result: dict) -> str:
    """One line per row and stage: p50 / p99 / mean (ms) and share of the staged mean; then
    the staged sum and the whole ``suggest`` call (`benchmarks.report` renders it)."""
    lines = ["| row | labels | requests | stage | p50 ms | p99 ms | mean ms | share |",
             "|---|---|---|---|---|---|---|---|"]
    for row, r in result["rows"].items():
        head = f"| {row} | {r['n_labels']:,} | {r['n_requests']:,} "
        for stage in STAGES:
            s = r["stages"][stage]
            lines.append(f"{head}| {stage} | {s['p50_ms']:.4f} | {s['p99_ms']:.4f} | "
                         f"{s['mean_ms']:.4f} | {s['share']:.0%} |")
        for name, key in (("sum of the stages", "staged_total"), ("whole `suggest`", "whole_call")):
            s = r[key]
            lines.append(f"{head}| {name} | {s['p50_ms']:.4f} | {s['p99_ms']:.4f} | "
                         f"{s['mean_ms']:.4f} | – |")
    return "\n".join(lines) + "\n"


def timed_requests(prev_queries, prefixes, limit: int | None) -> list[tuple[str, str]]:
    reqs = [(p, x) for p, x in zip(prev_queries, prefixes, strict=True) if p.strip()]
    return reqs if limit is None else reqs[:limit]


def row_suggester(client, experiment: str, row: str):
    """(suggester, test split, run id, seed) of Table 2 row ``row``'s finished run with the
    lowest seed in ``experiment``."""
    from experiments.job import load_data
    from experiments.latency import finished_runs, groups_of, prepare, trained_runner

    groups = sorted(groups_of(finished_runs(client, experiment)), key=lambda g: g.seed)
    for group in groups:
        members = [m for m in group.members
                   if client.get_run(m.run_id).data.params.get("qac_row") == row]
        if not members:
            continue
        m = members[0]
        sub = type(group)(data=group.data, seed=group.seed, members=[m])
        prepare(client, sub)
        if m.skip:
            raise RuntimeError(f"row {row}: run {m.run_id} cannot be rebuilt: {m.skip}")
        ds = load_data(m.spec.data)[0]
        run = trained_runner(m.spec, m.tags, ds, {})
        return run.suggester(m.spec.inference, ds.labels), ds, m.run_id, group.seed
    raise LookupError(f"no finished run of Table 2 row {row} in experiment {experiment!r}: "
                      f"run `python -m experiments.run -m experiment={experiment} seed=0`")


def main(argv: list[str] | None = None) -> dict:
    from experiments.tracking import check_store, client_for, tracking_uri

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.qac_latency",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", default="qac_table2")
    p.add_argument("--rows", nargs="+", default=["9", "7"], help="Table 2 rows (9: trie, "
                   "7: trie-tree hybrid)")
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: the "
                   "harness's, $MLFLOW_TRACKING_URI else sqlite:///logs/mlflow.db)")
    p.add_argument("--max-requests", type=int, default=None, metavar="N")
    p.add_argument("--out", type=Path, default=Path("bench-results/qac_latency.json"))
    args = p.parse_args(argv)
    record = start_run("benchmarks.qac_latency", argv)
    uri = tracking_uri(args.tracking_uri, "logs")
    check_store(uri)
    client = client_for(uri)
    rows = {}
    for row in args.rows:
        suggester, ds, run_id, seed = row_suggester(client, args.experiment, row)
        test = ds.splits["test"]
        reqs = timed_requests(test.prev_queries, test.prefixes, args.max_requests)
        rows[row] = {"run_id": run_id, "seed": seed, "n_labels": len(ds.labels)} | breakdown(
            suggester, reqs)
        w, st = rows[row]["whole_call"], rows[row]["stages"]
        print(f"row {row}: {len(reqs)} requests, {len(ds.labels)} labels; whole call p50 "
              f"{w['p50_ms']:.3f} ms p99 {w['p99_ms']:.3f} ms; "
              + ", ".join(f"{s} {st[s]['share']:.0%}" for s in STAGES))
    result = {"benchmark": "qac_latency", "experiment": args.experiment,
              "machine": machine_info(None),
              "latency_threads": LATENCY_THREADS, "rows": rows, "runs": [finish_run(record)]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
