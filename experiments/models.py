"""Every model of the harness behind one surface, the *runner*, registered per task in
:data:`RUNNERS`, so one job path (:mod:`experiments.job`), one training cache
(:mod:`experiments.training`) and one latency protocol treat them alike.

A runner is built from :class:`Parts` (library objects and plain values, never a config
node: :func:`experiments.spec.resolve` makes them), owns its input pipeline and its trained
model, and answers a single request end to end (text in, featurisation included). Adding a
model: a runner class with ``@register``, its params dataclass, one YAML file
(docs/guide/extending.md, "Adding a model").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import scipy.sparse as sp

import xmr
from experiments import shards
from experiments.results import LATENCY_KEYS, time_requests
from experiments.stages import stage
from xmr.datasets.tasks import QACDataset, XMRDataset, XMRSplit
from xmr.params import PREDICT, DualEncoderParams, OVRParams, Seq2SeqParams, XRLinearParams
from xmr.qac import QACSuggester

SINGLE_TOPK = PREDICT.topk  # labels per single product-retrieval request (latency protocol)


@dataclass
class Parts:
    """What a runner is built from: library objects and plain values."""

    params: dict[str, Any] = field(default_factory=dict)  # the model's hyperparameters
    seed: int = 0
    featurizer: Any = None  # an unfitted TextFeaturizer / QACVectorizer (inputs "features")
    indexer: Any = None  # an unbuilt indexer of xmr.INDEXERS (inputs "indexer")
    label_embedding: str | None = None  # "pifa" / "char_tfidf" (None: the trie needs none)
    train_threshold: float | None = None  # prunable models: the level they are trained at
    sharding: shards.ShardEngine = field(default_factory=shards.ShardEngine)  # where shard
    # tasks run (model.shards != 1)
    stop_on: str = "own"  # a neural model's early stopping: "own" (its default: the dual
    # encoder's 10% of the training pairs, seq2seq's valid split), "valid" (the dataset's
    # "valid" split: a search's validation rows, experiments.tuning), "none" (a fixed epoch
    # count on every training row: a tuned model's refit)


@dataclass(frozen=True)
class Inference:
    """The prediction settings of one run (not part of the training), resolved from the
    ``eval`` config (:func:`experiments.spec.resolve`; defaults: :class:`xmr.params.
    PredictParams` and ``experiments.schema.EvalConfig``)."""

    beam_size: int
    post_processor: str
    n_suggestions: int  # QAC: suggestions per request
    candidates: int | None  # QAC: labels asked of the beam search (None: the model's)
    empty_prev: str  # QAC: an empty previous query gets "none" or "prefix"
    skip_unmatched_prefix: bool  # QAC: [] without predicting when no label matches


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
    kind = "baseline"  # the run's tag model_kind: "xmr" (a tree model), "baseline" or
    # "neural" (what analysis groups runs by; never guessed from the name)

    @classmethod
    def check(cls, parts: Parts) -> None:
        """Refuse out-of-range hyperparameters before any data is loaded: by default the
        model's own validation (``model_class()(**params, seed=)._validate_params()``)."""
        if cls.params is not None:
            cls.model_class()(**parts.params, seed=parts.seed)._validate_params()

    @classmethod
    def free_params(cls, parts: Parts) -> tuple[str, ...]:
        """Search-space keys that cost no retraining (experiments.tuning varies them over one
        trained model): ``"threshold"`` (re-pruned by :meth:`with_threshold`), ``"beam_size"``
        (a prediction setting)."""
        return ()

    @classmethod
    def default_tuning(cls, parts: Parts) -> tuple[dict[str, tuple], float] | None:
        """(space, validation share of the training rows) searched when the preset declares
        none for this model (None: trained at the configured values)."""
        return None

    @classmethod
    def tuning_metrics(cls, outcome: dict) -> dict[str, float]:
        """Run metrics of a search's outcome (experiments.tuning) beyond the generic ones."""
        return {}

    def __init__(self, parts: Parts):
        self.parts = parts
        self.feat = parts.featurizer
        self.model = None
        self.fit_time_s = float("nan")
        # where an iteratively trained model keeps its per-epoch state, so that a training
        # stopped between epochs resumes (set by experiments.training / .tuning; None: not kept)
        self.checkpoint_dir: Path | None = None

    def checkpoint_file(self) -> Path | None:
        """The per-epoch checkpoint a neural model's fit saves to and resumes from."""
        return None if self.checkpoint_dir is None else self.checkpoint_dir / "epochs.pt"

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

    def extra_metrics(self) -> dict[str, float]:
        """Run metrics beyond the fixed names (e.g. how a hyperparameter was chosen)."""
        return self.convergence()

    def convergence(self) -> dict[str, float]:
        """How an iteratively trained model stopped (:func:`convergence`); {} otherwise."""
        return {}


