"""Config → library objects. The one place that maps config fields to constructor arguments."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

import xmr
from xmr.features import PerOrderFeaturizer, TextFeaturizer

FEATURE_BLOCKS = {"type": TextFeaturizer, "order": PerOrderFeaturizer}


def _range(value) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def featurizer(cfg: DictConfig) -> TextFeaturizer | PerOrderFeaturizer:
    f = cfg.features
    if f.blocks not in FEATURE_BLOCKS:
        raise ValueError(f"features.blocks must be one of {sorted(FEATURE_BLOCKS)}, got "
                         f"{f.blocks!r}")
    return FEATURE_BLOCKS[f.blocks](word_ngram_range=_range(f.word_ngram_range),
                                    char_ngram_range=_range(f.char_ngram_range),
                                    min_df=f.min_df, max_features=f.max_features,
                                    sublinear_tf=f.sublinear_tf)


def train_threshold(cfg: DictConfig) -> float:
    """The level the model is trained at: the sweep's shared ``train_threshold`` if set,
    except with matcher-aware negatives (``negative_sampling=man``): their pools come from a
    beam search over the already pruned upper levels, so a re-pruned ``man`` model is not the
    model trained at that threshold; it trains at the run's own ``threshold`` (and the
    training cache keys on it)."""
    m = cfg.model
    if m.train_threshold is None or m.get("negative_sampling") == "man":
        return float(m.threshold)
    if m.train_threshold > m.threshold:
        raise ValueError(f"model.train_threshold ({m.train_threshold}) must be <= "
                         f"model.threshold ({m.threshold}): pruning only removes weights")
    return float(m.train_threshold)


def xrlinear(cfg: DictConfig) -> xmr.XRLinear:
    m, ix = cfg.model, cfg.indexer
    if ix.name != "hkmeans":
        raise ValueError(f"indexer {ix.name!r} is not available for XR-Linear yet; known: "
                         f"{sorted(xmr.INDEXERS)}")
    if ix.label_embedding != "pifa":
        raise ValueError(f"indexer.label_embedding must be 'pifa' for now, got "
                         f"{ix.label_embedding!r}")
    return xmr.XRLinear(nr_splits=ix.nr_splits, max_leaf_size=ix.max_leaf_size,
                        threshold=train_threshold(cfg), Cp=m.Cp, Cn=m.Cn, eps=m.eps,
                        max_iter=m.max_iter, bias=m.bias,
                        negative_sampling=m.negative_sampling, seed=cfg.seed,
                        n_jobs=m.n_jobs, allow_empty=True, verbose=True)


def training_key(cfg: DictConfig, dataset_key: str) -> dict:
    """What determines a trained model: data, features, indexer, training params (for
    XR-Linear not the pruning threshold of the run, which re-prunes; never a prediction
    setting)."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    if cfg.model.name == "xrlinear":
        model.pop("threshold")
        model["train_threshold"] = train_threshold(cfg)
    for volatile in ("n_jobs", "n_threads", "device"):  # results do not depend on them
        model.pop(volatile, None)
    return {"dataset": dataset_key, "features": OmegaConf.to_container(cfg.features),
            "indexer": OmegaConf.to_container(cfg.indexer), "model": model, "seed": cfg.seed}
