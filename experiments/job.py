"""One Hydra job end to end, wrapped so that a failure is recorded (FAILED run + traceback,
metrics.json with the error) and never propagates to the sweep, and Ctrl-C ends the run as
KILLED before it propagates."""

from __future__ import annotations

import json
import logging
import math
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments.datacache import card_summary, prepare_dataset
from experiments.spec import DataSpec, JobSpec, resolve

log = logging.getLogger(__name__)


def _hydra_info() -> tuple[int | None, Path | None]:
    """(job number, sweep folder) in a multirun; (None, None) otherwise."""
    try:
        hc = HydraConfig.get()
    except ValueError:
        return None, None
    if hc.mode is not None and hc.mode.name == "MULTIRUN":
        return hc.job.num, Path(hc.sweep.dir)
    return None, None


def _job_overrides() -> list[str]:
    """This job's command-line overrides (sweep values filled in); [] outside Hydra."""
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def _show_card_once(card: dict, sweep_dir: Path | None) -> None:
    """The dataset summary, printed once per sweep (the first job to load the dataset claims
    a marker in the sweep folder; parallel jobs too), and always in the job's log file."""
    text = card_summary(card)
    log.debug("%s", text)
    if sweep_dir is not None:
        marker = sweep_dir / f".dataset-shown-{card.get('cache_key', card['name'])}"
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            return
    print(text, flush=True)


def load_data(data: DataSpec):
    return prepare_dataset(data.name, data.loader, data.options, data.options_dict,
                           data.data_dir, data.cache_dir)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str))


PER_QUERY = "per_query.parquet"  # one row per test query (analysis/load.py reads it)


def write_per_query(path: Path, columns: dict) -> None:
    """``per_query.parquet``: ``query_id`` (the test row, int32) + one float32 column per
    per-query metric (integer columns such as ``prefix_length`` as int32); no texts."""
    import numpy as np
    import pandas as pd

    n = len(next(iter(columns.values())))
    frame = {"query_id": np.arange(n, dtype=np.int32)}
    for name, values in columns.items():
        values = np.asarray(values)
        frame[name] = values.astype(np.int32 if values.dtype.kind in "iu" else np.float32)
    pd.DataFrame(frame).to_parquet(path, index=False)


def run_job(cfg: DictConfig) -> float:
    """One grid point: resolve → (skip if finished) → load → train (cached) → evaluate →
    write and log. Returns the headline metric (NaN when the job failed)."""
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    job_num, sweep_dir = _hydra_info()
    label = f"[job {job_num}]" if job_num is not None else "[run]"
    point, tracker = " ".join(_job_overrides()) or "(defaults)", None
    try:  # a bad config or store: this job FAILED (no run logged), the sweep goes on
        spec = resolve(cfg)
        point = spec.point
        if spec.tracking.enabled:
            from experiments.tracked import JobTracker

            tracker = JobTracker(spec, sweep_dir)
            done = tracker.finished()
            if done is not None:
                return _skipped(done, out_dir, label, point, sweep_dir, spec.task.headline)
            tracker.start(out_dir)
    except Exception as exc:
        _fail(exc, out_dir, label, point, None)
        _record(out_dir, sweep_dir)
        return math.nan

    error: BaseException | None = None
    try:
        result, hit, card = run_task(spec, out_dir, sweep_dir=sweep_dir,
                                     on_data=tracker.log_inputs if tracker else None)
        files = _write_outputs(out_dir, result)
        if tracker is not None:
            tracker.log_result(result, card, hit, out_dir, files)
        _print_result(label, spec, result)
        return headline(result.metrics, spec.task.headline)
    except KeyboardInterrupt as exc:
        error = exc
        raise
    except Exception as exc:  # one failing job never takes the sweep down
        from experiments.outcome import interrupted

        if interrupted():  # Ctrl-C inside a numba call surfaces as a SystemError
            error = KeyboardInterrupt()
            raise error from exc
        error = exc
        _fail(exc, out_dir, label, point, tracker)
        return math.nan
    finally:
        if tracker is not None:
            tracker.end(error)
        if not isinstance(error, KeyboardInterrupt):
            _record(out_dir, sweep_dir)


