"""The value ranges of a composed config, checked by the library's own validators (one
definition of each range: the estimators' ``validate_params`` / ``_validate_params``), so a
value the library would refuse (``indexer.nr_splits=3``, ``seed=-1``, ``eval.topk=0``) is
refused before a sweep starts (:mod:`experiments.overrides`) and at the start of each job,
with the config key in the message, instead of failing deep inside a job.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from omegaconf import DictConfig

from xmr._validation import check_choice, check_int, check_seed

TASKS = ("xmr", "qac")
EMPTY_PREV = ("none", "prefix")


class ConfigValueError(ValueError):
    """Config values outside the ranges the library accepts; lists every problem."""


def _model_checks(cfg: DictConfig) -> Callable[[], None] | None:
    m = cfg.model
    name = m.name
    if name in ("xrlinear", "pecos"):
        from experiments.build import train_threshold
        from xmr.model import validate_params

        def check():
            validate_params(_xrlinear_params(cfg))
            if m.train_threshold is not None:
                validate_params(SimpleNamespace(**{**vars(_xrlinear_params(cfg)),
                                                   "threshold": m.train_threshold}))
            train_threshold(cfg)
        return check
    if name == "ovr_linear":
        def check():
            from baselines.ovr_linear import OVRLinear

            OVRLinear(threshold=m.threshold, Cp=m.Cp, Cn=m.Cn, eps=m.eps, max_iter=m.max_iter,
                      bias=m.bias, seed=0, n_jobs=m.n_jobs)._validate_params()
        return check
    if name == "dual_encoder":
        def check():
            from baselines.dual_encoder import DualEncoder

            DualEncoder(dim=m.dim, hidden=m.hidden, n_buckets=m.n_buckets,
                        temperature=m.temperature, lr=m.lr, batch_size=m.batch_size,
                        epochs=m.epochs, patience=m.patience, hard_negatives=m.hard_negatives,
                        seed=0, device=m.device, n_threads=m.n_threads
                        )._validate_params()
        return check
    return None


def _xrlinear_params(cfg: DictConfig) -> SimpleNamespace:
    """XR-Linear's hyperparameters as its ``validate_params`` reads them; the tree shape
    and the seed are checked by the indexer and seed groups (valid placeholders here, so one
    bad value there does not hide a bad model value)."""
    m = cfg.model
    return SimpleNamespace(
        nr_splits=2, max_leaf_size=2, threshold=m.threshold, Cp=m.Cp, Cn=m.Cn, eps=m.eps,
        max_iter=m.max_iter, bias=m.bias, negative_sampling=m.negative_sampling, seed=0,
        n_jobs=m.n_jobs, allow_empty=True, verbose=True)


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
        ("model", _model_checks(cfg)),
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

