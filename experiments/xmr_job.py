"""The XMR (product retrieval) evaluation: predict the test split in chunks → ranking metrics
→ time single requests, for any runner of ``RUNNERS["xmr"]``. Knows nothing of MLflow."""

from __future__ import annotations

import time

import scipy.sparse as sp
from tqdm.auto import tqdm

import xmr
from experiments.models import Inference, XMRRunner
from experiments.results import JobResult, latency_sample_size, timing_metrics, with_latency
from xmr.datasets.tasks import XMRDataset
from xmr.metrics import cold_positive_counts

CHUNK = 20_000  # rows per featurisation/prediction chunk (progress bars)


def _samples(ds: XMRDataset, test, scores: sp.csr_matrix, n: int) -> list[dict]:
    top = xmr.topk_labels(scores, 10)
    out = []
    for r in range(min(n, scores.shape[0])):
        labels = [int(c) for c in top[r] if c >= 0]

        def name(c: int) -> str:
            return ds.label_texts[c] if ds.label_texts is not None else ds.label_ids[c]

        out.append({"query": test.texts[r] if test.texts is not None else f"row {r}",
                    "predicted": [name(c) for c in labels],
                    "relevant": [name(int(c)) for c in test.Y[r].indices]})
    return out


def _chunks(n: int, desc: str):
    # disable=None: no bar when the output is not a terminal
    return tqdm(range(0, n, CHUNK), desc=desc, unit="chunk", leave=False, disable=None)


def evaluate_xmr(run: XMRRunner, ds: XMRDataset, inf: Inference, ev, *, trained: bool
                 ) -> JobResult:
    test = ds.splits["test"]
    X_test = run.features(test)
    topk = max(int(ev.topk), 100)
    t0 = time.perf_counter()
    scores = sp.vstack([run.predict(X_test[i:i + CHUNK], inf, topk)
                        for i in _chunks(test.n, "predict")], format="csr")
    batch_s = time.perf_counter() - t0
    metrics = xmr.ranking_metrics(test.Y, scores)
    latency = run.latency(test, X_test, inf, n=latency_sample_size(ev, test.n),
                          n_warmup=int(ev.latency_warmup))
    metrics |= timing_metrics(train_time_s=run.fit_time_s, latency=latency, n_requests=test.n,
                              batch_s=batch_s, trained=trained) | run.size()
    metrics |= run.extra_metrics()
    artifacts = {"predictions_sample.json": _samples(ds, test, scores,
                                                     int(ev.n_prediction_samples))}
    per_query = xmr.per_query_metrics(test.Y, scores)
    # warm / cold positives (a label with / without training queries): the diagnostics
    # beside the claims (analysis.diagnostics)
    per_query |= cold_positive_counts(test.Y, scores, ~ds.labels_with_training_queries())
    return JobResult(metrics=metrics, tags=run.tags(), artifacts=artifacts,
                     params={"latency_threads": latency.get("latency_threads", 1)},
                     per_query=with_latency(per_query, latency, test.n))
