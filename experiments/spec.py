"""A job's config, resolved once: :func:`resolve` turns a composed config into a frozen
:class:`JobSpec` (the task, the runner class and the parts it is built from, the prediction
settings, the training key, the data to load, the grid point's name) and is the only place
that reads a job's config nodes. Every out-of-range value of a grid point is reported in one
:class:`ConfigValueError`, checked by the library's own validators (each runner's
:meth:`~experiments.models.Runner.check`, the indexers' ``validate``, the featurizers'), so a
value the library would refuse (``indexer.nr_splits=3``, ``seed=-1``, ``eval.topk=0``) fails
before a sweep starts (:mod:`experiments.overrides`) and before any data is loaded.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

import xmr
from experiments import shards
from experiments.datacache import config_hash
from experiments.models import Inference, Parts, Runner, runner_class
from experiments.tasks import Task, get_task
from xmr._validation import check_choice, check_float, check_int, check_seed
from xmr.datasets.registry import get_dataset

log = logging.getLogger(__name__)
EMPTY_PREV = ("none", "prefix")
LABEL_EMBEDDINGS = ("pifa", "char_tfidf")  # indexer.label_embedding
# hyperparameters that change how fast (or where) a model trains, never what it learns
# (sharded training gives the same weights)
VOLATILE = ("n_jobs", "n_threads", "device", "shards", "shard_workers")
FEATURE_KEY = "features"  # a search space's key for feature-set names


class ConfigValueError(ValueError):
    """Config values outside the ranges the library accepts; lists every problem."""


@dataclass(frozen=True)
class DataSpec:
    """What to load: the dataset's name, its loader and the loader's options."""

    name: str
    loader: str
    options: Any  # the loader's own config object
    options_dict: dict  # the same, as plain values (the dataset cache's key)
    data_dir: str
    cache_dir: str


@dataclass(frozen=True)
class TrackingSpec:
    """How the job is tracked (``logger``): None of it changes what the job computes."""

    enabled: bool  # logger=mlflow
    uri: str | None  # logger.tracking_uri (None: $MLFLOW_TRACKING_URI, else SQLite in log_dir)
    experiment: str  # the MLflow experiment: logger.experiment_name, else the preset's name
    preset: str | None  # experiment_name (the preset), a tag on every run
    log_dir: str
    skip_finished: bool
    system_metrics: bool
    system_metrics_interval_s: float


DEFAULT_EXPERIMENT = "xmr-harness"  # runs without a preset (and every run of older stores)


def experiment_name(cfg: DictConfig) -> str:
    """``logger.experiment_name``, else the preset's name (one MLflow experiment per
    comparison), else ``xmr-harness``."""
    return (cfg.logger.get("experiment_name") or cfg.get("experiment_name")
            or DEFAULT_EXPERIMENT)


@dataclass(frozen=True)
class TuningSpec:
    """A model's search (``tune`` of the preset, :mod:`experiments.tuning`): the values tried
    per parameter, the budget, the metric selected on and the validation split's share of
    the training rows (the same for every model of the comparison)."""

    space: dict[str, tuple]  # parameter → values tried, in order (model parameters,
    # "features": feature-set names, "beam_size"); ties go to the earlier value
    trials: int | None  # at most this many grid points (a seeded random subset); None: all
    seconds: float | None  # no trial starts after this many seconds; None: no limit
    metric: str  # selected by, on the validation split (higher is better)
    valid_fraction: float  # training rows held out (seeded by the run's seed)
    feature_sets: dict[str, tuple[Any, dict]]  # "features" values → (unfitted featurizer,
    # the feature set's config as plain values: the training key's "features")


@dataclass(frozen=True)
class JobSpec:
    """One grid point, resolved: everything a job needs, as library objects and plain values."""

    task: Task
    runner_cls: type[Runner]
    parts: Parts  # what the runner is built from (unfitted featurizer, unbuilt indexer, ...)
    inference: Inference  # the prediction settings
    eval: Any  # experiments.schema.EvalConfig: top-k, the latency protocol, samples
    threshold: float | None  # the run's pruning threshold (prunable models re-prune to it)
    model_key: dict  # what determines the trained model, the dataset aside
    data: DataSpec
    point: str  # the grid point in one line (the job's log lines)
    run_name: str  # the MLflow run name
    description: str  # the grid point in words (the MLflow run description)
    tags: dict[str, str]  # the task's and the model's run tags
    config_hash: str  # identifies the grid point (not where it writes or how it is tracked)
    params: dict[str, object]  # the flat resolved config (MLflow params)
    tracking: TrackingSpec
    names: dict[str, str]  # data, model, task and preset names (run tags)
    tuning: TuningSpec | None = None  # the model's search before training (None: trained at
    # the configured values)

    def runner(self) -> Runner:
        """An untrained runner of this grid point."""
        return self.runner_cls(self.parts)

    def training_key(self, dataset_key: str) -> dict:
        """What determines the trained model: the dataset (the card's content key) and
        :attr:`model_key`."""
        return {"dataset": dataset_key, **self.model_key}


def _resolved_without(cfg: DictConfig, *keys: str) -> dict:
    """The resolved config as plain values, without the top-level ``keys`` (dropped before
    resolving: ``paths.output_dir`` resolves only inside a Hydra job), and with ``tune``
    reduced to this model's search (the other models' spaces change nothing here; a model
    without one: no ``tune`` node, as before tuning existed)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in keys:
            cfg.pop(key, None)
        tune = cfg.pop("tune", None)
        model = OmegaConf.select(cfg, "model.name")
        if tune is not None and tune.get("models") and tune.models.get(model) is not None:
            cfg.tune = {"valid_fraction": tune.valid_fraction,
                        "models": {model: tune.models[model]}}
    return OmegaConf.to_container(cfg, resolve=True)


