"""The value ranges of a composed config, checked by the library's own validators (one
definition of each range: the estimators' ``validate_params`` / ``_validate_params``), so a
value the library would refuse (``indexer.nr_splits=3``, ``seed=-1``, ``eval.topk=0``) is
refused before a sweep starts (:mod:`experiments.overrides`) and at the start of each job,
with the config key in the message, instead of failing deep inside a job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace

from omegaconf import DictConfig, OmegaConf

from xmr._validation import check_choice, check_int, check_seed

log = logging.getLogger(__name__)
TASKS = ("xmr", "qac")
EMPTY_PREV = ("none", "prefix")


class ConfigValueError(ValueError):
    """Config values outside the ranges the library accepts; lists every problem."""


def _model_check(cfg: DictConfig) -> None:
    """The model's own validator on its config values (``build.model_params``)."""
    from experiments import build

    name = cfg.model.name
    params = build.model_params(cfg)
    if name in ("xrlinear", "pecos"):
        from xmr.model import validate_params

        validate_params(SimpleNamespace(**{**XR_PLACEHOLDERS, **params}))
        train_threshold = OmegaConf.select(cfg, "model.train_threshold", default=None)
        if train_threshold is not None:
            validate_params(SimpleNamespace(**{**XR_PLACEHOLDERS, **params,
                                               "threshold": train_threshold}))
            build.train_threshold(cfg)
    elif name == "ovr_linear":
        from baselines.ovr_linear import OVRLinear

        # threshold null = chosen among threshold_candidates on valid_fraction of the rows
        # (experiments.models.OVRRunner): every value it may train at must be valid
        candidates = list(params.pop("threshold_candidates", ()))
        fraction = params.pop("valid_fraction", None)
        threshold = params.pop("threshold", None)
        if threshold is None and fraction is not None and not 0.0 < fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {fraction}")
        if threshold is None and not candidates:
            raise ValueError("threshold is null (chosen on validation) but "
                             "threshold_candidates is empty")
        for value in [threshold] if threshold is not None else candidates:
            OVRLinear(**params, threshold=value, seed=0)._validate_params()
    elif name == "dual_encoder":
        from baselines.dual_encoder import DualEncoder

        DualEncoder(**params, seed=0)._validate_params()


# XR-Linear's tree shape and seed are checked by the indexer and seed groups: valid
# placeholders here, so one bad value there does not hide a bad model value
XR_PLACEHOLDERS = {"nr_splits": 2, "max_leaf_size": 2, "seed": 0}


def _features_check(cfg: DictConfig) -> Callable[[], None] | None:
    if "word_ngram_range" not in cfg.features:  # QAC vectorizers check their own
        return None

    def check():
        from experiments.build import featurizer

        featurizer(cfg)._validated_params()
    return check


def _eval_check(cfg: DictConfig) -> None:
    ev = cfg.eval
    check_int("beam_size", ev.beam_size, minimum=1)
    check_int("topk", ev.topk, minimum=1)
    check_int("latency_min_queries", ev.latency_min_queries, minimum=1)
    check_int("latency_max_queries", ev.latency_max_queries, minimum=ev.latency_min_queries)
    check_int("latency_warmup", ev.latency_warmup, minimum=0)
    check_int("n_prediction_samples", ev.n_prediction_samples, minimum=0)
    check_int("n_suggestions", ev.n_suggestions, minimum=1)
    check_choice("empty_prev", ev.empty_prev, EMPTY_PREV)


def _indexer_check(cfg: DictConfig) -> None:
    """The chosen indexer's own ``validate()`` on the config's values (those its
    constructor takes)."""
    import inspect

    import xmr

    ix = cfg.indexer
    if ix.name not in xmr.INDEXERS:
        raise ValueError(f"unknown indexer {ix.name!r}; known: {sorted(xmr.INDEXERS)}")
    cls = xmr.INDEXERS[ix.name]
    accepted = inspect.signature(cls).parameters
    kwargs = {k: ix[k] for k in ix if k in accepted and k not in ("seed", "n_jobs")}
    cls(**kwargs).validate()


def config_problems(cfg: DictConfig) -> list[str]:
    """Every value of ``cfg`` outside what the library accepts, as "<group>: <message>"."""
    checks: list[tuple[str, Callable[[], object] | None]] = [
        ("seed", lambda: check_seed("seed", cfg.seed)),
        ("task", lambda: check_choice("task", cfg.task, TASKS)),
        ("eval", lambda: _eval_check(cfg)),
        ("indexer", lambda: _indexer_check(cfg)),
        ("model", lambda: _model_check(cfg)),
        ("features", _features_check(cfg)),
    ]
    problems = []
    for group, check in checks:
        if check is None:
            continue
        try:
            check()
        except (TypeError, ValueError) as exc:  # the model re-checks seed and tree shape
            if not any(p.endswith(f": {exc}") for p in problems):
                problems.append(f"{group}: {exc}")
        except Exception:  # noqa: BLE001 - a config shape this checker does not know:
            log.debug("config check of %s skipped", group, exc_info=True)  # the job decides
    return problems


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigValueError` listing every out-of-range value of ``cfg``."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigValueError("config values out of range:\n  " + "\n  ".join(problems))


def sweep_points(base: dict[str, list[str]]) -> list[dict[str, str]]:
    """One override set per swept value (the other keys at their first value): every value
    gets checked without enumerating the whole grid."""
    first = {k: v[0] for k, v in base.items()}
    points = [first]
    for key, values in base.items():
        points += [{**first, key: v} for v in values[1:]]
    return points

