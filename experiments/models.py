"""Every model of the harness behind one surface, the *runner*, registered per task in
:data:`RUNNERS`, so one job path (:mod:`experiments.job`), one training cache
(:mod:`experiments.training`) and one latency protocol treat them alike.

A runner is built from :class:`Parts` (library objects and plain values, never a config
node: :func:`experiments.build.parts` makes them), owns its input pipeline and its trained
model, and answers a single request end to end (text in, featurisation included). Adding a
model: a runner class with ``@register``, its params dataclass, one YAML file (README,
"Adding a model").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import scipy.sparse as sp

import xmr
from experiments.results import LATENCY_KEYS, time_requests
from xmr.datasets.tasks import QACDataset, XMRDataset, XMRSplit
from xmr.params import DualEncoderParams, LinearParams, XRLinearParams
from xmr.qac import QACSuggester

SINGLE_TOPK = 10  # labels per single product-retrieval request (the latency protocol)


@dataclass
class Parts:
    """What a runner is built from: library objects and plain values."""

    params: dict[str, Any] = field(default_factory=dict)  # the model's hyperparameters
    seed: int = 0
    featurizer: Any = None  # an unfitted TextFeaturizer / QACVectorizer (inputs "features")
    indexer: Any = None  # an unbuilt indexer of xmr.INDEXERS (inputs "indexer")
    label_embedding: str | None = None  # "pifa" / "char_tfidf" (None: the trie needs none)
    train_threshold: float | None = None  # prunable models: the level they are trained at


@dataclass(frozen=True)
class Inference:
    """The prediction settings of one run (not part of the training)."""

    beam_size: int = 10
    post_processor: str = "l3-hinge"
    n_suggestions: int = 10  # QAC: suggestions per request
    candidates: int | None = None  # QAC: labels asked of the beam search (None: the model's)
    empty_prev: str = "none"  # QAC: an empty previous query gets "none" or "prefix"


class Runner:
    """The base of every runner. Subclasses set ``name``/``task`` and implement ``fit``."""

    name = "?"
    task = "xmr"
    params: type | None = None  # its hyperparameters' dataclass (xmr.params): the config
    # schema schema/model/<name> is generated from it (None: no parameters)
    inputs: tuple[str, ...] = ()  # config groups the trained model depends on: "features",
    # "indexer" (the others leave the training key)
    cacheable = True  # trained models can be saved to and loaded from paths.cache_dir
    prunable = False  # trained at train_threshold, re-pruned per run (with_threshold)

    def __init__(self, parts: Parts):
        self.parts = parts
        self.feat = parts.featurizer
        self.model = None
        self.fit_time_s = float("nan")

    @staticmethod
    def model_class():
        raise NotImplementedError

    def fit(self, ds) -> None:
        raise NotImplementedError

    # persistence ----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        if self.feat is not None:
            self.feat.save(folder / "featurizer")
        self.model.save(folder / "model")

    def load(self, folder: Path) -> Runner:
        if (folder / "featurizer").is_dir():
            self.feat = type(self.parts.featurizer).load(folder / "featurizer")
        else:
            self.feat = None
        self.model = self.model_class().load(folder / "model")
        return self

    # after training ---------------------------------------------------------------------
    def with_threshold(self, threshold: float) -> Runner:
        return self

    def size(self) -> dict[str, float]:
        return {}

    def tags(self) -> dict[str, str]:
        return {}


RUNNERS: dict[str, dict[str, type[Runner]]] = {"xmr": {}, "qac": {}}


def register(cls: type[Runner]) -> type[Runner]:
    """Class decorator: ``cls`` answers ``model=<cls.name>`` under ``task=<cls.task>``."""
    RUNNERS.setdefault(cls.task, {})[cls.name] = cls
    return cls


def weights_size(model, mats) -> dict[str, float]:
    """``model_nnz`` and ``model_bytes`` (data + indices + indptr) of sparse weight matrices."""
    return {"model_nnz": float(model.model_nnz_),
            "model_bytes": float(sum(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
                                     for W in mats))}


def fit_xrlinear(parts: Parts, X, Y, Z, labels=None) -> xmr.XRLinear:
    """XR-Linear on the tree the runner's indexer builds over ``Z`` (and the label strings)."""
    tree = parts.indexer.build(Z, labels=labels)
    ix = parts.indexer
    p = {k: v for k, v in parts.params.items() if k != "threshold"}
    shape = {k: getattr(ix, k) for k in ("nr_splits", "max_leaf_size") if hasattr(ix, k)}
    return xmr.XRLinear(**shape, threshold=parts.train_threshold, **p, seed=parts.seed,
                        allow_empty=True, verbose=True).fit(X, Y, tree=tree)


