"""The QAC (session-aware autocompletion) job: vectorize → label embedding → index → train →
suggest → MRR/BLEU + slices → time one request at a time. Knows nothing of MLflow."""

from __future__ import annotations

import logging
import time
from collections import Counter

from omegaconf import DictConfig

import xmr
from baselines.mpc import MostPopularCompletion
from experiments.xmr_job import JobResult
from xmr.datasets.tasks import QACDataset
from xmr.qac import QACSuggester, QACVectorizer
from xmr.qac.metrics import qac_metrics, qac_per_query, qac_slices
from xmr.timing import measure_latency
from xmr.warmup import warmup

log = logging.getLogger(__name__)


def vectorizer(cfg: DictConfig) -> QACVectorizer:
    f = cfg.features
    if "use_prefix" not in f:
        raise ValueError(f"task=qac needs a QAC feature set (features=qac_pos, qac_plain or "
                         f"qac_prev_only), got features={f.name}")
    return QACVectorizer(prefix_weighting=f.prefix_weighting,
                         char_ngram_range=(int(f.char_ngram_range[0]),
                                           int(f.char_ngram_range[1])),
                         min_df=f.min_df, use_prefix=f.use_prefix)


def label_tree(cfg: DictConfig, vec: QACVectorizer, X, Y, labels: list[str]) -> xmr.LabelTree:
    ix = cfg.indexer
    if ix.label_embedding == "pifa":
        Z = xmr.pifa(X, Y)
    elif ix.label_embedding == "char_tfidf":
        Z = vec.label_embedding(labels)  # plain or position-weighted, as the features group
    else:
        raise ValueError(f"indexer.label_embedding must be 'pifa' or 'char_tfidf', got "
                         f"{ix.label_embedding!r}")
    common = {"nr_splits": ix.nr_splits, "max_leaf_size": ix.max_leaf_size,
              "max_iter": ix.max_iter, "seed": cfg.seed, "n_jobs": cfg.model.n_jobs}
    if ix.name == "hkmeans":
        return xmr.HierarchicalKMeans(**common).build(Z)
    if ix.name == "trie":
        return xmr.INDEXERS["trie"](depth=ix.depth).build(None, labels=labels)
    if ix.name == "hybrid":
        return xmr.INDEXERS["hybrid"](trie_depth=ix.trie_depth, **common).build(Z, labels=labels)
    if ix.name == "mustlink":
        return xmr.INDEXERS["mustlink"](prefix_len=ix.prefix_len, **common).build(
            Z, labels=labels)
    raise ValueError(f"unknown indexer {ix.name!r}; known: {sorted(xmr.INDEXERS)}")


def run_qac(cfg: DictConfig, ds: QACDataset) -> JobResult:
    labels = ds.labels
    train, test = ds.splits["train"], ds.splits["test"]
    ev = cfg.eval
    k = int(ev.n_suggestions)
    warmup()
    tags = {"qac_row": str(cfg.qac_row)}
    if cfg.model.name == "mpc":
        t0 = time.perf_counter()
        model = MostPopularCompletion().fit(train.next_queries)
        train_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        suggestions = model.suggest_batch(test.prefixes, k=k)
        batch_s = time.perf_counter() - t0

        def one(q):
            return model.suggest(q[1], k=k)
        extra = {}
    else:
        t0 = time.perf_counter()
        vec = vectorizer(cfg).fit(train.prev_queries, train.prefixes)
        X = vec.transform(train.prev_queries, train.prefixes)
        Y = ds.label_matrix("train")
        tree = label_tree(cfg, vec, X, Y, labels)
        m = cfg.model
        model = xmr.XRLinear(nr_splits=max(2, cfg.indexer.nr_splits),
                             max_leaf_size=cfg.indexer.max_leaf_size, threshold=m.threshold,
                             Cp=m.Cp, Cn=m.Cn, eps=m.eps, max_iter=m.max_iter, bias=m.bias,
                             negative_sampling=m.negative_sampling, seed=cfg.seed,
                             n_jobs=m.n_jobs, allow_empty=True, verbose=True
                             ).fit(X, Y, tree=tree)
        train_time = time.perf_counter() - t0
        suggester = QACSuggester(vec, model, labels, k=k, beam_size=ev.beam_size,
                                 empty_prev=ev.empty_prev, post_processor=ev.post_processor)
        t0 = time.perf_counter()
        suggestions = suggester.suggest_batch(test.prev_queries, test.prefixes)
        batch_s = time.perf_counter() - t0

        def one(q):
            return suggester.suggest(q[0], q[1])
        tags["tree_levels"] = str(model.tree_.level_sizes[:4] + ["…"] + [len(labels)])
        extra = {"model_nnz": float(model.model_nnz_),
                 "model_bytes": float(sum(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
                                          for W in model.weights_))}

    metrics = qac_metrics(suggestions, test.next_queries, k=10)
    counts = Counter(train.next_queries)
    slices = qac_slices(suggestions, test.next_queries, test.prefixes, counts, k=10)
    requests = list(zip(test.prev_queries, test.prefixes, strict=True))
    n_lat = min(max(ev.latency_min_queries, len(requests)), ev.latency_max_queries)
    latency = measure_latency(one, requests, n_warmup=ev.latency_warmup, min_timed=n_lat)
    out = {"mrr_at_10": metrics["mrr_at_10"], "bleu": metrics["bleu"],
           "sacrebleu_top1": metrics["sacrebleu_top1"], "coverage": metrics["coverage"],
           "train_time_s": train_time, "latency_p50_ms": latency["latency_p50_ms"],
           "latency_p99_ms": latency["latency_p99_ms"],
           "latency_mean_ms": latency["latency_mean_ms"],
           "throughput_qps": len(requests) / batch_s if batch_s > 0 else float("nan"),
           "trained": 1.0, **extra}
    sample = [{"prev_query": test.prev_queries[i], "prefix": test.prefixes[i],
               "next_query": test.next_queries[i], "suggestions": suggestions[i]}
              for i in range(min(ev.n_prediction_samples, test.n))]
    return JobResult(metrics=out, tags=tags,
                     artifacts={"slices.json": slices, "predictions_sample.json": sample},
                     per_query=qac_per_query(suggestions, test.next_queries, test.prefixes,
                                             k=10))