def flat_params(cfg: DictConfig) -> dict[str, object]:
    """The resolved config (without hydra/paths) as dotted keys."""
    out: dict[str, object] = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = node

    walk(_resolved_without(cfg, "paths", "hydra"), "")
    return out


def grid_hash(cfg: DictConfig) -> str:
    """Identifies a grid point: everything but where things are written and how they are
    tracked."""
    return config_hash(_resolved_without(cfg, "paths", "logger", "hydra"))


# ----------------------------------------------------------------- the parts, one by one
FEATURES_DIR = Path(__file__).resolve().parents[1] / "conf" / "features"


def _feature_set(cfg: DictConfig, task: Task, name: object) -> tuple[Any, dict]:
    """(unfitted featurizer, plain values) of ``conf/features/<name>.yaml`` (a ``features``
    value of a search space), typed by the run's own features schema."""
    path = FEATURES_DIR / f"{name}.yaml"
    if not isinstance(name, str) or not path.is_file():
        known = sorted(p.stem for p in FEATURES_DIR.glob("*.yaml"))
        raise ValueError(f"tune space: features must name feature sets of conf/features "
                         f"({known}), got {name!r}")
    node = OmegaConf.load(path)
    with open_dict(node):
        node.pop("defaults", None)
    node = OmegaConf.merge(OmegaConf.structured(OmegaConf.get_type(cfg.features)), node)
    featurizer = task.featurizer(node)
    featurizer._validate_params()
    return featurizer, OmegaConf.to_container(node, resolve=True)