class _XRLinear:
    """What the XR-Linear runners of both tasks share (mixed in before the task's base)."""

    name = "xrlinear"
    params = XRLinearParams
    inputs = ("features", "indexer")
    prunable = True

    @staticmethod
    def model_class():
        return xmr.XRLinear

    def with_threshold(self, threshold: float) -> Runner:
        """This runner with its weights re-pruned to ``threshold`` (itself when there)."""
        if threshold <= self.model.threshold_:
            return self
        pruned = type(self)(self.parts)
        pruned.feat, pruned.fit_time_s = self.feat, self.fit_time_s
        pruned.model = self.model.prune(threshold)
        return pruned

    def size(self) -> dict[str, float]:
        return weights_size(self.model, self.model.weights_)


# ============================================================ product retrieval (task=xmr)
class XMRRunner(Runner):
    """A product-retrieval model: batch ``predict`` over feature rows, ``one`` request."""

    task = "xmr"

    def _fit_features(self, split: XMRSplit) -> sp.csr_matrix:
        if split.texts is None:
            self.feat = None
            return split.X
        self.feat = self.parts.featurizer.fit(split.texts)
        return self.feat.transform(split.texts)

    def features(self, split: XMRSplit):
        return split.X if self.feat is None else self.feat.transform(split.texts)

    def queries(self, split: XMRSplit, X) -> list:
        """What one latency request is: the text (featurised inside the timed call) or,
        for pre-featurised data, the row's arrays."""
        if self.feat is not None:
            return list(split.texts)
        return [(X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]])
                for i in range(X.shape[0])]

    def _row(self, q):
        return self.feat.transform_one(q) if self.feat is not None else q

    def predict(self, X, inf: Inference, topk: int) -> sp.csr_matrix:
        raise NotImplementedError

    def one(self, q, inf: Inference):
        raise NotImplementedError

    def latency(self, split: XMRSplit, X, inf: Inference, *, n: int, n_warmup: int) -> dict:
        """Latency percentiles of ``n`` single requests (text in, featurisation included)."""
        return time_requests(lambda q: self.one(q, inf), self.queries(split, X), n_timed=n,
                             n_warmup=n_warmup)


@register
class XRLinearRunner(_XRLinear, XMRRunner):
    def fit(self, ds: XMRDataset) -> None:
        if self.parts.indexer is None or not isinstance(self.parts.indexer,
                                                        xmr.HierarchicalKMeans):
            raise ValueError(f"indexer {type(self.parts.indexer).__name__} is not available "
                             f"for product retrieval yet: use indexer=hkmeans")
        if self.parts.label_embedding != "pifa":
            raise ValueError(f"indexer.label_embedding must be 'pifa' for product retrieval, "
                             f"got {self.parts.label_embedding!r}")
        split = ds.splits["train"]
        t0 = time.perf_counter()
        X = self._fit_features(split)
        self.model = fit_xrlinear(self.parts, X, split.Y, xmr.pifa(X, split.Y))
        self.fit_time_s = time.perf_counter() - t0  # featurisation + indexing + training

    def predict(self, X, inf: Inference, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, beam_size=inf.beam_size, topk=topk,
                                  post_processor=inf.post_processor)

    def one(self, q, inf: Inference):
        idx, val = self._row(q)
        return self.model.predict_one(idx, val, beam_size=inf.beam_size, topk=SINGLE_TOPK,
                                      post_processor=inf.post_processor)

    def tags(self) -> dict[str, str]:
        return {"tree_levels": str(self.model.tree_.level_sizes)}


