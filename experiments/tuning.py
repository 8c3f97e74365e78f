"""One tuning mechanism for every model of a comparison (issue 24): a declared search space per
model (``tune.models.<model>`` in the preset, :class:`experiments.spec.TuningSpec`), one
validation split carved from the training rows (:func:`carve_validation`: the same rows for
every model of a run's data and seed), a plain grid (or a seeded random subset of it within
the budget), selection by the metric on that split, then a refit on all training rows with
the chosen values (:func:`chosen_spec`, trained through the training cache like any run).

What costs no retraining is not retrained: a runner's :meth:`~experiments.models.Runner.
free_params` (XR-Linear's and OVR's pruning threshold: trained once at the space's smallest
and re-pruned; the beam width: a prediction setting) vary innermost over one trained model.
A neural model early-stops on the validation split in every trial; its refit trains the
chosen trial's best number of epochs on all training rows (no rows held out).

The search runs once per (dataset, model, seed, space, budget, metric, split) and is cached
as a JSON under ``paths.cache_dir/tuning``; the test split is never part of it (the search
sees a dataset holding only the carved training rows). A search stopped part-way (a
session's end, a crash) resumes: the finished trials are kept beside the cache entry
(``<key>.partial/trials.json``) and not run again, and a neural trial stopped mid-training
resumes at its next epoch (its per-epoch checkpoint is in the same folder). The job logs the result
(:func:`log_fields`): ``tuning.json`` (every trial's values, validation metric and seconds,
the choice), run params ``tuned.<param>``, metrics ``tuning_trials`` and ``tuning_s``.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import shutil
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from baselines._errors import CheckpointError
from experiments.code_version import code_version
from experiments.datacache import config_hash
from experiments.spec import FEATURE_KEY, VOLATILE, JobSpec
from experiments.training import _file_lock

log = logging.getLogger(__name__)
TUNING_FILE = "tuning.json"  # the job's artifact
BEAM = "beam_size"  # a space key: the beam width (a prediction setting)


# ------------------------------------------------------------------- the validation split
def _take(split, rows: np.ndarray):
    """The rows ``rows`` of a split dataclass (every field: a list, a row-indexed matrix or
    None), as the same class."""
    values = {}
    for f in fields(split):
        v = getattr(split, f.name)
        if v is None:
            values[f.name] = None
        elif sp.issparse(v) or isinstance(v, np.ndarray):
            values[f.name] = v[rows]
        else:
            values[f.name] = [v[i] for i in rows]
    return type(split)(**values)


def validation_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation rows, remaining rows) of ``n`` training rows, both sorted: the first
    ``round(fraction * n)`` of a permutation seeded by ``seed`` (the rows
    ``baselines.ovr_linear.select_threshold`` held out)."""
    n_valid = int(round(fraction * n))
    if not 1 <= n_valid < n:
        raise ValueError(f"tune.valid_fraction={fraction} of {n} training rows leaves no "
                         f"training or no validation row; use a value in (0, 1)")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:n_valid]), np.sort(perm[n_valid:])


def carve_validation(ds, fraction: float, seed: int):
    """The search's dataset: ``train`` = the training rows outside the validation split,
    ``valid`` = ``test`` = the validation split (what trials early-stop on and are scored
    on). The dataset's own test (and valid) split is left out: the search cannot read it.
    Title rows (``info["title_rows"]``: title→product rows of ``title_as_input``) are never
    held out: the split is carved from the query rows, the titles stay in training."""
    train = ds.splits["train"]
    start, end = getattr(ds, "info", {}).get("title_rows", (train.n, train.n))
    queries = np.r_[0:start, end:train.n]
    valid, rest = validation_rows(queries.size, fraction, seed)
    valid, rest = queries[valid], np.sort(np.r_[queries[rest], start:end])
    held_out = _take(train, valid)
    return replace(ds, splits={"train": _take(train, rest), "valid": held_out,
                               "test": held_out})