def convergence(model, score: str) -> dict[str, float]:
    """``best_epoch``, ``epochs_run`` and ``epochs_cap_hit`` of a model that early-stops on
    the validation ``score`` of its ``history_`` (``epochs`` at most, ``patience``):
    ``epochs_cap_hit`` is 1.0 when training ended at the cap before early stopping could
    end it (fewer than ``patience`` epochs since the best: the validation score may still
    rise, the model is under-trained). Without validation only ``epochs_run``."""
    history = model.history_ or []
    out = {"epochs_run": float(len(history))}
    if not any(r.get(score) is not None for r in history):
        return out
    best = int(model.best_epoch_)
    capped = len(history) >= model.epochs and len(history) - best < model.patience
    return out | {"best_epoch": float(best), "epochs_cap_hit": float(capped)}


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


class _XRLinear:
    """What the XR-Linear runners of both tasks share (mixed in before the task's base)."""

    name = "xrlinear"
    params = shards.ShardedXRLinearParams
    inputs = ("features", "indexer")
    prunable = True
    kind = "xmr"
    shard_report: dict | None = None  # how this process trained it by shards (if it did)

    @staticmethod
    def model_class():
        return xmr.XRLinear

    @classmethod
    def free_params(cls, parts: Parts) -> tuple[str, ...]:
        """The beam width, and the threshold unless matcher-aware negatives make the model
        depend on it (``negative_sampling=man``: experiments.spec._train_threshold)."""
        if parts.params.get("negative_sampling") == "man":
            return ("beam_size",)
        return ("threshold", "beam_size")

    @classmethod
    def check(cls, parts: Parts) -> None:
        """XR-Linear's own ranges at the run's threshold and at the one it trains at (its
        tree shape is the indexer's, checked there)."""
        p = {k: v for k, v in parts.params.items() if k not in shards.SHARDING}
        for threshold in {p["threshold"], parts.train_threshold}:
            xmr.XRLinear(**{**p, "threshold": threshold}, seed=parts.seed)._validate_params()

    def _fit_model(self, X, Y, Z, labels=None) -> xmr.XRLinear:
        """XR-Linear on the tree the indexer builds over ``Z`` (and the label strings)."""
        parts = self.parts
        with stage("index"):
            tree = parts.indexer.build(Z, labels=labels)
        ix = parts.indexer
        p = {k: v for k, v in parts.params.items() if k not in ("threshold", *shards.SHARDING)}
        shape = {k: getattr(ix, k) for k in ("nr_splits", "max_leaf_size") if hasattr(ix, k)}
        model = xmr.XRLinear(**shape, threshold=parts.train_threshold, **p, seed=parts.seed,
                             allow_empty=True, verbose=True)
        n_shards = parts.params.get("shards", 1)
        with stage("train"):
            if n_shards == 1:
                return model.fit(X, Y, tree=tree)
            shards.fit(model, X, Y, tree=tree, n_shards=n_shards,  # 0 or less: refused there
                       n_workers=parts.params["shard_workers"], engine=parts.sharding)
        self.shard_report = model.shard_report_
        return model

    def with_threshold(self, threshold: float) -> Runner:
        """This runner with its weights re-pruned to ``threshold`` (itself when there)."""
        if threshold <= self.model.threshold_:
            return self
        pruned = type(self)(self.parts)
        pruned.feat, pruned.fit_time_s = self.feat, self.fit_time_s
        pruned.shard_report = self.shard_report
        pruned.model = self.model.prune(threshold)
        return pruned

    def shard_tags(self) -> dict[str, str]:
        return shards.tags(self.shard_report, self.parts.sharding.kind)

    def size(self) -> dict[str, float]:  # counted from the layout: no copy of the weights
        return {"model_nnz": float(self.model.model_nnz_),
                "model_bytes": float(self.model.weights_nbytes())}


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
        with stage("featurise"):
            X = self._fit_features(split)
        with stage("label embedding"):
            Z = xmr.pifa(X, split.Y)
        self.model = self._fit_model(X, split.Y, Z)
        self.fit_time_s = time.perf_counter() - t0  # featurisation + indexing + training

    def predict(self, X, inf: Inference, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, beam_size=inf.beam_size, topk=topk,
                                  post_processor=inf.post_processor)

    def one(self, q, inf: Inference):
        idx, val = self._row(q)
        return self.model.predict_one(idx, val, beam_size=inf.beam_size, topk=SINGLE_TOPK,
                                      post_processor=inf.post_processor)

    def tags(self) -> dict[str, str]:
        return {"tree_levels": str(self.model.tree_.level_sizes), **self.shard_tags()}