def _tuning(cfg: DictConfig, task: Task, cls: type[Runner], parts: Parts
            ) -> TuningSpec | None:
    """The model's search: ``tune.models.<model>`` of the preset, else the runner's own
    default (:meth:`~experiments.models.Runner.default_tuning`: OVR with ``threshold:
    null``), else None. Every value of the space is checked here (one at a time)."""
    node = cfg.get("tune")
    own = node.models.get(cfg.model.name) if node is not None and node.models else None
    default = cls.default_tuning(parts)
    if own is None and default is None:
        return None
    if own is not None:
        from experiments.schema import ModelTuneConfig

        try:  # the schema's keys and types (a typo fails here, listed with the others)
            own = OmegaConf.merge(OmegaConf.structured(ModelTuneConfig), own)
        except Exception as exc:  # omegaconf's ValidationError / ConfigKeyError
            raise ValueError(f"tune.models.{cfg.model.name}: {exc}".splitlines()[0]) from exc
        space = {k: tuple(v) for k, v in OmegaConf.to_container(own.space,
                                                                 resolve=True).items()}
        fraction, trials, seconds = node.valid_fraction, own.trials, own.seconds
        metric = own.metric or task.headline
        for k, v in (default or ({}, 0))[0].items():  # e.g. OVR's threshold, when null
            space.setdefault(k, v)
    else:
        (space, fraction), trials, seconds, metric = default, None, None, task.headline
    check_float("tune.valid_fraction", fraction, minimum=0.0, strict=True)
    if fraction >= 1.0:
        raise ValueError(f"tune.valid_fraction must be in (0, 1), got {fraction}")
    if trials is not None:
        check_int("tune trials", trials, minimum=1)
    if seconds is not None:
        check_float("tune seconds", seconds, minimum=0.0, strict=True)
    free = cls.free_params(parts)
    allowed = sorted({*parts.params, *free, *([FEATURE_KEY] if "features" in cls.inputs
                                              else [])} - set(VOLATILE))
    if not space:
        raise ValueError(f"tune space of model {cfg.model.name} is empty; give "
                         f"{{param: [values]}} with param in {allowed}")
    feature_sets = {}
    for key, values in space.items():
        if key not in allowed:
            raise ValueError(f"tune space: {key!r} is not a tunable parameter of model "
                             f"{cfg.model.name}; tunable: {allowed}")
        if not values:
            raise ValueError(f"tune space: {key} has no value to try")
        for value in values:
            if key == FEATURE_KEY:
                feature_sets[value] = _feature_set(cfg, task, value)
            elif key == "beam_size":
                check_int("tune space: beam_size", value, minimum=1)
            else:
                try:
                    cls.check(replace(parts, params={**parts.params, key: value}))
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"tune space: {key}={value!r}: {exc}") from exc
    return TuningSpec(space=space, trials=trials, seconds=seconds, metric=metric,
                      valid_fraction=float(fraction), feature_sets=feature_sets)


def _model_params(cfg: DictConfig) -> dict[str, object]:
    """The model's hyperparameters as plain values: its config node without ``name`` and
    ``train_threshold`` (see :func:`_train_threshold`)."""
    params = OmegaConf.to_container(cfg.model, resolve=True)
    params.pop("name")
    params.pop("train_threshold", None)
    return params


def _train_threshold(cfg: DictConfig) -> float:
    """The level a prunable model is trained at: the sweep's shared ``train_threshold`` if
    set, except with matcher-aware negatives (``negative_sampling=man``): their pools come
    from a beam search over the already pruned upper levels, so a re-pruned ``man`` model is
    not the model trained at that threshold; it trains at the run's own ``threshold`` (and the
    training cache keys on it)."""
    m = cfg.model
    # a negative threshold is the model's own range error (Runner.check reports it)
    if m.train_threshold is None or m.get("negative_sampling") == "man" or m.threshold < 0:
        return float(m.threshold)
    if m.train_threshold > m.threshold:
        raise ValueError(f"model.train_threshold ({m.train_threshold}) must be <= "
                         f"model.threshold ({m.threshold}): pruning only removes weights")
    return float(m.train_threshold)


def _indexer_params(cfg: DictConfig) -> dict[str, object]:
    """The fields of the chosen indexer's ``Params`` dataclass: all that reaches it."""
    name = cfg.indexer.name
    if name not in xmr.INDEXERS:
        raise ValueError(f"unknown indexer {name!r}; known: {sorted(xmr.INDEXERS)}")
    return {f.name: cfg.indexer[f.name] for f in fields(xmr.INDEXERS[name].Params)}


def _indexer(cfg: DictConfig):
    """The (not yet built) indexer of ``cfg.indexer``, checked by its own ``validate()``."""
    cls = xmr.INDEXERS[cfg.indexer.name]
    n_jobs = OmegaConf.select(cfg, "model.n_jobs", default=-1)
    accepted = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in _indexer_params(cfg).items() if k in accepted}
    indexer = cls(**kwargs, seed=cfg.seed, n_jobs=n_jobs)
    indexer.validate()
    return indexer


def _label_embedding(cfg: DictConfig, indexer) -> str | None:
    """``indexer.label_embedding``, checked; None for an indexer that reads only the label
    strings (the trie)."""
    if not indexer.reads_embedding:
        return None
    value = cfg.indexer.label_embedding
    if value not in LABEL_EMBEDDINGS:
        raise ValueError(f"indexer.label_embedding must be one of {LABEL_EMBEDDINGS}, got "
                         f"{value!r}")
    return value


