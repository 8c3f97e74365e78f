"""The QAC (session-aware autocompletion) evaluation: suggest for every test request → MRR/BLEU
+ slices → time one request at a time, for any runner of ``RUNNERS["qac"]``. Knows nothing of
MLflow."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from experiments.models import Inference, QACRunner
from experiments.results import (
    JobResult,
    latency_sample_size,
    time_requests,
    timing_metrics,
    with_latency,
)
from xmr.datasets.tasks import QACDataset
from xmr.qac.metrics import qac_metrics, qac_per_query, qac_slices, seen_and_matched


def evaluate_qac(run: QACRunner, ds: QACDataset, inf: Inference, ev, *, trained: bool
                 ) -> JobResult:
    train, test = ds.splits["train"], ds.splits["test"]
    labels = ds.labels  # sorted anew at each access
    suggester = run.suggester(inf, labels)
    t0 = time.perf_counter()
    suggestions = suggester.suggest_batch(test.prev_queries, test.prefixes)
    batch_s = time.perf_counter() - t0

    metrics = qac_metrics(suggestions, test.next_queries, k=10)
    slices = qac_slices(suggestions, test.next_queries, test.prefixes,
                        Counter(train.next_queries), k=10)
    requests = list(zip(test.prev_queries, test.prefixes, strict=True))
    latency = time_requests(lambda q: suggester.suggest(q[0], q[1]), requests,
                            n_timed=latency_sample_size(ev, len(requests)),
                            n_warmup=int(ev.latency_warmup))
    out = {k: metrics[k] for k in ("mrr_at_10", "bleu", "sacrebleu_top1", "coverage")}
    out |= timing_metrics(train_time_s=run.fit_time_s, latency=latency,
                          n_requests=len(requests), batch_s=batch_s, trained=trained)
    out |= run.size() | run.extra_metrics()
    # seen (the next query is a training label) and whether any label starts with the prefix:
    # the diagnostics beside the claims (analysis.diagnostics)
    coverage = seen_and_matched(labels, test.next_queries, test.prefixes)
    # requests no label starts with: predicted like every other (the paper's protocol) unless
    # eval.skip_unmatched_prefix
    out["n_unmatched_prefix"] = float((coverage["prefix_matches_label"] == 0).sum())
    if run.reads_training_matrix:  # its rows: the distinct (prev query, prefix) inputs
        Y = ds.training_matrix("train")[2]
        out["n_train_inputs"] = float(Y.shape[0])
        out["n_train_multilabel_inputs"] = float((np.diff(Y.indptr) > 1).sum())
    sample = [{"prev_query": test.prev_queries[i], "prefix": test.prefixes[i],
               "next_query": test.next_queries[i], "suggestions": suggestions[i]}
              for i in range(min(int(ev.n_prediction_samples), test.n))]
    per_query = qac_per_query(suggestions, test.next_queries, test.prefixes, k=10) | coverage
    # who asked: an analysis resamples users (their requests are not independent)
    for column, ids in (("user_id", test.user_ids), ("session_id", test.session_ids)):
        if ids is not None:
            per_query[column] = ids
    return JobResult(metrics=out, tags=run.tags(),
                     artifacts={"slices.json": slices, "predictions_sample.json": sample},
                     params={"latency_threads": latency["latency_threads"]},
                     per_query=with_latency(per_query, latency, test.n))
