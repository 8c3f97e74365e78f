"""The tasks of the harness. A :class:`Task` owns everything that is particular to it: its
input pipeline (featurizer factory), its evaluation, its headline and table metrics, how a
grid point is described, its section of the dataset card and the columns of its MLflow
datasets. No other module branches on a task's name: they ask :func:`get_task`.

The models of a task are the runners registered under it (:data:`experiments.models.RUNNERS`).
This module stays light (no model or kernel import at module level): the sweep callback, the
terminal table and the UI launcher read it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Task:
    name: str
    title: str  # in words (the MLflow run description)
    featurizer: Callable[[Any], object]  # features config → the unfitted input pipeline
    evaluate: Callable[..., Any]  # (runner, dataset, Inference, eval, trained=) → JobResult
    headline: str  # the metric a sweep optimises (the Hydra return value); higher is better
    table_metrics: tuple[str, ...]  # the columns a researcher reads first (terminal, UI view)
    quality: tuple[tuple[str, str], ...]  # (label, metric) printed after each job
    describe: Callable[[Any], list[str]]  # cfg → the grid point's settings in words
    point: Callable[[Any], str]  # cfg → the grid point, for the job's log lines
    run_name: Callable[[Any], str]  # cfg → the MLflow run name unless logger.run_name
    card: Callable[[Any], dict]  # dataset → the task's part of the dataset card
    dataset_columns: tuple[tuple[str, str], ...]  # (type, name) of one example (MLflow
    # dataset schema; type "string", "long" or "long[]")
    tags: Callable[[Any], dict[str, str]] = lambda cfg: {}


def _range(value) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    qs = {"min": 0, "p25": 25, "p50": 50, "p75": 75, "p90": 90, "p99": 99, "max": 100}
    return {k: float(np.percentile(values, q)) for k, q in qs.items()}


# ============================================================ product retrieval (task=xmr)
FEATURE_BLOCKS = ("type", "order")  # features.blocks: TextFeaturizer, PerOrderFeaturizer


def text_featurizer(f):
    """``features=`` of product retrieval → an unfitted TextFeaturizer / PerOrderFeaturizer."""
    from xmr.features import PerOrderFeaturizer, TextFeaturizer

    if "use_prefix" in f:
        raise ValueError(f"task=xmr needs a text feature set (features=all, all_orders, word1, "
                         f"word123 or char3), got features={f.name}")
    if f.blocks not in FEATURE_BLOCKS:
        raise ValueError(f"features.blocks must be one of {sorted(FEATURE_BLOCKS)}, got "
                         f"{f.blocks!r}")
    cls = TextFeaturizer if f.blocks == "type" else PerOrderFeaturizer
    return cls(word_ngram_range=_range(f.word_ngram_range),
               char_ngram_range=_range(f.char_ngram_range), min_df=f.min_df,
               max_features=f.max_features, sublinear_tf=f.sublinear_tf)


def _evaluate_xmr(*args, **kwargs):
    from experiments.xmr_job import evaluate_xmr

    return evaluate_xmr(*args, **kwargs)


def _xmr_card(ds) -> dict:
    train_Y = ds.splits["train"].Y
    train_freq = np.asarray(train_Y.sum(axis=0)).ravel()
    card = {
        "n_labels": ds.n_labels,
        "has_texts": ds.splits["train"].texts is not None,
        "has_label_texts": ds.label_texts is not None,
        "n_features": (None if ds.splits["train"].X is None
                       else int(ds.splits["train"].X.shape[1])),
        "splits": {},
        "label_train_frequency": _quantiles(train_freq),
        "labels_without_train_positives": int((train_freq == 0).sum()),
    }
    for name, split in ds.splits.items():
        per_row = np.diff(split.Y.indptr)
        entry = {"rows": split.n, "positives": int(split.Y.nnz),
                 "labels_per_instance": _quantiles(per_row) | {
                     "mean": float(per_row.mean()) if per_row.size else 0.0},
                 "rows_without_labels": int((per_row == 0).sum())}
        if name != "train" and split.Y.nnz:
            unseen = train_freq[split.Y.indices] == 0
            entry["share_positives_unseen_in_train"] = float(unseen.mean())
        card["splits"][name] = entry
    return card


def _xmr_describe(cfg) -> list[str]:
    what = [f"features **{cfg.features.name}**", f"indexer **{cfg.indexer.name}**"]
    if cfg.model.get("threshold") is not None:
        what.append(f"pruning threshold **{cfg.model.threshold}**")
    return what + [f"beam width **{cfg.eval.beam_size}**"]


XMR = Task(
    name="xmr", title="Product search (XMR)", featurizer=text_featurizer,
    evaluate=_evaluate_xmr, headline="recall_at_10",
    table_metrics=("recall_at_10", "recall_at_100", "precision_at_1", "mrr_at_10",
                   "latency_p50_ms", "latency_p99_ms", "train_time_s", "model_bytes"),
    quality=(("recall@10", "recall_at_10"), ("P@1", "precision_at_1")),
    describe=_xmr_describe,
    point=lambda cfg: (f"data={cfg.data.name} features={cfg.features.name} "
                       f"model={cfg.model.name} threshold={cfg.model.get('threshold')} "
                       f"beam={cfg.eval.beam_size}"),
    run_name=lambda cfg: (f"{cfg.data.name}-{cfg.model.name}-{cfg.features.name}"
                          f"-t{cfg.model.get('threshold')}-b{cfg.eval.beam_size}"),
    card=_xmr_card,
    dataset_columns=(("string", "query"), ("long[]", "relevant_labels")))


# ======================================================= query autocompletion (task=qac)
def qac_vectorizer(f):
    """``features=`` of autocompletion → an unfitted QACVectorizer."""
    from xmr.qac import QACVectorizer

    if "use_prefix" not in f:
        raise ValueError(f"task=qac needs a QAC feature set (features=qac_pos, qac_plain or "
                         f"qac_prev_only), got features={f.name}")
    return QACVectorizer(prefix_weighting=f.prefix_weighting,
                         char_ngram_range=_range(f.char_ngram_range), min_df=f.min_df,
                         use_prefix=f.use_prefix, idf=f.idf)


def _evaluate_qac(*args, **kwargs):
    from experiments.qac_job import evaluate_qac

    return evaluate_qac(*args, **kwargs)


def _qac_card(ds) -> dict:
    labels = set(ds.labels)
    everything = set().union(*(s.next_queries for s in ds.splits.values()))
    card = {"n_labels": len(labels), "splits": {},
            "unique_next_queries_all_splits": len(everything),
            "label_train_frequency": _quantiles(ds.label_freq.astype(float))}
    for name, split in ds.splits.items():
        plen = np.array([len(p) for p in split.prefixes])
        entry = {"rows": split.n,
                 "prefix_length": _quantiles(plen) | {
                     "mean": float(plen.mean()) if plen.size else 0.0},
                 "empty_previous_query": int(sum(1 for q in split.prev_queries if not q))}
        if name != "train" and split.n:
            entry["share_positives_unseen_in_train"] = float(
                np.mean([q not in labels for q in split.next_queries]))
        card["splits"][name] = entry
    return card


QAC = Task(
    name="qac", title="Session-aware query autocompletion", featurizer=qac_vectorizer,
    evaluate=_evaluate_qac, headline="mrr_at_10",
    table_metrics=("mrr_at_10", "bleu", "latency_p50_ms", "latency_p99_ms", "train_time_s",
                   "model_bytes"),
    quality=(("MRR@10", "mrr_at_10"), ("BLEU", "bleu")),
    describe=lambda cfg: [f"Table 2 row **{cfg.qac_row}**", f"features **{cfg.features.name}**",
                          f"indexer **{cfg.indexer.name}**"],
    point=lambda cfg: (f"data={cfg.data.name} row={cfg.qac_row} "
                       f"features={cfg.features.name} indexer={cfg.indexer.name} "
                       f"model={cfg.model.name}"),
    run_name=lambda cfg: (f"{cfg.data.name}-qac{cfg.qac_row}-{cfg.model.name}"
                          f"-{cfg.indexer.name}"),
    card=_qac_card,
    dataset_columns=(("string", "previous_query"), ("string", "prefix"),
                     ("string", "next_query")),
    tags=lambda cfg: {"qac_row": str(cfg.qac_row)})

TASKS: dict[str, Task] = {t.name: t for t in (XMR, QAC)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task={name} is unknown; known: {sorted(TASKS)}")
    return TASKS[name]