@register
class OVRRunner(XMRRunner):
    """One-vs-rest at its own best pruning threshold: with ``model.threshold = null`` (the
    default) it is chosen by the tuning step (experiments.tuning; without a ``tune`` entry
    for this model, the space ``threshold: threshold_candidates`` on ``valid_fraction`` of
    the training rows), trained once at the smallest candidate and re-pruned
    (`OVRLinear.prune`, exact) to each, then trained on all training rows at the chosen one.
    Logged: ``ovr_threshold``, every candidate's ``valid_recall_at_10_t<threshold>``,
    ``threshold_selection_s`` (the search); ``train_time_s`` is the final training
    (featurisation included)."""

    name = "ovr_linear"
    params = OVRParams
    inputs = ("features",)

    @staticmethod
    def model_class():
        from baselines.ovr_linear import OVRLinear

        return OVRLinear

    @staticmethod
    def _own(params: dict) -> dict:
        """The estimator's parameters (the search's own settings dropped)."""
        return {k: v for k, v in params.items()
                if k not in ("threshold_candidates", "valid_fraction")}

    @classmethod
    def check(cls, parts: Parts) -> None:
        """``threshold: null`` = chosen among ``threshold_candidates`` on ``valid_fraction``
        of the rows: every value it may train at must be valid."""
        p = dict(parts.params)
        candidates = list(p.pop("threshold_candidates", ()))
        fraction = p.pop("valid_fraction", None)
        threshold = p.pop("threshold", None)
        if threshold is None and fraction is not None and not 0.0 < fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {fraction}")
        if threshold is None and not candidates:
            raise ValueError("threshold is null (chosen on validation) but "
                             "threshold_candidates is empty")
        for value in [threshold] if threshold is not None else candidates:
            cls.model_class()(**p, threshold=value, seed=parts.seed)._validate_params()

    @classmethod
    def free_params(cls, parts: Parts) -> tuple[str, ...]:
        return ("threshold",)

    @classmethod
    def default_tuning(cls, parts: Parts) -> tuple[dict[str, tuple], float] | None:
        """``threshold: null``: the candidates, largest first (a tie goes to the smaller
        model, as `baselines.ovr_linear.select_threshold`), on ``valid_fraction``."""
        p = parts.params
        if p.get("threshold") is not None:
            return None
        return ({"threshold": tuple(sorted(map(float, p["threshold_candidates"]),
                                           reverse=True))}, float(p["valid_fraction"]))

    @classmethod
    def tuning_metrics(cls, outcome: dict) -> dict[str, float]:
        """The search's seconds and, per threshold tried, its validation recall@10 (the
        names of OVR's own selection, kept)."""
        out = {"threshold_selection_s": float(outcome["seconds"])}
        if outcome["metric"] == "recall_at_10":
            for trial in outcome["trials"]:
                if set(trial["params"]) == {"threshold"}:
                    out[f"valid_recall_at_10_t{trial['params']['threshold']:g}"] = \
                        float(trial["value"])
        return out

    def fit(self, ds: XMRDataset) -> None:
        p = self._own(self.parts.params)
        if p["threshold"] is None:
            raise ValueError("model.threshold is null (chosen on validation): train through "
                             "the tuning step (experiments.tuning), or give a threshold")
        split = ds.splits["train"]
        t0 = time.perf_counter()
        with stage("featurise"):
            X = self._fit_features(split)
        with stage("train"):
            self.model = self.model_class()(**p, seed=self.parts.seed,
                                            allow_empty=True).fit(X, split.Y)
        self.fit_time_s = time.perf_counter() - t0

    def with_threshold(self, threshold: float) -> Runner:
        """This runner with its weights re-pruned to ``threshold`` (itself when there)."""
        if threshold <= self.model.threshold:
            return self
        pruned = type(self)(self.parts)
        pruned.feat, pruned.fit_time_s = self.feat, self.fit_time_s
        pruned.model = self.model.prune(threshold)
        return pruned

    def predict(self, X, inf: Inference, topk: int) -> sp.csr_matrix:
        return self.model.predict(X, topk=topk)

    def one(self, q, inf: Inference):
        idx, val = self._row(q)
        return self.model.predict_one(idx, val, topk=SINGLE_TOPK)

    def size(self) -> dict[str, float]:
        return weights_size(self.model, [self.model.weights_])

    def extra_metrics(self) -> dict[str, float]:
        return {"ovr_threshold": float(self.model.threshold)}