# ---------------------------------------------------------------------------- the grid
def grid(spec: JobSpec) -> list[dict]:
    """The points tried, in order: the product of the space's values, the values that need
    no retraining innermost (one training serves them), cut to ``trials`` points by a seeded
    random subset (kept in grid order) when the grid is larger."""
    t = spec.tuning
    free = spec.runner_cls.free_params(spec.parts)
    keys = [k for k in t.space if k not in free] + [k for k in t.space if k in free]
    points = [dict(zip(keys, values, strict=True))
              for values in itertools.product(*(t.space[k] for k in keys))]
    if t.trials is not None and t.trials < len(points):
        rng = np.random.default_rng(spec.parts.seed)
        points = [points[i] for i in sorted(rng.choice(len(points), t.trials, replace=False))]
    return points


def _train_threshold(spec: JobSpec, value: float) -> float:
    """The threshold a free-threshold runner trains at to serve ``value`` and every other
    threshold of the space by re-pruning: the smallest of them (and of the run's own)."""
    base = [spec.parts.train_threshold] if spec.parts.train_threshold is not None else []
    return float(min([*spec.tuning.space["threshold"], *base, value]))


def apply(spec: JobSpec, values: dict, *, stop_on: str, train_at: float | None = None
          ) -> JobSpec:
    """``spec`` with ``values`` set: model parameters, ``features`` (a feature-set name),
    ``beam_size``; ``threshold`` trained at ``train_at`` when given (re-pruned to the value
    by the caller or the training cache). ``stop_on``: the neural models' early stopping
    (:class:`~experiments.models.Parts`). The training key follows every change."""
    parts, t = spec.parts, spec.tuning
    params = dict(parts.params)
    key = copy.deepcopy(spec.model_key)
    inference, threshold, featurizer = spec.inference, spec.threshold, parts.featurizer
    train_threshold = parts.train_threshold
    for name, value in values.items():
        if name == FEATURE_KEY:
            featurizer, key["features"] = t.feature_sets[value]
        elif name == BEAM:
            candidates = inference.candidates
            if candidates is not None:  # QAC: beam_size x max_leaf_size candidates
                candidates = candidates // inference.beam_size * int(value)
            inference = replace(inference, beam_size=int(value), candidates=candidates)
        else:
            params[name] = value
            if name not in VOLATILE:
                key["model"][name] = value
    if "threshold" in values:
        trained_at = float(values["threshold"] if train_at is None else train_at)
        if spec.runner_cls.prunable:  # trained at train_threshold, re-pruned to threshold
            threshold = params["threshold"] = float(values["threshold"])
            train_threshold = trained_at
        else:
            params["threshold"] = trained_at
        key["model"]["threshold"] = trained_at
    if stop_on != "own":
        key["stop_on"] = stop_on
    parts = replace(parts, params=params, featurizer=copy.deepcopy(featurizer),
                    train_threshold=train_threshold, stop_on=stop_on)
    return replace(spec, parts=parts, inference=inference, threshold=threshold,
                   model_key=key)


# -------------------------------------------------------------------------- the search
def cache_key(spec: JobSpec, dataset_key: str) -> dict:
    """What determines a search's outcome: the data, the untuned model (its training key),
    the space and budget, the metric, the split, the prediction settings it scores with, and
    the code that trains and scores (other code searches again, as it retrains)."""
    t = spec.tuning
    return {"dataset": dataset_key, **spec.model_key, "code": code_version(),
            "tuning": {"space": {k: list(v) for k, v in t.space.items()},
                       "features": {k: v[1] for k, v in t.feature_sets.items()},
                       "trials": t.trials, "seconds": t.seconds, "metric": t.metric,
                       "valid_fraction": t.valid_fraction},
            "inference": {"beam_size": spec.inference.beam_size,
                          "post_processor": spec.inference.post_processor}}