def _check_eval(ev) -> None:
    check_int("beam_size", ev.beam_size, minimum=1)
    check_int("topk", ev.topk, minimum=1)
    check_int("latency_min_queries", ev.latency_min_queries, minimum=1)
    check_int("latency_max_queries", ev.latency_max_queries, minimum=ev.latency_min_queries)
    check_int("latency_warmup", ev.latency_warmup, minimum=0)
    check_int("n_prediction_samples", ev.n_prediction_samples, minimum=0)
    check_int("n_suggestions", ev.n_suggestions, minimum=1)
    check_choice("empty_prev", ev.empty_prev, EMPTY_PREV)


def _inference(cfg: DictConfig, parts: Parts) -> Inference:
    """The prediction settings of the run. QAC asks the beam search for ``beam_size ×
    indexer.max_leaf_size`` candidates (the paper's 10 × 100) before the prefix filter."""
    ev = cfg.eval
    return Inference(beam_size=int(ev.beam_size), post_processor=ev.post_processor,
                     n_suggestions=int(ev.n_suggestions),
                     candidates=int(ev.beam_size) * int(cfg.indexer.max_leaf_size),
                     empty_prev=ev.empty_prev,
                     skip_unmatched_prefix=bool(ev.skip_unmatched_prefix))


def _model_key(cfg: DictConfig, cls: type[Runner], parts: Parts) -> dict:
    """What determines a trained model besides the data: seed, the model's training
    parameters (never ``n_jobs``-like settings, never the pruning threshold of a prunable
    model, which re-prunes, never a prediction setting), and the features and indexer
    parameters only where the model uses them."""
    model = {"name": cfg.model.name, **parts.params}
    if cls.prunable:  # trained at train_threshold, re-pruned to each run's threshold
        model["threshold"] = parts.train_threshold
    for volatile in VOLATILE:
        model.pop(volatile, None)
    key = {"task": cfg.task, "model": model, "seed": cfg.seed}
    if "features" in cls.inputs:
        key["features"] = OmegaConf.to_container(cfg.features, resolve=True)
    if "indexer" in cls.inputs:
        key["indexer"] = {"name": cfg.indexer.name, **_indexer_params(cfg),
                          "label_embedding": parts.label_embedding}
    return key