@register
class DualEncoderRunner(XMRRunner):
    name = "dual_encoder"
    params = DualEncoderParams
    kind = "neural"

    @staticmethod
    def model_class():
        from baselines.dual_encoder import DualEncoder

        return DualEncoder

    def fit(self, ds: XMRDataset) -> None:
        split = ds.splits["train"]
        if split.texts is None:
            raise ValueError("model=dual_encoder needs text inputs; this dataset is "
                             "pre-featurised (use xrlinear, ovr_linear or pecos)")
        stop_on, valid = self.parts.stop_on, ds.splits.get("valid")
        self.model = self.model_class()(**self.parts.params, seed=self.parts.seed,
                                        verbose=True).fit(
            split.texts, split.Y, label_texts=ds.label_texts,
            valid_fraction=0.1 if stop_on == "own" else 0.0,  # "own": 10% of the pairs
            valid=(valid.texts, valid.Y) if stop_on == "valid" else None,
            checkpoint=self.checkpoint_file())
        self.fit_time_s = float(self.model.fit_time_s_)

    def convergence(self) -> dict[str, float]:
        return convergence(self.model, "valid_recall_at_10")

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
    kind = "xmr"

    @classmethod
    def free_params(cls, parts: Parts) -> tuple[str, ...]:
        return ("beam_size",)

    @staticmethod
    def model_class():
        from baselines.pecos_peer import PecosXRLinear

        return PecosXRLinear

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
        # the peer times PECOS's predict with threads=1 (its single-query protocol)
        return {k: out[k] for k in LATENCY_KEYS} | {"latency_threads": 1}

    def size(self) -> dict[str, float]:
        return {"model_nnz": float(self.model.model_nnz_),
                "model_bytes": float(self.model.model_bytes_)}

    def tags(self) -> dict[str, str]:
        return {"latency_includes_featurization": "false"}


