"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML option in ``conf/<group>/`` starts from its schema (``defaults: [/schema/<group>/
<name>@_here_]``), so a misspelt key fails at composition instead of being silently ignored.
The loader settings, the indexers' and the models' parameters reuse the library's own
dataclasses (the loaders' config classes, :mod:`xmr.params`): each hyperparameter and its
default live in one place, and the YAML files hold only what differs from it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields, make_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from xmr.datasets.registry import DATASETS
from xmr.params import (
    PREDICT,
    HybridParams,
    KMeansParams,
    MustLinkParams,
    TrieParams,
)


# ---------------------------------------------------------------------------- data
@dataclass
class DataConfig:
    name: str = MISSING  # dataset name, used for caching and run names
    loader: str = MISSING  # key of xmr.datasets.registry.DATASETS
    options: Any = MISSING  # the loader's own config dataclass (typed per dataset below)


def _data_schema(loader: str) -> type:
    """A DataConfig subclass whose ``options`` is typed by the loader's config class."""
    cls = DATASETS[loader].config_class()
    return dataclass(type(f"Data_{loader}", (DataConfig,), {
        "__annotations__": {"options": cls},
        "options": field(default_factory=cls),
    }))


# ------------------------------------------------------------------------ features
@dataclass
class FeaturesConfig:
    name: str = MISSING
    word_ngram_range: list[int] | None = field(default_factory=lambda: [1, 3])  # None = off
    char_ngram_range: list[int] | None = field(default_factory=lambda: [3, 3])  # None = off
    min_df: int = 1  # drop n-grams seen in fewer training texts
    max_features: int | None = None  # keep only the most frequent n-grams per block
    sublinear_tf: bool = False  # 1 + ln(tf) instead of tf
    blocks: str = "type"  # "type": one l2 block per type (word n-grams, char n-grams);
    # "order": PECOS's one vectorizer per n-gram order, each normalised (PerOrderFeaturizer)


@dataclass
class QACFeaturesConfig:
    name: str = MISSING
    use_prefix: bool = True  # False: previous query only (Table 2 rows 0-1)
    prefix_weighting: str = "position"  # "position" (1/(p+1)) or "plain" char TF-IDF
    char_ngram_range: list[int] = field(default_factory=lambda: [1, 3])  # prefix n-grams
    min_df: int = 1  # drop n-grams seen in fewer training examples
    idf: str = "pecos"  # "pecos" max(ln(N/(df+1)), 0) or "sklearn" ln((1+N)/(1+df)) + 1 (qp2q)


# ---------------------------------------------------- indexers and models: xmr.params
def _with_params(name: str, doc: str, params: tuple[type, ...], *, first: list | None = None,
                 last: list | None = None) -> type:
    """A schema dataclass: the ``first`` fields, then every field of the library's
    ``params`` dataclasses (their types and defaults, not copied by hand), then ``last``."""
    own: dict[str, tuple] = {}
    for cls in params:
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            own[f.name] = (f.name, hints[f.name], field(default=f.default))
    schema = make_dataclass(name, [*(first or []), *own.values(), *(last or [])])
    schema.__doc__ = doc
    schema.__module__ = __name__
    return schema


IndexerConfig = _with_params(
    "IndexerConfig",
    """Every indexer's parameters (their library ``Params`` dataclasses) in one group, so the
    QAC presets can set the k-means ones once for every row; only the fields of the chosen
    indexer's ``Params`` reach it and enter the training key (`experiments.spec`).""",
    (KMeansParams, HybridParams, MustLinkParams, TrieParams),
    first=[("name", str, field(default=MISSING))],  # key of xmr.indexers.INDEXERS
    # "pifa", or "char_tfidf" (QAC: the prefix vectorizer of the features group applied to
    # the label strings); not read by an indexer of the strings alone (reads_embedding: trie)
    last=[("label_embedding", str, field(default="pifa"))])

def model_schemas() -> dict[str, type]:
    """``schema/model/<name>`` of every registered runner (:data:`experiments.models.RUNNERS`):
    ``name``, the fields of its ``params`` dataclass, and ``train_threshold`` for a prunable
    model. A model name shared by two tasks must have the same parameters."""
    from experiments.models import RUNNERS, load_plugins

    load_plugins()

    out: dict[str, type] = {}
    for runners in RUNNERS.values():
        for name, cls in runners.items():
            last = [("train_threshold", float | None, field(default=None))] if cls.prunable \
                else []
            # train_threshold: train once at this (smaller) level and re-prune to `threshold`
            # (sweeps share one training); None = train at `threshold`
            schema = _with_params(f"Model_{name}", (cls.__doc__ or "").strip(),
                                  (cls.params,) if cls.params is not None else (),
                                  first=[("name", str, field(default=name))], last=last)
            if name in out and [f.name for f in fields(out[name])] != \
                    [f.name for f in fields(schema)]:
                raise TypeError(f"model {name!r} has different parameters in two tasks")
            out.setdefault(name, schema)
    return out


MODEL_SCHEMAS = model_schemas()


# ---------------------------------------------------------------------------- eval
@dataclass
class EvalConfig:
    beam_size: int = PREDICT.beam_size  # beam width at prediction (xmr.params.PredictParams)
    topk: int = 100  # labels kept per query (recall@100 needs 100; the library's default: 10)
    post_processor: str = PREDICT.post_processor  # how the beam search combines scores
    latency_min_queries: int = 1000  # timed single queries at least (all test queries if more)
    latency_max_queries: int = 5000  # ... and at most (cycles through the test set)
    latency_warmup: int = 100  # untimed queries first
    n_prediction_samples: int = 20  # test rows written to predictions_sample.json
    n_suggestions: int = 10  # QAC: suggestions per request
    empty_prev: str = "none"  # QAC: an empty previous query gets "none" (paper) or "prefix"
    skip_unmatched_prefix: bool = False  # QAC: answer [] without predicting when no label
    # starts with the prefix (off: every request is vectorised and predicted, as qp2q)


# ---------------------------------------------------------------------------- tune
@dataclass
class ModelTuneConfig:
    """One model's search (experiments.tuning)."""

    space: dict[str, list[Any]] = field(default_factory=dict)  # parameter → values tried:
    # the model's parameters, "features" (feature-set names of conf/features), "beam_size"
    trials: int | None = None  # at most this many grid points (seeded random subset)
    seconds: float | None = None  # no trial starts after this many seconds
    metric: str | None = None  # selected by on validation; None: the task's headline


@dataclass
class TuneConfig:
    """Tuning of a comparison's models: each model's search space and budget, one
    validation split for all of them (no ``models`` entry, the default: every model at its
    configured values, OVR's ``threshold: null`` aside). On the command line:
    ``+tune.models.xrlinear.space.threshold=[0.01,0.1]``."""

    valid_fraction: float = 0.1  # training rows held out (seeded by the run's seed)
    models: dict[str, Any] = field(default_factory=dict)  # model name → its
    # ModelTuneConfig (checked by experiments.spec.resolve: a typed dict of dataclasses
    # would refuse the command line's +tune.models.<model>={space: ...})


# -------------------------------------------------------------------------- logger
@dataclass
class LoggerConfig:
    name: str = MISSING  # "mlflow" or "none"
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else sqlite under log_dir
    experiment_name: str | None = None  # MLflow experiment; None: the preset's name (one
    # experiment per comparison), else "xmr-harness"
    skip_finished: bool = True  # skip grid points with a FINISHED run of the same config
    run_name: str | None = None  # None: built from the data/model/grid values
    system_metrics: bool = False  # MLflow's system metrics (CPU, memory) per run (psutil)
    system_metrics_interval_s: float = 10.0  # ... sampled every this many seconds


# --------------------------------------------------------------------------- paths
@dataclass
class PathsConfig:
    root_dir: str = "."  # project root (relative paths are resolved from the launch folder)
    data_dir: str = "./data"  # real datasets (env XMR_DATA_DIR overrides in conf)
    cache_dir: str = "./.cache/xmr"  # prepared datasets and trained models
    log_dir: str = "./logs"  # MLflow store (mlflow.db, mlruns/) and Hydra outputs
    output_dir: str = "."  # this job's output folder (set from Hydra's runtime)


# -------------------------------------------------------------------------- top level
@dataclass
class Config:
    data: Any = MISSING
    features: Any = MISSING  # FeaturesConfig (text) or QACFeaturesConfig
    indexer: IndexerConfig = MISSING
    model: Any = MISSING  # one of MODEL_SCHEMAS (generated from the runners)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)
    experiment_name: str | None = None  # preset name (a tag on every run)
    seed: int = 0  # seeds the indexer and the solver
    task: str = "xmr"  # "xmr" (product retrieval) or "qac" (autocompletion)
    qac_row: str | None = None  # QAC Table 2 configuration name (set by conf/qac/*)
    tune: TuneConfig = field(default_factory=TuneConfig)  # the models' searches
    # (experiments.tuning); no entry for a model: trained at its configured values


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    for loader in DATASETS:
        cs.store(group="schema/data", name=loader, node=_data_schema(loader))
    cs.store(group="schema/features", name="features", node=FeaturesConfig)
    cs.store(group="schema/features", name="qac", node=QACFeaturesConfig)
    cs.store(group="schema/indexer", name="indexer", node=IndexerConfig)
    for name, node in MODEL_SCHEMAS.items():
        cs.store(group="schema/model", name=name, node=node)
    cs.store(group="schema/eval", name="eval", node=EvalConfig)
    cs.store(group="schema/logger", name="logger", node=LoggerConfig)
    cs.store(group="schema/paths", name="paths", node=PathsConfig)