@register
class OVRRunner(XMRRunner):
    name = "ovr_linear"
    params = LinearParams
    inputs = ("features",)

    @staticmethod
    def model_class():
        from baselines.ovr_linear import OVRLinear

        return OVRLinear

    def fit(self, ds: XMRDataset) -> None:
        split = ds.splits["train"]
        t0 = time.perf_counter()
        X = self._fit_features(split)
        self.model = self.model_class()(**self.parts.params, seed=self.parts.seed,
                                        allow_empty=True).fit(X, split.Y)
        self.fit_time_s = time.perf_counter() - t0

    def predict(self, X, inf: Inference, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, topk=topk)

    def one(self, q, inf: Inference):
        idx, val = self._row(q)
        return self.model.predict_one(idx, val, topk=SINGLE_TOPK)

    def size(self) -> dict[str, float]:
        return weights_size(self.model, [self.model.weights_])


@register
class DualEncoderRunner(XMRRunner):
    name = "dual_encoder"
    params = DualEncoderParams

    @staticmethod
    def model_class():
        from baselines.dual_encoder import DualEncoder

        return DualEncoder

    def fit(self, ds: XMRDataset) -> None:
        split = ds.splits["train"]
        if split.texts is None:
            raise ValueError("model=dual_encoder needs text inputs; this dataset is "
                             "pre-featurised (use xrlinear, ovr_linear or pecos)")
        self.model = self.model_class()(**self.parts.params, seed=self.parts.seed,
                                        verbose=True).fit(split.texts, split.Y,
                                                          label_texts=ds.label_texts)
        self.fit_time_s = float(self.model.fit_time_s_)

    def features(self, split: XMRSplit):
        return split.texts  # the towers hash their own n-grams

    def queries(self, split: XMRSplit, X) -> list:
        return list(split.texts)

    def predict(self, texts, inf: Inference, topk: int) -> sp.csr_matrix:
        return self.model.predict(texts, topk=topk)

    def one(self, q, inf: Inference):
        return self.model.predict_one(q, topk=SINGLE_TOPK)

    def size(self) -> dict[str, float]:
        return {"model_bytes": float(self.model.model_bytes_)}

    def tags(self) -> dict[str, str]:
        return {"best_epoch": str(getattr(self.model, "best_epoch_", ""))}