def _hydra_runtime() -> tuple[dict | None, Path | None, list[str], str | None]:
    """(launcher config, job output folder, the job's overrides, sweep id) of the Hydra job
    running now; Nones and [] outside one."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None, None, [], None
    hc = HydraConfig.get()
    launcher = OmegaConf.to_container(hc.launcher, resolve=True)
    sweep_id = (Path(hc.sweep.dir).name if hc.mode is not None
                and hc.mode.name == "MULTIRUN" else None)
    return launcher, Path(hc.runtime.output_dir), list(hc.overrides.task), sweep_id


def data_spec(cfg: DictConfig) -> DataSpec:
    """The ``data`` group and where it is read from and cached."""
    d, paths = cfg.data, cfg.paths
    return DataSpec(name=d.name, loader=d.loader, options=OmegaConf.to_object(d.options),
                    options_dict=OmegaConf.to_container(d.options, resolve=True),
                    data_dir=paths.data_dir, cache_dir=paths.cache_dir)


def _tracking(cfg: DictConfig) -> TrackingSpec:
    lg = cfg.logger
    return TrackingSpec(enabled=lg.name == "mlflow", uri=lg.tracking_uri,
                        experiment=experiment_name(cfg), preset=cfg.get("experiment_name"),
                        log_dir=cfg.paths.log_dir, skip_finished=bool(lg.skip_finished),
                        system_metrics=bool(lg.system_metrics),
                        system_metrics_interval_s=float(lg.system_metrics_interval_s))


def describe(cfg: DictConfig, task: Task, overrides: list[str], sweep_id: str | None) -> str:
    """The run description (MLflow's ``mlflow.note.content``): the grid point in words."""
    data = cfg.data.name + (f" ({cfg.data.options.size})"
                            if cfg.data.options.get("size") is not None else "")
    what = [f"model **{cfg.model.name}**", *task.describe(cfg)]
    preset = cfg.get("experiment_name")
    where = (f"grid point of the `{preset}` sweep {sweep_id}" if sweep_id
             else f"single run{f' of preset `{preset}`' if preset else ''}")
    shown = [o for o in overrides if not o.startswith(("paths.", "hydra", "logger."))]
    return (f"{task.title} on {data}: {', '.join(what)}; {where}.\n\n"
            f"Overrides: `{' '.join(shown) or '(none)'}`")


# ------------------------------------------------------------------------------ resolve
class _Problems:
    """Collects "<group>: <message>" for every failing check (each message once)."""

    def __init__(self):
        self.items: list[str] = []

    def check(self, group: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (TypeError, ValueError) as exc:
            if not any(p.endswith(f": {exc}") for p in self.items):
                self.items.append(f"{group}: {exc}")
        return None


def _resolve(cfg: DictConfig) -> tuple[JobSpec | None, list[str]]:
    problems = _Problems()
    problems.check("seed", lambda: check_seed("seed", cfg.seed))
    task = problems.check("task", lambda: get_task(cfg.task))
    problems.check("eval", lambda: _check_eval(cfg.eval))
    dataset = problems.check("data", lambda: get_dataset(cfg.data.loader))
    if dataset is not None and task is not None and dataset.task != task.name:
        problems.items.append(
            f"task: data={cfg.data.name} is a {dataset.task!r} dataset but task={task.name!r}; "
            f"use task={dataset.task} (the presets set it)")
    cls = problems.check("model", lambda: runner_class(cfg.task, cfg.model.name))
    if task is None or cls is None:
        return None, problems.items

    parts = Parts(params=_model_params(cfg), seed=int(cfg.seed))
    if "features" in cls.inputs:
        parts.featurizer = problems.check("features", lambda: task.featurizer(cfg.features))
        if parts.featurizer is not None:  # the featurizer's own ranges
            problems.check("features", parts.featurizer._validate_params)
    if "indexer" in cls.inputs:
        parts.indexer = problems.check("indexer", lambda: _indexer(cfg))
        if parts.indexer is not None:
            parts.label_embedding = problems.check(
                "indexer", lambda: _label_embedding(cfg, parts.indexer))
    if cls.prunable:
        parts.train_threshold = problems.check("model", lambda: _train_threshold(cfg))
    if not (cls.prunable and parts.train_threshold is None):  # else reported just above
        problems.check("model", lambda: cls.check(parts))
    tuning = problems.check("tune", lambda: _tuning(cfg, task, cls, parts)) \
        if not problems.items else None
    if problems.items:
        return None, problems.items

    launcher, output_dir, overrides, sweep_id = _hydra_runtime()
    parts.sharding = shards.engine_of(launcher, output_dir)
    data = data_spec(cfg)
    spec = JobSpec(
        task=task, runner_cls=cls, parts=parts, inference=_inference(cfg, parts),
        eval=OmegaConf.to_object(cfg.eval),
        threshold=float(cfg.model.threshold) if cls.prunable else None,
        model_key=_model_key(cfg, cls, parts), data=data, point=task.point(cfg),
        run_name=cfg.logger.run_name or task.run_name(cfg),
        description=describe(cfg, task, overrides, sweep_id),
        tags={**task.tags(cfg), "model_kind": cls.kind}, config_hash=grid_hash(cfg),
        params=flat_params(cfg), tracking=_tracking(cfg),
        names={"data": data.name, "model": cfg.model.name, "task": task.name,
               "experiment": str(cfg.get("experiment_name"))},
        tuning=tuning)
    return spec, []


def resolve(cfg: DictConfig) -> JobSpec:
    """The :class:`JobSpec` of a composed config; :class:`ConfigValueError` listing every
    out-of-range value otherwise."""
    spec, problems = _resolve(cfg)
    if problems:
        raise ConfigValueError("config values out of range:\n  " + "\n  ".join(problems))
    return spec


def config_problems(cfg: DictConfig) -> list[str]:
    """Every value of ``cfg`` outside what the library accepts, as "<group>: <message>"."""
    return _resolve(cfg)[1]


def sweep_points(base: dict[str, list[str]]) -> list[dict[str, str]]:
    """One override set per swept value (the other keys at their first value): every value
    gets checked without enumerating the whole grid."""
    first = {k: v[0] for k, v in base.items()}
    points = [first]
    for key, values in base.items():
        points += [{**first, key: v} for v in values[1:]]
    return points