def _skipped(done, out_dir: Path, label: str, point: str, sweep_dir: Path | None,
             metric: str) -> float:
    """The grid point has a FINISHED run already: its metrics, nothing recomputed."""
    metrics = dict(done.data.metrics)
    _write_json(out_dir / "metrics.json", {**metrics, "status": "SKIPPED",
                                           "finished_run_id": done.info.run_id})
    print(f"{label} skipped, already FINISHED as run {done.info.run_id}: {point}", flush=True)
    _record(out_dir, sweep_dir)
    return headline(metrics, metric)


def _write_outputs(out_dir: Path, result) -> list[str]:
    """metrics.json, the artifacts and per_query.parquet in the job's folder; returns the
    names of the files besides metrics.json."""
    _write_json(out_dir / "metrics.json", result.metrics)
    for name, obj in result.artifacts.items():
        _write_json(out_dir / name, obj)
    files = list(result.artifacts)
    if result.per_query is not None:
        write_per_query(out_dir / PER_QUERY, result.per_query)
        files.append(PER_QUERY)
    return files


def _print_result(label: str, spec: JobSpec, result) -> None:
    metrics = result.metrics
    trained = "trained" if metrics.get("trained") else "reused model"
    quality = "  ".join(f"{name} {metrics[key]:.4f}" for name, key in spec.task.quality)
    # a tuned run's point is the search's starting config: say what was chosen
    tuned = " ".join(f"{k.removeprefix('tuned.')}={v}" for k, v in result.params.items()
                     if k.startswith("tuned."))
    print(f"{label} {quality}  p50 {metrics['latency_p50_ms']:.3f} ms  "
          f"p99 {metrics['latency_p99_ms']:.3f} ms  "
          f"train {metrics['train_time_s']:.1f} s ({trained})  | {spec.point}"
          + (f"  | tuned: {tuned}" if tuned else ""), flush=True)


def _record(out_dir: Path, sweep_dir: Path | None) -> None:
    """A single run reports its status to the entry point (a sweep reads its job folders)."""
    if sweep_dir is None:
        from experiments import outcome

        outcome.record_job(out_dir)


def _fail(exc: Exception, out_dir: Path, label: str, point: str, tracker) -> None:
    """A job failed: traceback.txt and metrics.json (status FAILED) in its folder, the
    traceback and config in MLflow, one line on stdout naming the error and the file."""
    tb = traceback.format_exc()
    (out_dir / "traceback.txt").write_text(tb)
    _write_json(out_dir / "metrics.json", {"status": "FAILED",
                                           "error": f"{type(exc).__name__}: {exc}"})
    if tracker is not None:
        tracker.log_failure(tb)
    print(f"{label} FAILED: {type(exc).__name__}: {exc}  | {point} "
          f"(traceback: {out_dir / 'traceback.txt'})", flush=True)


def run_task(spec: JobSpec, out_dir: Path, *, sweep_dir: Path | None = None,
             on_data: Callable[[dict], None] | None = None):
    """The job proper, the same for every task: load → train (cached) → evaluate.
    ``on_data(card)`` runs once the data is loaded; the dataset summary is printed once per
    sweep (``sweep_dir``). Returns (JobResult, dataset cache hit, dataset card)."""
    from experiments import training, tuning

    ds, card, _, hit = load_data(spec.data)
    _show_card_once(card, sweep_dir)
    _write_json(out_dir / "dataset_card.json", card)
    if on_data is not None:
        on_data(card)
    dataset_key = card.get("data_key", card["cache_key"])
    final, outcome = spec, None
    if spec.tuning is not None:  # search on validation (cached), refit with the choice
        outcome, tuning_hit = tuning.search(spec, ds, dataset_key)
        final = tuning.chosen_spec(spec, outcome)
    run, trained, key_hash = training.train(final, ds, dataset_key)
    result = spec.task.evaluate(run, ds, final.inference, spec.eval, trained=trained)
    result.tags = {"train_key": key_hash, "train_cache_hit": str(not trained).lower(),
                   "tuned": str(outcome is not None).lower(), **spec.tags, **result.tags}
    if outcome is not None:
        metrics, params, artifacts = tuning.log_fields(spec, outcome, tuning_hit)
        result.metrics |= metrics
        result.params |= params
        result.artifacts |= artifacts
    return result, hit, card


def headline(metrics: dict[str, float], name: str) -> float:
    """The value a sweep optimises (NaN when the job did not produce it)."""
    return float(metrics.get(name, math.nan))
