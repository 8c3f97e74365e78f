"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML option in ``conf/<group>/`` starts from its schema (``defaults: [/schema/<group>/
<name>@_here_]``), so a misspelt key fails at composition instead of being silently ignored.
The loader settings reuse the library's own config dataclasses: each hyperparameter lives in
one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from baselines.ovr_linear import THRESHOLD_CANDIDATES
from xmr.datasets.registry import DATASETS


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


# ------------------------------------------------------------------------- indexer
@dataclass
class IndexerConfig:
    name: str = MISSING  # key of xmr.indexers.INDEXERS
    nr_splits: int = 16  # tree out-degree B (power of two)
    max_leaf_size: int = 100  # labels per leaf cluster at most
    max_iter: int = 20  # 2-means rounds per split
    label_embedding: str = "pifa"  # "pifa", or "char_tfidf" (QAC: the prefix vectorizer of
    # the features group applied to the label strings)
    depth: int = 16  # trie: character depth of the leaf clusters
    trie_depth: int = 1  # hybrid: character depth of the trie part
    prefix_len: int = 5  # mustlink: constrained levels (level l: same first l + 1 characters)


# --------------------------------------------------------------------------- model
@dataclass
class ModelConfig:
    name: str = MISSING  # "xrlinear" (baselines join with their issue)
    threshold: float = 0.1  # weight pruning level of this run
    train_threshold: float | None = None  # train once at this (smaller) level and re-prune
    # to `threshold` (sweeps share one training); None = train at `threshold`
    Cp: float = 1.0  # SVM cost of positives
    Cn: float = 1.0  # SVM cost of negatives
    eps: float = 0.1  # dual CD tolerance
    max_iter: int = 100  # dual CD passes at most
    bias: float = 1.0  # constant feature value (0 = no bias)
    negative_sampling: str = "tfn"  # "tfn" or "man"
    n_jobs: int = -1  # training/batch threads (-1 = all cores)


@dataclass
class OVRConfig:
    name: str = "ovr_linear"  # sparse one-vs-rest linear (DiSMEC-style) baseline
    threshold: float | None = None  # weight pruning after each per-label solve; None =
    # chosen on held-out training rows among threshold_candidates (its own best)
    threshold_candidates: list[float] = field(
        default_factory=lambda: list(THRESHOLD_CANDIDATES))  # tried when threshold is None
    valid_fraction: float = 0.1  # training rows held out to choose the threshold
    Cp: float = 1.0  # SVM cost of positives
    Cn: float = 1.0  # SVM cost of negatives
    eps: float = 0.1  # dual CD tolerance
    max_iter: int = 100  # dual CD passes at most
    bias: float = 1.0  # constant feature value
    n_jobs: int = -1  # threads (-1 = all cores)


@dataclass
class DualEncoderConfig:
    name: str = "dual_encoder"  # torch two-tower DSSM-like baseline
    dim: int = 256  # n-gram embedding / output size (tuned: dim is the biggest lever)
    hidden: int = 256  # tower MLP hidden width
    n_buckets: int = 262144  # n-gram hash buckets (2^18)
    temperature: float = 0.1  # InfoNCE temperature (tuned: best at every size)
    lr: float = 0.001  # Adam learning rate
    batch_size: int = 256  # pairs per step (the batch's other labels are the negatives)
    epochs: int = 10  # passes at most
    patience: int = 2  # early stopping on validation recall@10
    hard_negatives: int = 0  # mined hard negatives per pair
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
    n_threads: int | None = None  # torch CPU threads (None = torch's default)


@dataclass
class MPCConfig:
    name: str = "mpc"  # most-popular completion (QAC baseline): no parameters


# ---------------------------------------------------------------------------- eval
@dataclass
class EvalConfig:
    beam_size: int = 10  # beam width at prediction
    topk: int = 100  # labels kept per query (recall@100 needs 100)
    post_processor: str = "l3-hinge"  # score transform/combiner of the beam search
    latency_min_queries: int = 1000  # timed single queries at least (all test queries if more)
    latency_max_queries: int = 5000  # ... and at most (cycles through the test set)
    latency_warmup: int = 100  # untimed queries first
    n_prediction_samples: int = 20  # test rows written to predictions_sample.json
    n_suggestions: int = 10  # QAC: suggestions per request
    empty_prev: str = "none"  # QAC: an empty previous query gets "none" (paper) or "prefix"
    skip_unmatched_prefix: bool = False  # QAC: answer [] without predicting when no label
    # starts with the prefix (off: every request is vectorised and predicted, as qp2q)


# -------------------------------------------------------------------------- logger
@dataclass
class LoggerConfig:
    name: str = MISSING  # "mlflow" or "none"
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else sqlite under log_dir
    experiment_name: str = "xmr-harness"  # MLflow experiment
    skip_finished: bool = True  # skip grid points with a FINISHED run of the same config
    run_name: str | None = None  # None: built from the data/model/grid values


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
    model: Any = MISSING  # ModelConfig (xrlinear, pecos), OVRConfig, DualEncoderConfig, MPCConfig
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)
    experiment_name: str | None = None  # preset name (a tag on every run)
    seed: int = 0  # seeds the indexer and the solver
    task: str = "xmr"  # "xmr" (product retrieval) or "qac" (autocompletion)
    qac_row: str | None = None  # QAC Table 2 configuration name (set by conf/qac/*)


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    for loader in DATASETS:
        cs.store(group="schema/data", name=loader, node=_data_schema(loader))
    cs.store(group="schema/features", name="features", node=FeaturesConfig)
    cs.store(group="schema/features", name="qac", node=QACFeaturesConfig)
    cs.store(group="schema/indexer", name="indexer", node=IndexerConfig)
    cs.store(group="schema/model", name="xrlinear", node=ModelConfig)
    cs.store(group="schema/model", name="mpc", node=MPCConfig)
    cs.store(group="schema/model", name="ovr_linear", node=OVRConfig)
    cs.store(group="schema/model", name="dual_encoder", node=DualEncoderConfig)
    cs.store(group="schema/eval", name="eval", node=EvalConfig)
    cs.store(group="schema/logger", name="logger", node=LoggerConfig)
    cs.store(group="schema/paths", name="paths", node=PathsConfig)
