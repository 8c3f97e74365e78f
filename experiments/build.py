"""Config → library objects and plain values: the one place that reads the config nodes of a
model, so the runners (:mod:`experiments.models`) receive built objects and plain values."""

from __future__ import annotations

from dataclasses import fields

from omegaconf import DictConfig, OmegaConf

import xmr
from experiments.models import Inference, Parts, Runner
from experiments.models import runner_class as _runner_class
from xmr.features import TextFeaturizer
from xmr.qac import QACVectorizer

# hyperparameters that change how fast a model trains, never what it learns
VOLATILE = ("n_jobs", "n_threads", "device")


def _range(value) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def featurizer(cfg: DictConfig) -> TextFeaturizer:
    f = cfg.features
    if "use_prefix" in f:
        raise ValueError(f"task=xmr needs a text feature set (features=all, word1, word123 or "
                         f"char3), got features={f.name}")
    return TextFeaturizer(word_ngram_range=_range(f.word_ngram_range),
                          char_ngram_range=_range(f.char_ngram_range), min_df=f.min_df,
                          max_features=f.max_features, sublinear_tf=f.sublinear_tf)


def qac_vectorizer(cfg: DictConfig) -> QACVectorizer:
    f = cfg.features
    if "use_prefix" not in f:
        raise ValueError(f"task=qac needs a QAC feature set (features=qac_pos, qac_plain or "
                         f"qac_prev_only), got features={f.name}")
    return QACVectorizer(prefix_weighting=f.prefix_weighting,
                         char_ngram_range=_range(f.char_ngram_range), min_df=f.min_df,
                         use_prefix=f.use_prefix)


def indexer_params(cfg: DictConfig) -> dict[str, object]:
    """The fields of the chosen indexer's ``Params`` dataclass: all that reaches it."""
    name = cfg.indexer.name
    if name not in xmr.INDEXERS:
        raise ValueError(f"unknown indexer {name!r}; known: {sorted(xmr.INDEXERS)}")
    return {f.name: cfg.indexer[f.name] for f in fields(xmr.INDEXERS[name].Params)}


def indexer(cfg: DictConfig):
    """The (not yet built) indexer of ``cfg.indexer``, through :data:`xmr.INDEXERS`."""
    n_jobs = OmegaConf.select(cfg, "model.n_jobs", default=-1)
    return xmr.INDEXERS[cfg.indexer.name](**indexer_params(cfg), seed=cfg.seed, n_jobs=n_jobs)


def label_embedding(cfg: DictConfig) -> str | None:
    """``indexer.label_embedding``, checked; None for the trie (it reads only the strings)."""
    if cfg.indexer.name == "trie":
        return None
    value = cfg.indexer.label_embedding
    if value not in ("pifa", "char_tfidf"):
        raise ValueError(f"indexer.label_embedding must be 'pifa' or 'char_tfidf', got "
                         f"{value!r}")
    return value


def model_params(cfg: DictConfig) -> dict[str, object]:
    """The model's hyperparameters as plain values: its config node without ``name`` and
    ``train_threshold`` (see :func:`train_threshold`)."""
    params = OmegaConf.to_container(cfg.model, resolve=True)
    params.pop("name")
    params.pop("train_threshold", None)
    return params


def train_threshold(cfg: DictConfig) -> float:
    """The level the model is trained at: the sweep's shared ``train_threshold`` if set."""
    m = cfg.model
    if m.train_threshold is None:
        return float(m.threshold)
    if m.train_threshold > m.threshold:
        raise ValueError(f"model.train_threshold ({m.train_threshold}) must be <= "
                         f"model.threshold ({m.threshold}): pruning only removes weights")
    return float(m.train_threshold)


def training_key(cfg: DictConfig, dataset_key: str) -> dict:
    """What determines a trained model: data, seed, the model's training parameters (never
    ``n_jobs``-like settings, never the pruning threshold of a prunable model, which
    re-prunes, never a prediction setting), and the features and indexer parameters only
    where the model uses them."""
    cls = runner_class(cfg)
    model = {"name": cfg.model.name, **model_params(cfg)}
    if cls.prunable:  # trained at train_threshold, re-pruned to each run's threshold
        model["threshold"] = train_threshold(cfg)
    for volatile in VOLATILE:
        model.pop(volatile, None)
    key = {"task": cfg.task, "dataset": dataset_key, "model": model, "seed": cfg.seed}
    if "features" in cls.inputs:
        key["features"] = OmegaConf.to_container(cfg.features, resolve=True)
    if "indexer" in cls.inputs:
        key["indexer"] = {"name": cfg.indexer.name, **indexer_params(cfg),
                          "label_embedding": label_embedding(cfg)}
    return key


def runner_class(cfg: DictConfig) -> type[Runner]:
    """The runner of ``model=`` under ``task=`` (:data:`experiments.models.RUNNERS`)."""
    return _runner_class(cfg.task, cfg.model.name)


def parts(cfg: DictConfig) -> Parts:
    """What the runner of ``cfg`` is built from; only the inputs it declares are built."""
    cls = runner_class(cfg)
    out = Parts(params=model_params(cfg), seed=int(cfg.seed))
    if "features" in cls.inputs:
        from experiments.tasks import get_task  # the task table builds on this module

        out.featurizer = get_task(cfg).featurizer(cfg)
    if "indexer" in cls.inputs:
        out.indexer = indexer(cfg)
        out.label_embedding = label_embedding(cfg)
    if cls.prunable:
        out.train_threshold = train_threshold(cfg)
    return out


def runner(cfg: DictConfig) -> Runner:
    """An untrained runner of ``cfg`` (config errors surface here, before any data)."""
    return runner_class(cfg)(parts(cfg))


def inference(cfg: DictConfig) -> Inference:
    """The prediction settings of the run (plain values). QAC asks the beam search for
    ``beam_size × indexer.max_leaf_size`` candidates (the paper's 10 × 100) before the
    prefix filter."""
    ev = cfg.eval
    return Inference(beam_size=int(ev.beam_size), post_processor=ev.post_processor,
                     n_suggestions=int(ev.n_suggestions),
                     candidates=int(ev.beam_size) * int(cfg.indexer.max_leaf_size),
                     empty_prev=ev.empty_prev)