# ======================================================= query autocompletion (task=qac)
class QACRunner(Runner):
    """A QAC model: ``suggester(inf)`` answers ``suggest(prev_query, prefix)`` and
    ``suggest_batch(prev_queries, prefixes)`` with label strings, best first."""

    task = "qac"
    reads_training_matrix = True  # the run logs the size of qp2q's training matrix

    def suggester(self, inf: Inference, labels):
        """``labels``: the dataset's sorted label strings (label ``i`` = ``labels[i]``)."""
        raise NotImplementedError


@register
class QACXRLinearRunner(_XRLinear, QACRunner):
    """XR-Linear over (previous query ⊕ prefix) features, on any indexer (Table 2 rows)."""

    def fit(self, ds: QACDataset) -> None:
        t0 = time.perf_counter()
        # qp2q's training matrix: one row per distinct (previous query, prefix), Y multi-label
        with stage("training matrix"):
            prevs, prefixes, Y = ds.training_matrix("train")
        with stage("featurise"):
            self.feat = self.parts.featurizer.fit(prevs, prefixes)
            X = self.feat.transform(prevs, prefixes)
        emb = self.parts.label_embedding
        with stage("label embedding"):
            if emb == "pifa":
                Z = xmr.pifa(X, Y)
            elif emb == "char_tfidf":
                Z = self.feat.label_embedding(ds.labels)  # plain or position-weighted, as X
            else:  # the trie reads only the strings
                Z = None
        self.model = self._fit_model(X, Y, Z, labels=ds.labels)
        self.fit_time_s = time.perf_counter() - t0

    def suggester(self, inf: Inference, labels) -> QACSuggester:
        return QACSuggester(self.feat, self.model, labels, k=inf.n_suggestions,
                            beam_size=inf.beam_size, topk=inf.candidates,
                            empty_prev=inf.empty_prev,
                            post_processor=inf.post_processor,
                            skip_unmatched_prefix=inf.skip_unmatched_prefix)

    def tags(self) -> dict[str, str]:
        levels = self.model.tree_.level_sizes
        return {"tree_levels": str(levels[:4] + ["…"] + [levels[-1]]), **self.shard_tags()}


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
    reads_training_matrix = False  # counts the next queries only

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

    def size(self) -> dict[str, float]:
        """The counted queries (UTF-8) and their counts: what MPC keeps in memory."""
        m = self.model
        return {"model_bytes": float(sum(len(q.encode()) for q in m.labels_)
                                     + m.counts_.nbytes)}


class _SessionSuggester:
    """A session-aware baseline (``suggest(prev_query, prefix, *, k)``) behind the suggester
    surface, with the protocol's rule for an empty previous query (``empty_prev="none"``: no
    suggestion, as XMR's `QACSuggester`; ``"prefix"``: the model answers on the prefix)."""

    def __init__(self, model, k: int, empty_prev: str):
        self.model, self.k, self.empty_prev = model, k, empty_prev

    def suggest(self, prev_query: str, prefix: str) -> list[str]:
        if self.empty_prev == "none" and isinstance(prev_query, str) and not prev_query.strip():
            return []
        return self.model.suggest(prev_query, prefix, k=self.k)

    def suggest_batch(self, prev_queries, prefixes) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in prefixes]
        rows = [i for i, p in enumerate(prev_queries)
                if self.empty_prev != "none" or p.strip()]
        found = self.model.suggest_batch([prev_queries[i] for i in rows],
                                         [prefixes[i] for i in rows], k=self.k)
        for i, s in zip(rows, found, strict=True):
            out[i] = s
        return out


class _NeuralQACRunner(QACRunner):
    """What the torch QAC baselines share: no features, no indexer (they read the texts), the
    session suggester and the parameter bytes as `model_bytes`."""

    kind = "neural"

    def suggester(self, inf: Inference, labels) -> _SessionSuggester:
        return _SessionSuggester(self.model, inf.n_suggestions, inf.empty_prev)

    def size(self) -> dict[str, float]:
        return {"model_bytes": float(self.model.model_bytes_)}