@register
class PecosRunner(XMRRunner):
    """The real PECOS (libpecos in .peer-venv) on our TF-IDF features. Its single-query
    latency is measured inside the peer on precomputed feature rows (featurisation is not
    included: tagged ``latency_includes_featurization=false``)."""

    name = "pecos"
    params = XRLinearParams  # PECOS's XR-Linear: the same parameters and defaults
    inputs = ("features", "indexer")
    cacheable = False  # the peer keeps its model in a temporary folder

    def fit(self, ds: XMRDataset) -> None:
        from baselines.pecos_peer import PecosXRLinear

        ix = self.parts.indexer
        if not isinstance(ix, xmr.HierarchicalKMeans) or self.parts.label_embedding != "pifa":
            raise ValueError("model=pecos builds PECOS's own hierarchical k-means over PIFA: "
                             "use indexer=hkmeans with indexer.label_embedding=pifa")
        split = ds.splits["train"]
        t0 = time.perf_counter()
        X = self._fit_features(split)
        featurize_s = time.perf_counter() - t0
        self.model = PecosXRLinear(nr_splits=ix.nr_splits, max_leaf_size=ix.max_leaf_size,
                                   kmeans_max_iter=ix.max_iter, **self.parts.params,
                                   seed=self.parts.seed).fit(X, split.Y)
        # featurisation + PECOS's own indexing + training time (measured inside its worker,
        # no process start or file transfer), comparable with XRLinearRunner's
        self.fit_time_s = featurize_s + float(self.model.train_time_s_)

    def predict(self, X, inf: Inference, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, beam_size=inf.beam_size, topk=topk,
                                  post_processor=inf.post_processor)

    def latency(self, split: XMRSplit, X, inf: Inference, *, n: int, n_warmup: int) -> dict:
        rows = X if X.shape[0] >= n else sp.vstack([X] * (n // X.shape[0] + 1))[:n]
        out = self.model.measure_latency(rows, beam_size=inf.beam_size, topk=SINGLE_TOPK,
                                         post_processor=inf.post_processor,
                                         n_warmup=n_warmup)
        return {k: out[k] for k in LATENCY_KEYS}

    def size(self) -> dict[str, float]:
        return {"model_nnz": float(self.model.model_nnz_)}

    def tags(self) -> dict[str, str]:
        return {"latency_includes_featurization": "false"}


# ======================================================= query autocompletion (task=qac)
class QACRunner(Runner):
    """A QAC model: ``suggester(inf)`` answers ``suggest(prev_query, prefix)`` and
    ``suggest_batch(prev_queries, prefixes)`` with label strings, best first."""

    task = "qac"

    def suggester(self, inf: Inference, labels):
        """``labels``: the dataset's sorted label strings (label ``i`` = ``labels[i]``)."""
        raise NotImplementedError


@register
class QACXRLinearRunner(_XRLinear, QACRunner):
    """XR-Linear over (previous query ⊕ prefix) features, on any indexer (Table 2 rows)."""

    def fit(self, ds: QACDataset) -> None:
        train = ds.splits["train"]
        t0 = time.perf_counter()
        self.feat = self.parts.featurizer.fit(train.prev_queries, train.prefixes)
        X = self.feat.transform(train.prev_queries, train.prefixes)
        Y = ds.label_matrix("train")
        emb = self.parts.label_embedding
        if emb == "pifa":
            Z = xmr.pifa(X, Y)
        elif emb == "char_tfidf":
            Z = self.feat.label_embedding(ds.labels)  # plain or position-weighted, as X
        else:  # the trie reads only the strings
            Z = None
        self.model = fit_xrlinear(self.parts, X, Y, Z, labels=ds.labels)
        self.fit_time_s = time.perf_counter() - t0

    def suggester(self, inf: Inference, labels) -> QACSuggester:
        return QACSuggester(self.feat, self.model, labels, k=inf.n_suggestions,
                            beam_size=inf.beam_size, topk=inf.candidates,
                            empty_prev=inf.empty_prev,
                            post_processor=inf.post_processor)

    def tags(self) -> dict[str, str]:
        levels = self.model.tree_.level_sizes
        return {"tree_levels": str(levels[:4] + ["…"] + [levels[-1]])}


class _MPCSuggester:
    """MostPopularCompletion behind the suggester surface (no session context)."""

    def __init__(self, model, k: int):
        self.model, self.k = model, k

    def suggest(self, prev_query: str, prefix: str) -> list[str]:
        return self.model.suggest(prefix, k=self.k)

    def suggest_batch(self, prev_queries, prefixes) -> list[list[str]]:
        return self.model.suggest_batch(prefixes, k=self.k)


@register
class MPCRunner(QACRunner):
    """Most-popular completion (QAC baseline): no features, no indexer, no session."""

    name = "mpc"
    cacheable = False  # counting is faster than loading

    @staticmethod
    def model_class():
        from baselines.mpc import MostPopularCompletion

        return MostPopularCompletion

    def fit(self, ds: QACDataset) -> None:
        t0 = time.perf_counter()
        self.model = self.model_class()().fit(ds.splits["train"].next_queries)
        self.fit_time_s = time.perf_counter() - t0

    def suggester(self, inf: Inference, labels) -> _MPCSuggester:
        return _MPCSuggester(self.model, inf.n_suggestions)


def runner_class(task: str, model: str) -> type[Runner]:
    known = RUNNERS.get(task, {})
    if model not in known:
        raise ValueError(f"model={model} is not a model of task={task}; known: "
                         f"{sorted(known)}")
    return known[model]


__all__ = ["Parts", "Inference", "Runner", "XMRRunner", "QACRunner", "RUNNERS", "register",
           "runner_class"]