def _quick_eval(ev):
    """The run's eval settings without the latency protocol and samples (a trial is
    scored, not timed)."""
    return replace(ev, latency_min_queries=1, latency_max_queries=1, latency_warmup=0,
                   n_prediction_samples=0)


def _same_values(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                    default=str)


def run_search(spec: JobSpec, ds, work: Path | None = None) -> dict:
    """Every trial of ``spec.tuning`` on the validation split carved from ``ds``'s
    training rows; the outcome as plain values (what :data:`TUNING_FILE` holds).

    work : a folder for the search's progress (finished trials, neural checkpoints); a
        search given the folder of an earlier, stopped one keeps its finished trials and
        counts their seconds (None: nothing kept).
    """
    from xmr.warmup import warmup

    t = spec.tuning
    warmup()  # JIT load outside the timed trials
    t0 = time.perf_counter()
    progress = work / "trials.json" if work is not None else None
    earlier, earlier_s = [], 0.0
    if progress is not None and progress.is_file():
        saved = json.loads(progress.read_text())
        earlier, earlier_s = saved["trials"], float(saved["seconds"])
        log.info("tuning resumed: %d finished trials kept from %s", len(earlier), progress)

    def elapsed() -> float:
        return earlier_s + time.perf_counter() - t0

    def keep(trials: list[dict]) -> None:
        if progress is None:
            return
        progress.parent.mkdir(parents=True, exist_ok=True)
        tmp = progress.with_suffix(".tmp")
        tmp.write_text(json.dumps({"trials": trials, "seconds": elapsed()}, default=str))
        tmp.replace(progress)  # whole or absent

    vds = carve_validation(ds, t.valid_fraction, spec.parts.seed)
    free = spec.runner_cls.free_params(spec.parts)
    ev = _quick_eval(spec.eval)
    trials: list[dict] = []
    last: tuple[str, object] | None = None  # (training key hash, trained runner): the
    # free values of a grid run over one training (they vary innermost)
    points = grid(spec)
    stopped_by_budget = False
    for i, values in enumerate(points):
        # a trial scored before the search was stopped is kept (a failed one runs again:
        # its cause may have been mended); the budget then bounds the trials still to run
        done = next((tr for tr in earlier if tr["value"] is not None
                     and _same_values(tr["params"], values)), None)
        if done is not None:
            trials.append(done)
            continue
        if t.seconds is not None and i and elapsed() >= t.seconds:
            stopped_by_budget = True
            break
        s0 = time.perf_counter()
        train_at = (_train_threshold(spec, values["threshold"])
                    if "threshold" in values and "threshold" in free else None)
        tspec = apply(spec, values, stop_on="valid", train_at=train_at)
        key = config_hash(tspec.model_key)
        try:  # a value the data refuses (a threshold pruning every weight) loses the trial
            if last is None or last[0] != key:
                if last is not None and work is not None:  # its free values are done
                    shutil.rmtree(work / "checkpoints" / last[0], ignore_errors=True)
                last = None
                run = tspec.runner()
                if work is not None:
                    run.checkpoint_dir = work / "checkpoints" / key
                run.fit(vds)
                last = (key, run)
            run = last[1]
            if "threshold" in values and "threshold" in free:
                run = run.with_threshold(float(values["threshold"]))
            result = spec.task.evaluate(run, vds, tspec.inference, ev, trained=True)
        except CheckpointError:
            raise  # the checkpoint's fault, not the values': the user must act
        except ValueError as exc:
            log.warning("tuning trial %s failed: %s", values, exc)
            trials.append({"params": values, "value": None, "error": str(exc),
                           "seconds": time.perf_counter() - s0, "convergence": {}})
            keep(trials)
            continue
        if t.metric not in result.metrics:
            raise ValueError(f"tune metric {t.metric!r} is not a metric of task "
                             f"{spec.task.name}; known: {sorted(result.metrics)}")
        trials.append({"params": values, "value": float(result.metrics[t.metric]),
                       "seconds": time.perf_counter() - s0,
                       "convergence": run.convergence()})
        keep(trials)
        log.info("tuning trial %d/%d %s: valid %s %.4f", i + 1, len(points), values,
                 t.metric, trials[-1]["value"])
    scored = [i for i, trial in enumerate(trials) if trial["value"] is not None]
    if not scored:
        raise ValueError(f"every tuning trial failed: {trials[0]['error']}")
    best = scored[0]  # the first of equal values wins (the order of the space)
    for i in scored:
        if trials[i]["value"] > trials[best]["value"]:
            best = i
    return {"metric": t.metric, "valid_fraction": t.valid_fraction,
            "n_train": vds.splits["train"].n, "n_valid": vds.splits["valid"].n,
            "grid_size": len(points), "stopped_by_budget": stopped_by_budget,
            "trials": trials, "chosen_trial": best, "chosen": trials[best]["params"],
            "seconds": elapsed()}