@register
class QACSeq2SeqRunner(_NeuralQACRunner):
    """Generative seq2seq completer (`baselines.seq2seq`): early stopping on the valid split."""

    name = "seq2seq"
    params = Seq2SeqParams

    @staticmethod
    def model_class():
        from baselines.seq2seq import Seq2SeqCompleter

        return Seq2SeqCompleter

    def fit(self, ds: QACDataset) -> None:
        # "own" and "valid": the dataset's valid split (a search's: its validation rows)
        train, valid = ds.splits["train"], ds.splits.get("valid")
        self.model = self.model_class()(**self.parts.params, seed=self.parts.seed,
                                        verbose=True).fit(
            train.prev_queries, train.prefixes, train.next_queries,
            valid=None if valid is None or valid.n == 0 or self.parts.stop_on == "none"
            else (valid.prev_queries, valid.prefixes, valid.next_queries),
            checkpoint=self.checkpoint_file())
        self.fit_time_s = float(self.model.fit_time_s_)

    def convergence(self) -> dict[str, float]:
        return convergence(self.model, "valid_mrr_at_10")

    def tags(self) -> dict[str, str]:
        h = self.model.history_ or []
        return {"best_epoch": str(self.model.best_epoch_), "epochs_run": str(len(h)),
                "valid_mrr_at_10": str([r.get("valid_mrr_at_10") for r in h])}


@register
class QACDualEncoderRunner(_NeuralQACRunner):
    """The dual encoder as a QAC retriever (`baselines.dual_encoder.qac`): prefix-filtered
    cosine ranking of the training next queries."""

    name = "dual_encoder"
    params = DualEncoderParams  # the paper-1 dual encoder's, tuned there

    @staticmethod
    def model_class():
        from baselines.dual_encoder.qac import QACDualEncoder

        return QACDualEncoder

    @classmethod
    def check(cls, parts: Parts) -> None:
        from baselines.dual_encoder import DualEncoder

        DualEncoder(**parts.params, seed=parts.seed)._validate_params()

    def fit(self, ds: QACDataset) -> None:
        from baselines.dual_encoder import DualEncoder

        train, valid, stop_on = ds.splits["train"], ds.splits.get("valid"), self.parts.stop_on
        encoder = DualEncoder(**self.parts.params, seed=self.parts.seed, verbose=True)
        self.model = self.model_class()(encoder).fit(
            train.prev_queries, train.prefixes, train.next_queries,
            valid_fraction=0.1 if stop_on == "own" else 0.0,  # "own": 10% of the requests
            valid=(valid.prev_queries, valid.prefixes, valid.next_queries)
            if stop_on == "valid" else None, checkpoint=self.checkpoint_file())
        self.fit_time_s = float(self.model.fit_time_s_)

    def convergence(self) -> dict[str, float]:
        return convergence(self.model.encoder, "valid_recall_at_10")

    def tags(self) -> dict[str, str]:
        return {"best_epoch": str(self.model.encoder.best_epoch_)}


PLUGINS_ENV = "XMR_RUNNER_MODULES"  # comma-separated modules whose runners register too


def load_plugins() -> list[str]:
    """Import the modules named in ``$XMR_RUNNER_MODULES`` (e.g. ``mylab.runners``): a model
    kept outside this repository registers its runner like the ones above (its YAML goes in
    a config folder added with ``hydra.searchpath``). Returns the modules imported."""
    import importlib
    import os

    names = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(f"${PLUGINS_ENV} names {name!r}, which cannot be imported "
                              f"({exc}); put its folder on PYTHONPATH or fix the name") from exc
    return names


def runner_class(task: str, model: str) -> type[Runner]:
    known = RUNNERS.get(task, {})
    if model not in known:
        raise ValueError(f"model={model} is not a model of task={task}; known: "
                         f"{sorted(known)}")
    return known[model]


__all__ = ["Parts", "Inference", "Runner", "XMRRunner", "QACRunner", "RUNNERS", "register",
           "runner_class"]