def search(spec: JobSpec, ds, dataset_key: str) -> tuple[dict, bool]:
    """(the search's outcome, found in the cache): run once per :func:`cache_key`, under
    ``paths.cache_dir/tuning`` (one process searches, the others wait and read it)."""
    key = cache_key(spec, dataset_key)
    folder = Path(spec.data.cache_dir) / "tuning"
    path = folder / f"{config_hash(key)}.json"
    with _file_lock(folder / f"{path.stem}.lock"):
        if path.is_file():
            log.info("tuning cache hit: %s", path)
            return json.loads(path.read_text()), True
        work = folder / f"{path.stem}.partial"
        outcome = run_search(spec, ds, work)
        outcome["key"] = key
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(outcome, indent=2, default=str))
        tmp.replace(path)  # whole or absent: a crash never leaves half an outcome
        shutil.rmtree(work, ignore_errors=True)  # the outcome is cached now
    return outcome, False


def chosen_spec(spec: JobSpec, outcome: dict) -> JobSpec:
    """The final fit's spec: the chosen values, on all training rows. A neural model (its
    trial early-stopped) trains the chosen trial's best epoch count with nothing held out;
    a free threshold is trained at the space's smallest and re-pruned (one training per
    feature set serves a sweep's thresholds)."""
    values = dict(outcome["chosen"])
    conv = outcome["trials"][outcome["chosen_trial"]]["convergence"]
    stop_on = "own"
    if conv.get("best_epoch"):
        values["epochs"] = int(conv["best_epoch"])
        stop_on = "none"
    free = spec.runner_cls.free_params(spec.parts)
    train_at = (_train_threshold(spec, values["threshold"])
                if "threshold" in values and "threshold" in free
                and spec.runner_cls.prunable else None)
    return apply(spec, values, stop_on=stop_on, train_at=train_at)


def log_fields(spec: JobSpec, outcome: dict, cache_hit: bool
               ) -> tuple[dict[str, float], dict[str, object], dict[str, object]]:
    """(metrics, run params, artifacts) of a tuned run: ``tuning_trials``, ``tuning_s``,
    ``tuning_valid_score`` and the chosen trial's convergence (``best_epoch``,
    ``epochs_run``, ``epochs_cap_hit``: the refit trains a fixed epoch count), the runner's
    own (:meth:`~experiments.models.Runner.tuning_metrics`); ``tuned.<param>``;
    ``tuning.json``."""
    chosen = outcome["trials"][outcome["chosen_trial"]]
    metrics = {"tuning_trials": float(len(outcome["trials"])),
               "tuning_s": float(outcome["seconds"]),
               "tuning_valid_score": float(chosen["value"]),
               **{k: float(v) for k, v in chosen["convergence"].items()},
               **spec.runner_cls.tuning_metrics(outcome)}
    params = {f"tuned.{k}": v for k, v in outcome["chosen"].items()}
    artifact = {**outcome, "cache_hit": cache_hit}
    return metrics, params, {TUNING_FILE: artifact}
